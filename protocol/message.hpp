// An RTMP message as the chunk layer delivers it and takes it: header fields plus a payload that is
// immutable and reference-counted, so that one received media message can sit in every player's
// queue without a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace rtmpgate::protocol {

// RTMP 1.0 spec 5.4 (protocol control), 6.2 (user control), 7.1 (command, data, media, aggregate).
enum class message_type : std::uint8_t {
    set_chunk_size = 1,
    abort = 2,
    acknowledgement = 3,
    user_control = 4,
    window_ack_size = 5,
    set_peer_bandwidth = 6,
    audio = 8,
    video = 9,
    data_amf3 = 15,
    shared_object_amf3 = 16,
    command_amf3 = 17,
    data_amf0 = 18,
    shared_object_amf0 = 19,
    command_amf0 = 20,
    aggregate = 22,
};

// Immutable bytes shared by reference count. Empty payloads hold no allocation.
class shared_bytes {
public:
    shared_bytes() = default;
    // Takes `bytes` over (no copy).
    explicit shared_bytes(std::vector<std::uint8_t> bytes);
    // A new buffer of `size` octets, not initialised, in one allocation with its reference count
    // (what the chunk decoder fills chunk by chunk). `fill` points at it until it is shared: the
    // caller writes every octet through it before handing the result to anyone else.
    static shared_bytes allocate(std::size_t size, std::uint8_t*& fill) {
        shared_bytes out;
        if (size == 0) {
            fill = nullptr;
            return out;
        }
        auto buffer = std::make_shared_for_overwrite<std::uint8_t[]>(size);
        fill = buffer.get();
        out.data_ = std::shared_ptr<const std::uint8_t>(buffer, buffer.get());
        out.size_ = size;
        return out;
    }

    std::span<const std::uint8_t> span() const noexcept { return {data_.get(), size_}; }
    const std::uint8_t* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    long use_count() const noexcept { return data_.use_count(); }

private:
    std::shared_ptr<const std::uint8_t> data_;
    std::size_t size_ = 0;
};

struct message {
    std::uint32_t chunk_stream_id = 0;   // the chunk stream it arrived on, or the one to send it on
    std::uint32_t timestamp = 0;         // absolute, in milliseconds (wraps at 2^32)
    std::uint8_t message_type_id = 0;
    std::uint32_t message_stream_id = 0;
    shared_bytes payload;

    message_type type() const noexcept { return static_cast<message_type>(message_type_id); }
};

// Conventional chunk stream ids for what a server sends (as nginx-rtmp and ffmpeg use them).
namespace chunk_stream {
inline constexpr std::uint32_t control = 2;  // protocol control and user control, message stream 0
inline constexpr std::uint32_t command = 3;  // commands on message stream 0
inline constexpr std::uint32_t stream_command = 5;  // onStatus and data on a media stream
inline constexpr std::uint32_t audio = 6;
inline constexpr std::uint32_t video = 7;
}  // namespace chunk_stream

}  // namespace rtmpgate::protocol
