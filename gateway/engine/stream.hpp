// One live stream of the engine ("app/name"): its publisher, its players, and what a player that
// joins late needs first (metadata, sequence headers, the current GOP).
//
// Threads: a stream is reached from the publisher's strand and every player's strand, so its
// state is behind one mutex. Subscribers are called under that mutex and must only hand over to
// their own strand (a post, a lock of their own under which nothing else is taken); one received
// message is shared, never copied, by every subscriber.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/engine/media_class.hpp"
#include "gateway/engine/publisher_id.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::engine {

// How a message of a stream is treated by a slow player's queue: sequence headers and data are
// essential, video keyframes are where a decoder can start, the rest are plain frames.
media_class classify(const protocol::message& m);

class subscriber {
public:
    virtual ~subscriber() = default;
    // How the player is reached, for /metrics and the status page: "rtmp", "rtmps", "rtmpt",
    // "rtmpts", "http-flv", "ws-flv".
    virtual std::string_view transport() const noexcept { return "rtmp"; }
    // A media or data message for the player (timestamps as published; the player sets its own
    // message stream id). Called under the stream's lock: hand over, never block.
    virtual void deliver(const protocol::message& m, media_class c) = 0;
    // A publisher started on a stream the player was waiting for.
    virtual void on_publish_start() = 0;
    virtual void on_publish_stop() = 0;
    // The stream was dropped (POST /streams/<app>/<name>/drop on the admin listener): the
    // player's connection is to end. Called on any thread: hand over, never block.
    virtual void on_drop() = 0;
};

// Ends a publisher's connection when its stream is dropped; called on any thread, without the
// stream's lock: it must only hand over to the publisher's strand.
using publisher_drop = std::function<void()>;

// What stream::drop() ended.
struct drop_result {
    bool publisher = false;   // a publisher was on
    std::size_t players = 0;  // players on it (playing or waiting)
};

// Who is on a stream now (for /metrics).
struct stream_counts {
    bool published = false;   // a publisher is attached
    std::size_t players = 0;  // players attached: playing when published, waiting otherwise
};

struct stream_settings {
    bool gop_cache = true;
    std::size_t gop_cache_max_bytes = 16 << 20;
};

class stream {
public:
    stream(std::string key, stream_settings settings);

    const std::string& key() const noexcept { return key_; }

    // False when another publisher holds the stream (NetStream.Publish.BadName). `drop` ends the
    // publisher's connection should the stream be dropped.
    bool attach_publisher(publisher_id owner, publisher_drop drop = {});
    // Does nothing unless `owner` is the stream's publisher.
    void detach_publisher(publisher_id owner);

    // A message from the publisher: audio, video or a data message other than metadata.
    void publish(const protocol::message& m);
    // onMetaData (already stripped of @setDataFrame): kept for late joiners and passed on.
    void publish_metadata(const protocol::message& m);

    // Adds a player. When a publisher is on, `initial` gets what it needs first and the result
    // is true; otherwise the player waits for on_publish_start.
    bool subscribe(std::shared_ptr<subscriber> s, std::vector<protocol::message>& initial);
    void unsubscribe(const subscriber* s);

    // Asks the publisher's connection and every player's to end (each leaves the stream from its
    // own strand as it ends, as when it closes by itself).
    drop_result drop();

    bool unused() const;  // no publisher and no player: the registry may forget it
    std::size_t subscriber_count() const;
    // Read under the stream's lock when asked (a /metrics scrape); nothing is counted as media
    // flows.
    stream_counts counts() const;

private:
    void snapshot(std::vector<protocol::message>& out) const;  // caller holds mutex_
    void cache(const protocol::message& m, media_class c);

    const std::string key_;
    const stream_settings settings_;
    mutable std::mutex mutex_;
    std::optional<publisher_id> publisher_;
    publisher_drop publisher_drop_;  // while publisher_ is set
    std::vector<std::shared_ptr<subscriber>> subscribers_;
    protocol::message metadata_;
    protocol::message video_header_;
    protocol::message audio_header_;
    bool has_metadata_ = false, has_video_header_ = false, has_audio_header_ = false;
    std::vector<protocol::message> gop_;
    std::size_t gop_bytes_ = 0;
};

}  // namespace rtmpgate::gateway::engine
