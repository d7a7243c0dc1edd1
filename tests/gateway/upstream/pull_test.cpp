// upstream::pulls on loopback sockets: a backend that answers as nginx-rtmp does (connect,
// createStream, play -> Play.Start, then the stream) and records what its players say, and
// engine subscribers of the pulled key.
#include "gateway/upstream/pull.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/rtmp/server_context.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::upstream {
namespace {

using bytes = std::vector<std::uint8_t>;
using protocol::amf_value;
using protocol::message;
using namespace std::chrono_literals;

message media(std::uint8_t type, bytes body, std::uint32_t timestamp) {
    message m;
    m.chunk_stream_id = type == 8 ? 6 : 7;
    m.message_type_id = type;
    m.message_stream_id = 1;
    m.timestamp = timestamp;
    m.payload = protocol::shared_bytes(body);
    return m;
}

// What the backend saw of one connection.
struct backend_session {
    std::vector<std::string> commands;  // in order
    std::string played;                 // play's name
    bool closed = false;                // the player closed the connection
};

// An nginx-rtmp of one application: each connection gets the server handshake, answers to
// connect and createStream, and for play: StreamBegin, Play.Start, then `stream` (metadata,
// sequence headers, frames) when `publishing`, or nothing more.
class fake_backend {
public:
    explicit fake_backend(asio::io_context& io)
        : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) {
        asio::co_spawn(io, accept(), [](const std::exception_ptr&) {});
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    void close() { acceptor_.close(); }

    bool publishing = true;
    bool has_stream = true;  // false: play is answered NetStream.Play.StreamNotFound (SRS, Wowza)
    std::vector<backend_session> sessions;

private:
    asio::awaitable<void> accept() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
            if (ec) co_return;
            sessions.emplace_back();
            asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket), sessions.size() - 1),
                           [](const std::exception_ptr&) {});
        }
    }

    asio::awaitable<void> serve(tcp::socket socket, std::size_t index) {
        protocol::handshake_server hs;
        protocol::chunk_decoder decoder;
        protocol::chunk_encoder encoder;
        bytes buffer(8192), out;
        std::vector<message> received;
        for (;;) {
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
            if (ec) {
                sessions[index].closed = true;
                co_return;
            }
            std::span<const std::uint8_t> in(buffer.data(), n);
            out.clear();
            if (!hs.done()) {
                protocol::error_code perr;
                in = in.subspan(hs.feed(in, out, perr));
            }
            received.clear();
            protocol::error_code perr;
            decoder.feed(in, received, perr);
            for (const auto& m : received) answer(m, encoder, out, sessions[index]);
            if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
        }
    }

    void answer(const message& m, protocol::chunk_encoder& e, bytes& out, backend_session& s) {
        auto c = protocol::parse_command(m);
        if (!c) return;
        s.commands.push_back(c->name);
        if (c->name == "connect") {
            e.encode(protocol::make_window_ack_size(5000000), out);
            e.encode(
                protocol::make_set_peer_bandwidth(5000000, protocol::peer_bandwidth_limit::dynamic),
                out);
            e.encode(protocol::make_connect_result(c->transaction_id, 0), out);
        } else if (c->name == "createStream") {
            const amf_value id[] = {amf_value::make_number(1)};
            e.encode(protocol::make_result(c->transaction_id, id), out);
        } else if (c->name == "play") {
            s.played = protocol::parse_play(*c)->name;
            if (!has_stream) {
                e.encode(protocol::make_on_status(1, "error", "NetStream.Play.StreamNotFound",
                                                  "No such stream"),
                         out);
                return;
            }
            e.encode(protocol::make_user_control(protocol::user_control_event::stream_begin, 1),
                     out);
            e.encode(protocol::make_on_status(1, "status", "NetStream.Play.Start", "Start live"),
                     out);
            if (!publishing) return;
            const amf_value meta[] = {
                amf_value::make_ecma_array({{"width", amf_value::make_number(640)}})};
            e.encode(protocol::make_data(5, 1, "onMetaData", meta), out);
            e.encode(media(9, {0x17, 0x00, 0, 0, 0, 1, 2, 3}, 0), out);  // AVC sequence header
            e.encode(media(8, {0xAF, 0x00, 0x12, 0x10}, 0), out);        // AAC sequence header
            e.encode(media(9, {0x17, 0x01, 0, 0, 0, 9, 9}, 0), out);     // keyframe
            e.encode(media(8, {0xAF, 0x01, 7, 7}, 20), out);
            e.encode(media(9, {0x27, 0x01, 0, 0, 0, 8}, 40), out);
        }
    }

    tcp::acceptor acceptor_;
};

