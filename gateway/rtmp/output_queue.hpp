// What a connection has yet to write, bounded in bytes for media. Control messages and commands
// are never dropped. Media beyond the byte bound is dropped a whole frame at a time: the queued
// media goes, and nothing more is taken until the next video keyframe (or, on a stream without
// video, the next audio message), so a slow player skips frames but never feeds its decoder half a
// GOP. Sequence headers and metadata are never dropped: a decoder needs them to resume. Essential
// messages have a bound of their own (the same size): a peer that lets them pile up past it (it
// reads nothing while its publisher repeats sequence headers, or while it sends commands) is
// `overflowed()`, and its connection is closed rather than its memory grown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "gateway/engine/media_class.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::rtmp {

using engine::media_class;

class output_queue {
public:
    explicit output_queue(std::size_t media_bound) : media_bound_(media_bound) {}

    void push(protocol::message m, media_class c);
    bool overflowed() const noexcept { return queued_bytes_ - queued_media_bytes_ > media_bound_; }

    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }
    std::size_t queued_bytes() const noexcept { return queued_bytes_; }

    // Moves up to `max_bytes` of messages (at least one) into `out`.
    void pop_batch(std::size_t max_bytes, std::vector<protocol::message>& out);

    std::uint64_t dropped_messages() const noexcept { return dropped_messages_; }
    std::uint64_t dropped_bytes() const noexcept { return dropped_bytes_; }
    bool skipping() const noexcept { return skipping_; }

private:
    struct item {
        protocol::message message;
        media_class cls;
    };

    void drop_queued_media();

    std::deque<item> items_;
    std::size_t media_bound_;
    std::size_t queued_bytes_ = 0;
    std::size_t queued_media_bytes_ = 0;
    std::uint64_t dropped_messages_ = 0;
    std::uint64_t dropped_bytes_ = 0;
    bool skipping_ = false;
    bool has_video_ = false;  // set by the first video message: then resuming waits for a keyframe
};

}  // namespace rtmpgate::gateway::rtmp
