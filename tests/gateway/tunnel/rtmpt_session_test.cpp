#include "gateway/tunnel/rtmpt_session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rtmpgate::gateway::tunnel {
namespace {

using bytes = std::vector<std::uint8_t>;
using accepted = rtmpt_session::accepted;

using namespace std::chrono_literals;
using clock = rtmpt_session::clock;

// A session with the RTMP side played by a coroutine that appends everything it reads to
// `delivered`; poll() runs whatever is ready (no timers are waited for), expires_within() runs
// the session's expiry timer in real time. Timers never fire early and handlers only run inside
// those calls, so a slow machine makes these tests slower, never wrong.
class tunnel_session : public testing::Test {
protected:
    tunnel_session() { start({}); }
    ~tunnel_session() override {
        s_->close("test over");
        poll();
    }

    void start(session_limits limits) {
        if (s_) {
            s_->close("restarted");
            poll();
        }
        delivered.clear();
        s_ = std::make_shared<rtmpt_session>("t", asio::make_strand(io_), limits);
        expired = false;
        s_->start_expiry([this](const std::string& id) {
            EXPECT_EQ(id, "t");
            EXPECT_FALSE(expired) << "told twice";
            expired = true;
        });
        asio::co_spawn(s_->strand(), read_all(s_, delivered), asio::detached);
        poll();
    }

    void poll() {
        io_.restart();  // the io_context stops when it runs out of work (the reader ended)
        io_.poll();
    }

    // Runs the io_context for up to `bound`; true when the session expired meanwhile.
    bool expires_within(clock::duration bound) {
        const auto until = clock::now() + bound;
        io_.restart();
        while (!expired && clock::now() < until)
            if (io_.run_one_until(until) == 0 && io_.stopped()) io_.restart();
        return expired;
    }

    static asio::awaitable<void> read_all(std::shared_ptr<rtmpt_session> s, bytes& into) {
        std::uint8_t buffer[4096];
        for (;;) {
            auto [ec, n] = co_await s->read_some(asio::buffer(buffer));
            if (ec) co_return;
            into.insert(into.end(), buffer, buffer + n);
        }
    }

    accepted send(std::uint64_t seq, bytes body) {
        const auto a = s_->accept(seq, std::move(body));
        poll();
        return a;
    }

    void refused(std::uint64_t seq) {
        s_->refused(seq);
        poll();
    }

    // Has the RTMP side write `out`; true when written at once.
    bool write(const bytes& out) {
        const asio::const_buffer buffers[] = {asio::buffer(out)};
        bool written = false;
        asio::co_spawn(
            s_->strand(),
            [&]() -> asio::awaitable<void> {
                auto [ec, n] = co_await s_->write(buffers);
                written = !ec && n == out.size();
            },
            asio::detached);
        poll();
        return written;
    }