// An engine player of the pulled key.
class player final : public engine::subscriber {
public:
    void deliver(const message& m, engine::media_class) override {
        std::lock_guard lock(mutex_);
        types.push_back(m.message_type_id);
    }
    void on_publish_start() override {
        std::lock_guard lock(mutex_);
        ++starts;
    }
    void on_publish_stop() override {
        std::lock_guard lock(mutex_);
        ++stops;
    }
    void on_drop() override {}

    std::mutex mutex_;
    std::vector<std::uint8_t> types;
    int starts = 0, stops = 0;
};

class upstream_pulls : public testing::Test {
protected:
    explicit upstream_pulls(config c = {})
        : context_(std::move(c)), pulls_(context_, io_), backend_(io_) {
        via_.app = "live";
        via_.to_engine = false;
        via_.backend.host = "127.0.0.1";
        via_.backend.port = backend_.port();
        context_.pulls = &pulls_;
    }

    // Runs the io_context until `done` or `timeout`.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() >= until) return false;
            run_for(5ms);
        }
        return true;
    }

    // io_context::run_for, also when the io_context ran out of work before (which stops it).
    void run_for(std::chrono::milliseconds d) {
        if (io_.stopped()) io_.restart();
        io_.run_for(d);
    }

    // What a lease's holder was told of a pull that failed before its stream started.
    struct told_log {
        std::mutex mutex;
        std::vector<pulls::not_started> told;
        std::size_t size() {
            std::lock_guard lock(mutex);
            return told.size();
        }
    };
    static pulls::not_started_fn record(const std::shared_ptr<told_log>& log) {
        return [log](const pulls::not_started& n) {
            std::lock_guard lock(log->mutex);
            log->told.push_back(n);
        };
    }

    std::shared_ptr<player> subscribe(const std::string& key) {
        auto p = std::make_shared<player>();
        std::vector<message> initial;
        bool playing = false;
        context_.streams.subscribe(key, p, initial, playing);
        return p;
    }

    asio::io_context io_;
    server_context context_;
    pulls pulls_;
    fake_backend backend_;
    route via_;
};

