// The engine's side of one client connection after its connect was routed to the engine: the
// NetConnection and NetStream commands of a live server, publishing into a stream and playing
// from one. Transport-agnostic: it sees messages and writes to an `output`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/engine/media_class.hpp"
#include "gateway/engine/stream_registry.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/counters.hpp"
#include "protocol/command.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::engine {

// Where a session's messages go: the connection's outgoing queue.
class output {
public:
    virtual ~output() = default;
    virtual void send(protocol::message m) = 0;  // never dropped; written without a flush()
    // Bounded per player, and written at the next flush() at the latest: media comes in bursts
    // (what one read of the publisher brought), written together.
    virtual void send_media(protocol::message m, media_class c) = 0;
    virtual void flush() = 0;
    virtual void close_after_flush() = 0;
    // The client was refused (what it asked has been answered with an error): count it as
    // `why`, then close as close_after_flush does, `reason` saying why in the closing log line.
    virtual void close_refused(refusal why, std::string reason) = 0;
    // The client was refused something it may ask again otherwise: count it as `why`.
    virtual void refused(refusal why) = 0;
};

struct session_settings {
    std::uint32_t chunk_size = 4096;
    std::uint32_t window_ack_size = 2500000;
    std::uint32_t peer_bandwidth = 2500000;
    std::size_t max_name_length = 1024;  // stream names of publish and play; longer: refused
};

class session : public std::enable_shared_from_this<session> {
public:
    // `strand`: the connection's; every call below is made on it. `peer`: the connection's
    // transport and client, for the streams it publishes and plays (the admin's /streams, the
    // viewers of /metrics).
    session(output& out, asio::any_io_executor strand, stream_registry& streams,
            session_settings settings, std::string log_id, publisher_info peer = {});
    ~session();

    // Answers connect: window, bandwidth, chunk size, then _result.
    void start(const protocol::connect_command& connect);
    // Every message after connect that is not protocol control. Input that cannot be parsed
    // returns its protocol error, and the connection is to end; nothing here throws.
    error_code on_message(const protocol::message& m);
    // The connection is ending: leave streams; no more output.
    void stop();
    // The next publish or play uses `name` (no query) in place of the one it names: what an
    // access hook answered (access/decision.hpp).
    void rename_next(std::string name) { renamed_ = std::move(name); }

    // The stream this session publishes on `message_stream_id`; null when it publishes none there.
    std::shared_ptr<stream> published_on(std::uint32_t message_stream_id);
    // True when the session publishes or plays (or waits to play) on `message_stream_id`.
    bool serves(std::uint32_t message_stream_id);

    // For the connection's closing log line.
    const char* role() const noexcept;
    std::string stream_name() const;

private:
    class player;
    struct binding {
        std::uint32_t message_stream_id = 0;
        enum class kind { none, publishing, playing } role = kind::none;
        std::shared_ptr<stream> target;
        std::shared_ptr<player> subscriber;
        bool receive_audio = true;
        bool receive_video = true;
        bool paused = false;
        bool wait_keyframe = false;  // after unpause: resume on a keyframe
    };
    static constexpr std::size_t max_streams_per_connection = 16;

    error_code on_command(const protocol::command& c, std::uint32_t message_stream_id);
    error_code on_publisher_media(binding& b, const protocol::message& m);
    void on_create_stream(const protocol::command& c);
    error_code on_publish(const protocol::command& c, std::uint32_t message_stream_id);
    error_code on_play(const protocol::command& c, std::uint32_t message_stream_id);
    // False, after answering with an error onStatus (`code`) and closing the connection, when
    // `name` is over settings_.max_name_length.
    bool name_fits(std::string_view command, std::string_view name, std::uint32_t message_stream_id,
                   const char* code);
    void on_close_stream(std::uint32_t message_stream_id);
    void release(binding& b);
    binding* find(std::uint32_t message_stream_id);

    // Player side, on the strand (posted by `player`).
    void deliver(std::uint32_t message_stream_id, protocol::message m, media_class c);
    void publish_started(std::uint32_t message_stream_id);
    void publish_stopped(std::uint32_t message_stream_id);
    void send_play_start(binding& b, std::vector<protocol::message> initial);
    // A stream of this session was dropped from the admin listener: the connection ends.
    void drop_by_admin();

    output* out_;
    asio::any_io_executor strand_;
    stream_registry& streams_;
    const publisher_id publisher_;  // this session's, for every stream it publishes
    const session_settings settings_;
    const std::string log_id_;
    const publisher_info peer_;
    std::string app_;
    double object_encoding_ = 0;
    std::vector<binding> bindings_;
    std::uint32_t next_stream_id_ = 1;
    std::string last_stream_name_;
    std::string renamed_;  // rename_next()
    binding::kind last_role_ = binding::kind::none;
};

}  // namespace rtmpgate::gateway::engine