    asio::io_context io_;
    std::shared_ptr<rtmpt_session> s_;
    bytes delivered;
    bool expired = false;  // the session told its registry to forget it
};

TEST_F(tunnel_session, delivers_in_sequence_order_exactly_once) {
    EXPECT_EQ(send(0, {0x03, 1}), accepted::fresh);  // C0 fixes where numbering starts
    EXPECT_EQ(send(2, {3}), accepted::fresh);        // ahead of a gap: held
    EXPECT_EQ(delivered, (bytes{0x03, 1}));
    EXPECT_EQ(send(2, {3}), accepted::duplicate);
    EXPECT_EQ(send(1, {2}), accepted::fresh);  // fills the gap; 2 follows
    EXPECT_EQ(delivered, (bytes{0x03, 1, 2, 3}));
    EXPECT_EQ(send(1, {2}), accepted::duplicate);
    EXPECT_EQ(send(3, {}), accepted::fresh);  // an /idle takes its number too
    EXPECT_EQ(send(4, {4}), accepted::fresh);
    EXPECT_EQ(delivered, (bytes{0x03, 1, 2, 3, 4}));
}

TEST_F(tunnel_session, the_body_starting_with_c0_is_first_whatever_its_number) {
    EXPECT_EQ(send(0, {}), accepted::fresh);   // a Flash-style /idle/0 before anything
    EXPECT_EQ(send(2, {7}), accepted::fresh);  // arrived ahead of the C0 body: waits
    EXPECT_TRUE(delivered.empty());
    EXPECT_EQ(send(1, {0x03}), accepted::fresh);
    EXPECT_EQ(delivered, (bytes{0x03, 7}));
}

TEST_F(tunnel_session, a_refused_number_can_be_retried) {
    send(0, {0x03});
    refused(1);
    EXPECT_EQ(send(1, {5}), accepted::fresh);
    EXPECT_EQ(send(2, {6}), accepted::fresh);
    EXPECT_EQ(delivered, (bytes{0x03, 5, 6}));
}

TEST_F(tunnel_session, a_refused_number_is_skipped_when_the_client_goes_on) {
    start({.gap_timeout = 50ms});
    send(0, {0x03});
    refused(1);
    EXPECT_EQ(send(2, {6}), accepted::fresh);
    EXPECT_EQ(delivered, (bytes{0x03, 6}));
    EXPECT_EQ(send(1, {5}), accepted::duplicate);  // too late now
    EXPECT_FALSE(expires_within(400ms));           // no gap left
    EXPECT_FALSE(s_->closed());
}

TEST_F(tunnel_session, two_refusals_in_a_row_are_both_skipped) {
    send(0, {0x03});
    refused(1);
    refused(2);
    EXPECT_EQ(send(3, {7}), accepted::fresh);
    EXPECT_EQ(delivered, (bytes{0x03, 7}));
}

TEST_F(tunnel_session, a_refusal_behind_held_bodies_releases_them) {
    send(0, {0x03});
    EXPECT_EQ(send(2, {7}), accepted::fresh);  // came first, on another connection
    refused(1);
    EXPECT_EQ(delivered, (bytes{0x03, 7}));
}

TEST_F(tunnel_session, an_unfilled_gap_fails_the_session) {
    start({.gap_timeout = 100ms});
    send(0, {0x03});
    const auto gap_opened = clock::now();
    send(2, {1});
    EXPECT_FALSE(expired);
    EXPECT_TRUE(expires_within(10s));
    EXPECT_GE(clock::now() - gap_opened, 100ms);
    EXPECT_TRUE(s_->closed());
    EXPECT_STREQ(s_->close_reason(), "sequence gap not filled in time");
    EXPECT_EQ(send(1, {2}), accepted::refused);
}

TEST_F(tunnel_session, requests_put_off_the_inactivity_timeout) {
    start({.inactivity_timeout = 600ms});
    send(0, {0x03});
    const auto started = clock::now();
    EXPECT_FALSE(expires_within(200ms));
    const auto last_request = clock::now();
    send(1, {});  // an /idle
    // Past the deadline the timer was first set for: it wakes, finds the request and sleeps on.
    EXPECT_FALSE(expires_within(started + 700ms - clock::now()));
    EXPECT_FALSE(s_->closed());
    EXPECT_TRUE(expires_within(10s));
    EXPECT_GE(clock::now() - last_request, 600ms);
    EXPECT_STREQ(s_->close_reason(), "inactivity timeout");
    EXPECT_EQ(send(2, {}), accepted::refused);
}

TEST_F(tunnel_session, held_bodies_are_bounded_in_bytes) {
    start({.max_pending_input = 1000});
    send(0, {0x03});
    EXPECT_EQ(send(2, bytes(600, 1)), accepted::fresh);
    EXPECT_EQ(send(3, bytes(600, 2)), accepted::refused);  // 1200 held: over the bound
    EXPECT_TRUE(s_->closed());
}

TEST_F(tunnel_session, a_closed_session_hands_out_its_last_output_then_refuses) {
    send(0, {0x03});
    const bytes last = {0x02, 0x00};
    ASSERT_TRUE(write(last));
    s_->close("rtmp side ended");
    poll();
    EXPECT_FALSE(expired);                        // kept for the client's next poll
    EXPECT_EQ(send(1, {}), accepted::duplicate);  // answered, nothing delivered
    bytes reply;
    s_->take_output(100, reply);
    EXPECT_EQ(reply, last);
    EXPECT_EQ(send(2, {}), accepted::refused);
    EXPECT_TRUE(expired);
}

TEST_F(tunnel_session, a_closed_session_keeps_its_last_output_for_closing_linger) {
    start({.closing_linger = 100ms});
    send(0, {0x03});
    ASSERT_TRUE(write({0x02, 0x00}));
    const auto closed = clock::now();
    s_->close("rtmp side ended");
    poll();
    EXPECT_FALSE(expired);
    EXPECT_TRUE(expires_within(10s));  // its client never came for it
    EXPECT_GE(clock::now() - closed, 100ms);
    EXPECT_TRUE(s_->has_output());
}

TEST_F(tunnel_session, a_session_closed_with_nothing_left_expires_at_once) {
    send(0, {0x03});
    s_->close("closed by client");
    poll();
    EXPECT_TRUE(expired);
}

}  // namespace
}  // namespace rtmpgate::gateway::tunnel