TEST_F(upstream_pulls, viewers_of_one_stream_share_one_play_closed_after_the_last_leaves) {
    testing::internal::CaptureStderr();
    auto first = pulls_.hold(via_, "live", "a?token=1");
    auto second = pulls_.hold(via_, "live", "a?token=1");
    ASSERT_TRUE(first && second);
    auto viewer = subscribe("live/a?token=1");
    ASSERT_TRUE(run_until([&] {
        std::lock_guard lock(viewer->mutex_);
        return viewer->types.size() == 6;
    })) << testing::internal::GetCapturedStderr();
    {
        std::lock_guard lock(viewer->mutex_);
        EXPECT_EQ(viewer->starts, 1);
        // onMetaData (as a player gets it), the sequence headers and frames, nothing of the
        // play's own words (StreamBegin, onStatus).
        EXPECT_EQ(viewer->types, (std::vector<std::uint8_t>{18, 9, 8, 9, 8, 9}));
    }
    ASSERT_EQ(backend_.sessions.size(), 1u);
    EXPECT_EQ(backend_.sessions[0].played, "a?token=1");  // with its query
    EXPECT_EQ(context_.stats.pulls, 1u);
    EXPECT_EQ(context_.stats.pulls_open, 1u);
    EXPECT_EQ(pulls_.size(), 1u);
    EXPECT_EQ(context_.connections.size(), 1u);

    // Another stream is another pull, and so is the stream asked for with another query: the
    // backend may answer it otherwise.
    auto other = pulls_.hold(via_, "live", "b");
    ASSERT_TRUE(run_until([&] { return backend_.sessions.size() == 2; }));
    other.reset();
    auto asked_otherwise = pulls_.hold(via_, "live", "a?token=2");
    // Accepted first, then played.
    ASSERT_TRUE(run_until(
        [&] { return backend_.sessions.size() == 3 && !backend_.sessions[2].played.empty(); }));
    EXPECT_EQ(backend_.sessions[2].played, "a?token=2");
    asked_otherwise.reset();

    first.reset();
    run_for(100ms);
    EXPECT_FALSE(backend_.sessions[0].closed);  // one viewer left
    second.reset();
    // Within the linger a new viewer keeps the play.
    run_for(500ms);
    auto back = pulls_.hold(via_, "live", "a?token=1");
    run_for(1200ms);
    EXPECT_FALSE(backend_.sessions[0].closed);
    EXPECT_EQ(context_.stats.pulls, 3u);  // a?token=1, b and a?token=2
    const auto released = std::chrono::steady_clock::now();
    back.reset();
    ASSERT_TRUE(run_until([&] { return backend_.sessions[0].closed; }));
    const auto took = std::chrono::steady_clock::now() - released;
    EXPECT_GE(took, pulls::linger - 50ms);
    EXPECT_EQ(backend_.sessions[0].commands,
              (std::vector<std::string>{"connect", "createStream", "play", "closeStream",
                                        "deleteStream"}));
    ASSERT_TRUE(run_until([&] { return context_.stats.pulls_open == 0; }));
    {
        std::lock_guard lock(viewer->mutex_);
        EXPECT_EQ(viewer->stops, 1);
    }
    EXPECT_EQ(context_.stats.pull_failures, 0u);
    EXPECT_EQ(context_.connections.size(), 0u);
    EXPECT_EQ(pulls_.size(), 0u);
    const auto log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("pull 1: \"live/a?token=1\" from rtmp://127.0.0.1:" +
                       std::to_string(backend_.port()) + ": starting"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("pull 1: \"live/a?token=1\" from rtmp://127.0.0.1:" +
                       std::to_string(backend_.port()) + " ended: no viewers left (6 messages)"),
              std::string::npos)
        << log;
}

TEST_F(upstream_pulls, the_stream_is_published_at_its_first_message_not_at_play_start) {
    backend_.publishing = false;
    auto lease = pulls_.hold(via_, "live", "quiet");
    auto viewer = subscribe("live/quiet");
    ASSERT_TRUE(run_until(
        [&] { return !backend_.sessions.empty() && backend_.sessions[0].commands.size() == 3; }));
    run_for(200ms);
    std::lock_guard lock(viewer->mutex_);
    EXPECT_EQ(viewer->starts, 0);
    EXPECT_EQ(context_.stats.pulls_open, 1u);
}

TEST_F(upstream_pulls, a_failed_pull_is_tried_again_after_the_pause_only) {
    testing::internal::CaptureStderr();
    backend_.close();  // nobody listens on the port any more
    auto first_told = std::make_shared<told_log>();
    auto lease = pulls_.hold(via_, "live", "x", record(first_told));
    ASSERT_TRUE(run_until([&] { return context_.stats.pull_failures == 1; }));
    const auto failed = std::chrono::steady_clock::now();
    // Its viewer is told at once, as a failure of the backend's.
    ASSERT_EQ(first_told->size(), 1u);
    EXPECT_TRUE(first_told->told[0].backend_failed);
    EXPECT_EQ(first_told->told[0].reason, "connect: Connection refused");
    // The next viewers get a new pull, which waits for the pause before it dials.
    auto later_told = std::make_shared<told_log>();
    auto again = pulls_.hold(via_, "live", "x", record(later_told));
    auto third = pulls_.hold(via_, "live", "x", record(later_told));
    run_for(300ms);
    EXPECT_EQ(context_.stats.pulls, 1u);
    EXPECT_EQ(context_.stats.pulls_open, 1u);  // waiting
    EXPECT_EQ(later_told->size(), 0u);
    ASSERT_TRUE(run_until([&] { return context_.stats.pull_failures == 2; }))
        << testing::internal::GetCapturedStderr();
    EXPECT_GE(std::chrono::steady_clock::now() - failed, pulls::retry_pause - 50ms);
    EXPECT_EQ(context_.stats.pulls, 2u);
    EXPECT_EQ(later_told->size(), 2u);  // both, once
    EXPECT_EQ(first_told->size(), 1u);
    const auto log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find(" failed: connect: Connection refused (0 messages)"), std::string::npos)
        << log;
}

