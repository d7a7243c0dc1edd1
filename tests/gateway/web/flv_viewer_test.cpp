#include "gateway/web/flv_viewer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace rtmpgate::gateway::web {
namespace {

using engine::media_class;
using protocol::message;
using protocol::message_type;
using clock = flv_viewer::clock;

message frame(message_type type, std::size_t size, std::uint8_t first) {
    message m;
    m.message_type_id = static_cast<std::uint8_t>(type);
    std::vector<std::uint8_t> payload(size, 0);
    payload[0] = first;
    m.payload = protocol::shared_bytes(payload);
    return m;
}

message keyframe(std::size_t size = 60) { return frame(message_type::video, size, 0x17); }
message inter(std::size_t size = 60) { return frame(message_type::video, size, 0x27); }

struct fixture : ::testing::Test {
    asio::io_context io;
    counters stats;

    std::shared_ptr<flv_viewer> make(std::size_t queue_bytes) {
        return std::make_shared<flv_viewer>(io.get_executor(), queue_bytes, false, stats);
    }

    // Runs next() to its end; the io_context runs until it does or `limit` passes.
    flv_viewer::wait_result next(flv_viewer& v, std::vector<message>& out,
                                 clock::duration until = std::chrono::milliseconds(0),
                                 std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        std::optional<flv_viewer::wait_result> r;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                r = co_await v.next(out, 1 << 20, clock::now() + until);
            },
            asio::detached);
        io.restart();
        io.run_for(limit);
        EXPECT_TRUE(r.has_value());
        return r.value_or(flv_viewer::wait_result::ended);
    }
};

TEST_F(fixture, initial_first_then_what_came_meanwhile) {
    auto v = make(1 << 20);
    EXPECT_EQ(v->transport(), "http-flv");
    v->deliver(inter(), media_class::frame);  // before start(): waits for the initial ones
    v->start({keyframe(70)});
    std::vector<message> out;
    EXPECT_EQ(next(*v, out), flv_viewer::wait_result::ready);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].payload.size(), 70u);
    EXPECT_EQ(out[1].payload.span()[0], 0x27);
    out.clear();
    EXPECT_EQ(next(*v, out), flv_viewer::wait_result::idle);
}

TEST_F(fixture, a_slow_viewer_drops_to_the_next_keyframe_and_counts_it) {
    auto v = make(150);
    v->start({});
    v->deliver(keyframe(), media_class::keyframe);
    v->deliver(inter(), media_class::frame);
    v->deliver(inter(), media_class::frame);  // past the bound: the queued media goes
    v->deliver(inter(), media_class::frame);  // skipped until a keyframe
    EXPECT_EQ(stats.media_dropped_messages.load(), 4u);
    EXPECT_EQ(stats.media_dropped_bytes.load(), 240u);
    v->deliver(keyframe(), media_class::keyframe);
    std::vector<message> out;
    EXPECT_EQ(next(*v, out), flv_viewer::wait_result::ready);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload.span()[0], 0x17);
    EXPECT_EQ(v->dropped_messages(), 4u);
}

TEST_F(fixture, essential_messages_past_the_bound_end_it) {
    auto v = make(100);
    v->start({});
    for (int i = 0; i < 3; ++i)
        v->deliver(frame(message_type::video, 60, 0x17), media_class::essential);
    std::vector<message> out;
    EXPECT_EQ(next(*v, out), flv_viewer::wait_result::ended);
    EXPECT_TRUE(v->overflowed());
    EXPECT_EQ(v->reason(), "output queue overflow");
}

TEST_F(fixture, a_delivery_from_another_thread_wakes_it) {
    auto v = make(1 << 20);
    v->start({});
    std::thread publisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        v->deliver(keyframe(), media_class::keyframe);
    });
    std::vector<message> out;
    const auto started = clock::now();
    EXPECT_EQ(next(*v, out, std::chrono::seconds(10)), flv_viewer::wait_result::ready);
    publisher.join();
    EXPECT_EQ(out.size(), 1u);
    EXPECT_LT(clock::now() - started, std::chrono::seconds(5));
}

TEST_F(fixture, the_first_reason_is_kept) {
    auto v = make(1 << 20);
    v->start({keyframe()});
    v->on_publish_stop();
    v->on_drop();
    v->shutdown();
    std::vector<message> out;
    EXPECT_EQ(next(*v, out), flv_viewer::wait_result::ended);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(v->reason(), "the publisher left");
    EXPECT_FALSE(v->overflowed());
}

TEST_F(fixture, a_shutdown_or_a_drop_posts_the_forced_end_hook_to_its_executor) {
    auto v = make(1 << 20);
    v->start({keyframe()});
    int forced = 0;
    v->on_forced_end([&] { ++forced; });
    v->on_publish_stop();  // an end from the stream, which the connection finishes cleanly
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(forced, 0);
    v->on_drop();
    EXPECT_EQ(forced, 0);  // posted, not called from the caller's thread
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(forced, 1);
    v->shutdown();
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(forced, 2);
    // Cleared by the connection before it goes: a late shutdown calls nothing.
    v->on_forced_end({});
    v->shutdown();
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(forced, 2);
}

TEST_F(fixture, end_if_waiting_ends_only_a_viewer_without_a_publisher) {
    auto playing = make(1 << 20);
    playing->start({keyframe()}, true);
    playing->end_if_waiting("no stream");
    std::vector<message> out;
    EXPECT_EQ(next(*playing, out), flv_viewer::wait_result::ready);
    auto waiting = make(1 << 20);
    waiting->start({}, false);
    waiting->end_if_waiting("no stream");
    out.clear();
    EXPECT_EQ(next(*waiting, out), flv_viewer::wait_result::ended);
    EXPECT_EQ(waiting->reason(), "no stream");
}

TEST_F(fixture, waits_for_a_publisher) {
    auto v = make(1 << 20);
    v->start({}, false);
    const auto wait = [&](clock::duration d) {
        std::optional<bool> r;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                r = co_await v->wait_for_publisher(clock::now() + d);
            },
            asio::detached);
        io.restart();
        io.run_for(std::chrono::seconds(5));
        EXPECT_TRUE(r.has_value());
        return r.value_or(false);
    };
    EXPECT_FALSE(wait(std::chrono::milliseconds(20)));
    std::thread publisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        v->on_publish_start();
    });
    EXPECT_TRUE(wait(std::chrono::seconds(10)));
    publisher.join();
    // A viewer started on a stream with a publisher does not wait.
    auto playing = make(1 << 20);
    playing->start({});
    v = playing;
    EXPECT_TRUE(wait(std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace rtmpgate::gateway::web
