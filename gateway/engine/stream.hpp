// One live stream of the engine ("app/name"): its publisher, its players, and what a player that
// joins late needs first (metadata, sequence headers, the current GOP).
//
// Threads: a stream is reached from the publisher's strand and every player's strand, so its
// state is behind one mutex. Subscribers are called under that mutex and must only hand over to
// their own strand (a post, a lock of their own under which nothing else is taken); one received
// message is shared, never copied, by every subscriber.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
    // A media or data message for the player (timestamps as published; the player sets its own
    // message stream id). Called under the stream's lock: hand over, never block.
    virtual void deliver(const protocol::message& m, media_class c) = 0;
    // A publisher started on a stream the player was waiting for.
    virtual void on_publish_start() = 0;
    virtual void on_publish_stop() = 0;
    // The stream was dropped (POST /streams/<app>/<name>/drop on the admin listener): the
    // player's connection is to end. Called on any thread: hand over, never block.
    virtual void on_drop() = 0;
    // What carries the player's media, for /metrics and the admin's /streams: one of
    // viewer_transports, or push_transport for a subscriber that is no viewer. Constant for the
    // subscriber's life.
    virtual std::string_view transport() const noexcept { return "rtmp"; }
};

// The transports of viewers counted apart (rtmpgate_viewers{transport=...}): an RTMP player says
// which of the four carries its connection, a web viewer (gateway/web/) how it gets its FLV.
inline constexpr std::array<std::string_view, 6> viewer_transports = {
    "rtmp", "rtmps", "rtmpt", "rtmpts", "http-flv", "ws-flv"};
// The transport of a subscriber that relays the stream elsewhere (upstream/push.cpp): no viewer.
inline constexpr std::string_view push_transport = "push";

// Who publishes a stream, as the admin's /streams shows it.
struct publisher_info {
    // "rtmp", "rtmps", "rtmpt" or "rtmpts"; "pull" for a backend's stream played for HTTP
    // viewers (upstream/pull.cpp); "" when not told
    std::string transport;
    // the client's address (client_address::to_string), or the backend a pull plays from; ""
    // when not told
    std::string address;
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
    // Viewers attached (playing or waiting) by viewer_transports, index for index; pushes and
    // other subscribers are not among them.
    std::array<std::size_t, viewer_transports.size()> viewers{};
};

// One stream at one moment, for the admin's /streams (stream::info).
struct stream_info {
    std::string key;  // "app/name"
    bool published = false;
    publisher_info publisher;                       // while published
    std::chrono::system_clock::time_point since{};  // the publish's start, while published
    std::chrono::steady_clock::duration uptime{};   // since then; 0 when not published
    std::string video_codec, audio_codec;           // "" until a message of the publish names it
    std::uint64_t bytes_in = 0;                     // payload octets published since `since`
    std::uint64_t bytes_out = 0;                    // and handed to subscribers (see stream)
    double bitrate_in = 0, bitrate_out = 0;         // bits per second, see stream::info
    // Subscribers by transport(), sorted by name, pushes among them as "push"; playing when
    // published, waiting otherwise.
    std::vector<std::pair<std::string, std::size_t>> players;
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
    // publisher's connection should the stream be dropped; `who` is for info().
    bool attach_publisher(publisher_id owner, publisher_drop drop = {}, publisher_info who = {});
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
    // What the stream is now, under its lock. The octets in and out are summed as the publish
    // path goes, under the lock it takes anyway: in, every payload published; out, that payload
    // times the subscribers it is handed to (what a slow player's queue drops later is not
    // subtracted). The bitrates are the octets' growth between the two latest calls at least a
    // second apart (the first such call measures from the publish's start), so that a page that
    // polls every few seconds sees the rate of its last interval; a call within a second of the
    // previous measure repeats its result. `now` is steady_clock::now() but in tests.
    stream_info info(std::chrono::steady_clock::time_point now) const;

private:
    void snapshot(std::vector<protocol::message>& out) const;  // caller holds mutex_
    void cache(const protocol::message& m, media_class c);
    void count(const protocol::message& m);  // caller holds mutex_

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

    // For info(), while a publisher is on (reset as one attaches).
    publisher_info publisher_info_;
    std::chrono::steady_clock::time_point started_{};
    std::chrono::system_clock::time_point started_wall_{};
    std::string video_codec_, audio_codec_;
    std::uint64_t bytes_in_ = 0, bytes_out_ = 0;
    // The last measure of info()'s bitrates: when, the octets then, the rates it gave.
    struct rate_sample {
        std::chrono::steady_clock::time_point at{};
        std::uint64_t bytes_in = 0, bytes_out = 0;
        double bitrate_in = 0, bitrate_out = 0;
    };
    mutable rate_sample sample_;
};

}  // namespace rtmpgate::gateway::engine