TEST_F(upstream_pulls, a_stream_the_backend_does_not_have_is_told_as_its_answer) {
    backend_.has_stream = false;
    auto told = std::make_shared<told_log>();
    auto lease = pulls_.hold(via_, "live", "nothere", record(told));
    ASSERT_TRUE(run_until([&] { return told->size() == 1; }));
    EXPECT_FALSE(told->told[0].backend_failed);
    EXPECT_NE(told->told[0].reason.find("NetStream.Play.StreamNotFound"), std::string::npos)
        << told->told[0].reason;
    EXPECT_EQ(context_.stats.pull_failures, 1u);
}

TEST_F(upstream_pulls, shutdown_ends_a_pull_and_an_engine_route_has_none) {
    route engine;
    EXPECT_EQ(pulls_.hold(engine, "live", "a"), nullptr);
    auto lease = pulls_.hold(via_, "live", "s");
    ASSERT_TRUE(run_until([&] { return context_.stats.pulls == 1; }));
    context_.connections.shutdown_all();
    ASSERT_TRUE(run_until([&] { return context_.stats.pulls_open == 0; }));
    EXPECT_EQ(context_.stats.pull_failures, 0u);
    EXPECT_EQ(context_.streams.size(), 0u);
    lease.reset();  // after its pull has gone
    run_for(50ms);
}

config idle_config() {
    config c;
    c.limits.idle_timeout = 300ms;
    return c;
}

class upstream_pulls_idle : public upstream_pulls {
protected:
    upstream_pulls_idle() : upstream_pulls(idle_config()) {}
};

TEST_F(upstream_pulls_idle, a_stream_without_media_for_the_idle_timeout_ends_its_players) {
    testing::internal::CaptureStderr();
    auto told = std::make_shared<told_log>();
    auto lease = pulls_.hold(via_, "live", "i", record(told));
    auto viewer = subscribe("live/i");
    // Six messages, then the backend says nothing more (and keeps the connection).
    ASSERT_TRUE(run_until([&] { return context_.stats.pull_failures == 1; }))
        << testing::internal::GetCapturedStderr();
    {
        std::lock_guard lock(viewer->mutex_);
        EXPECT_EQ(viewer->starts, 1);
        EXPECT_EQ(viewer->stops, 1);
        EXPECT_EQ(viewer->types.size(), 6u);
    }
    // The stream had started: its players heard of the end from it (stops), not from the pull.
    EXPECT_EQ(told->size(), 0u);
    EXPECT_EQ(context_.stats.timeouts.get(deadline_error::backend_idle), 1u);
    EXPECT_EQ(context_.stats.pulls_open, 0u);
    ASSERT_TRUE(run_until([&] { return backend_.sessions[0].closed; }));
    const auto log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("failed: no media from the backend for 300ms (6 messages)"),
              std::string::npos)
        << log;
}

TEST_F(upstream_pulls_idle, a_play_started_without_media_is_told_as_the_backends_answer) {
    // nginx-rtmp's play of a stream nobody publishes: Play.Start, then nothing.
    backend_.publishing = false;
    auto told = std::make_shared<told_log>();
    auto lease = pulls_.hold(via_, "live", "nobody", record(told));
    ASSERT_TRUE(run_until([&] { return told->size() == 1; }));
    EXPECT_FALSE(told->told[0].backend_failed);
    EXPECT_EQ(told->told[0].reason, "no media from the backend for 300ms");
}

}  // namespace
}  // namespace rtmpgate::gateway::upstream
