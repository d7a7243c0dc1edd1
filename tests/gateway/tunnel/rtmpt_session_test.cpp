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
#include <tuple>
#include <vector>

#include "protocol/shared_bytes.hpp"

namespace rtmpgate::gateway::tunnel {
namespace {

using bytes = std::vector<std::uint8_t>;
using accepted = rtmpt_session::accepted;
using protocol::shared_bytes;

using namespace std::chrono_literals;
using clock = rtmpt_session::clock;

// The octets of `slices`, in order.
bytes flatten(const std::vector<output_slice>& slices) {
    bytes out;
    for (const auto& s : slices) {
        const auto* p = s.block.data() + s.offset;
        out.insert(out.end(), p, p + s.size);
    }
    return out;
}

// A session with the RTMP side played by a coroutine that appends everything it reads, with
// reads of `read_size` octets, to `delivered` (no reader when read_size is 0); poll() runs
// whatever is ready (no timers are waited for), expires_within() runs the session's expiry
// timer in real time. Timers never fire early and handlers only run inside those calls, so a slow
// machine makes these tests slower, never wrong.
class tunnel_session : public testing::Test {
protected:
    tunnel_session() { start({}); }
    ~tunnel_session() override {
        s_->close("test over");
        poll();
    }

    void start(session_limits limits, std::size_t read_size = 4096) {
        if (s_) {
            s_->close("restarted");
            poll();
        }
        delivered.clear();
        reads = 0;
        s_ = std::make_shared<rtmpt_session>("t", asio::make_strand(io_), limits);
        expired = false;
        s_->start_expiry([this](const std::string& id) {
            EXPECT_EQ(id, "t");
            EXPECT_FALSE(expired) << "told twice";
            expired = true;
        });
        if (read_size != 0)
            asio::co_spawn(s_->strand(), read_all(s_, read_size, delivered, reads), asio::detached);
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

    static asio::awaitable<void> read_all(std::shared_ptr<rtmpt_session> s, std::size_t size,
                                          bytes& into, std::size_t& reads) {
        bytes buffer(size);
        for (;;) {
            auto [ec, n] = co_await s->read_some(asio::buffer(buffer));
            if (ec) co_return;
            ++reads;
            into.insert(into.end(), buffer.begin(),
                        buffer.begin() + static_cast<std::ptrdiff_t>(n));
        }
    }

    // Runs what is ready, also after a poll() that found no work left and stopped the context.
    void run_ready() {
        io_.restart();
        io_.poll();
    }

    // The RTMP side's write, run until it completes or waits; `done` tells which.
    struct write_state {
        std::vector<asio::const_buffer> buffers;
        std::vector<shared_bytes> blocks;
        bool done = false;
        error_code ec;
        std::size_t n = 0;
    };
    std::shared_ptr<write_state> write(std::vector<asio::const_buffer> buffers,
                                       std::vector<shared_bytes> blocks = {}) {
        auto state = std::make_shared<write_state>();
        state->buffers = std::move(buffers);
        state->blocks = std::move(blocks);
        auto run = [s = s_, state]() -> asio::awaitable<void> {
            std::tie(state->ec, state->n) = co_await s->write(state->buffers, state->blocks);
            state->done = true;
        };
        asio::co_spawn(s_->strand(), std::move(run), asio::detached);
        run_ready();
        return state;
    }

    // Takes up to `max` pending octets, as a reply would.
    bytes take(std::size_t max) {
        std::vector<output_slice> slices;
        const auto n = s_->take_output(max, slices);
        run_ready();
        auto out = flatten(slices);
        EXPECT_EQ(out.size(), n);
        return out;
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
    std::size_t reads = 0;  // read_some calls that returned octets
    bool expired = false;   // the session told its registry to forget it
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
    std::vector<output_slice> reply;
    s_->take_output(100, reply);
    EXPECT_EQ(flatten(reply), last);
    EXPECT_EQ(send(2, {}), accepted::refused);
    EXPECT_TRUE(expired);
}

TEST_F(tunnel_session, a_closed_session_expires_once_its_last_output_is_taken) {
    send(0, {0x03});
    ASSERT_TRUE(write({0x02, 0x00}));
    s_->close("rtmp side ended");
    poll();
    EXPECT_FALSE(expired);
    std::vector<output_slice> reply;
    s_->take_output(1, reply);  // one octet of two: something is still left
    poll();
    EXPECT_FALSE(expired);
    s_->take_output(100, reply);
    poll();
    EXPECT_TRUE(expired);  // without waiting for another request or closing_linger
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

TEST_F(tunnel_session, expiry_listeners_are_told_once_after_the_registry_is) {
    int told = 0, told_late = 0;
    auto listener = std::make_shared<rtmpt_session::expiry_listener>(
        rtmpt_session::expiry_listener{io_.get_executor(), [&] { ++told; }});
    auto gone = std::make_shared<rtmpt_session::expiry_listener>(
        rtmpt_session::expiry_listener{io_.get_executor(), [&] { ADD_FAILURE() << "destroyed"; }});
    s_->add_expiry_listener(listener);
    s_->add_expiry_listener(listener);  // a connection coming back adds itself once
    s_->add_expiry_listener(gone);
    gone.reset();
    send(0, {0x03});
    poll();
    EXPECT_EQ(told, 0) << "not before the session expires";
    s_->close("closed by client");
    poll();
    ASSERT_TRUE(expired);
    EXPECT_EQ(told, 1);
    // Added after the expiry: told at once.
    s_->add_expiry_listener(std::make_shared<rtmpt_session::expiry_listener>(
        rtmpt_session::expiry_listener{io_.get_executor(), [&] { ++told_late; }}));
    run_ready();
    EXPECT_EQ(told_late, 1);
    EXPECT_EQ(told, 1);
}

// ---- input: /send bodies queued as they came, read with an offset into the first ----

TEST_F(tunnel_session, reads_of_any_size_see_the_bodies_in_order) {
    const bytes all = {0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for (std::size_t read_size = 1; read_size <= all.size() + 1; ++read_size) {
        start({}, read_size);
        EXPECT_EQ(send(0, {0x03, 1, 2}), accepted::fresh);
        EXPECT_EQ(send(1, {3}), accepted::fresh);
        EXPECT_EQ(send(2, {4, 5, 6, 7, 8}), accepted::fresh);
        EXPECT_EQ(send(3, {9, 10}), accepted::fresh);
        EXPECT_EQ(delivered, all) << read_size;
    }
}

TEST_F(tunnel_session, one_read_takes_from_several_bodies) {
    // Bodies that arrive while the RTMP side is busy are read together, not one read each.
    ASSERT_EQ(s_->accept(0, {0x03, 1}), accepted::fresh);
    ASSERT_EQ(s_->accept(1, {2, 3, 4}), accepted::fresh);
    ASSERT_EQ(s_->accept(2, {5}), accepted::fresh);
    io_.poll();
    EXPECT_EQ(delivered, (bytes{0x03, 1, 2, 3, 4, 5}));
    EXPECT_EQ(reads, 1u);
}

TEST_F(tunnel_session, input_is_waited_for_without_a_buffer_then_taken) {
    start({}, 0);  // the RTMP side below reads in two steps, as rtmp::connection does
    std::uint8_t buffer[4];
    error_code ec;
    EXPECT_EQ(s_->take_input(asio::buffer(buffer), ec), 0u);
    EXPECT_EQ(ec, asio::error::would_block);  // nothing there yet: no wait, no octet
    bool woken = false;
    error_code wait_ec;
    asio::co_spawn(
        s_->strand(),
        [&]() -> asio::awaitable<void> {
            wait_ec = co_await s_->wait_input();
            woken = true;
        },
        asio::detached);
    poll();
    EXPECT_FALSE(woken);
    EXPECT_EQ(send(0, {0x03, 1, 2, 3, 4, 5}), accepted::fresh);
    ASSERT_TRUE(woken);
    EXPECT_FALSE(wait_ec);
    EXPECT_EQ(s_->take_input(asio::buffer(buffer), ec), 4u);  // up to the buffer's size
    EXPECT_FALSE(ec);
    EXPECT_EQ(bytes(buffer, buffer + 4), (bytes{0x03, 1, 2, 3}));
    EXPECT_EQ(s_->take_input(asio::buffer(buffer), ec), 2u);
    EXPECT_EQ(bytes(buffer, buffer + 2), (bytes{4, 5}));
    s_->close("closed by client");
    EXPECT_EQ(s_->take_input(asio::buffer(buffer), ec), 0u);
    EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(tunnel_session, unread_input_is_bounded_in_bytes) {
    start({.max_pending_input = 1000}, 0);  // an RTMP side that reads nothing
    bytes first(600, 1);
    first[0] = 0x03;
    EXPECT_EQ(send(0, first), accepted::fresh);
    EXPECT_EQ(send(1, bytes(400, 2)), accepted::fresh);  // 1000 unread: at the bound
    EXPECT_FALSE(s_->closed());
    EXPECT_EQ(send(2, bytes(1, 3)), accepted::refused);  // 1001
    EXPECT_TRUE(s_->closed());
}

TEST_F(tunnel_session, held_bodies_and_unread_input_share_the_bound) {
    start({.max_pending_input = 1000}, 0);
    bytes first(600, 1);
    first[0] = 0x03;
    EXPECT_EQ(send(0, first), accepted::fresh);
    EXPECT_EQ(send(2, bytes(300, 2)), accepted::fresh);  // held: 600 unread + 300 held
    EXPECT_EQ(send(3, bytes(101, 3)), accepted::refused);
    EXPECT_TRUE(s_->closed());
}

TEST_F(tunnel_session, read_input_no_longer_counts) {
    start({.max_pending_input = 1000});
    bytes first(600, 1);
    first[0] = 0x03;
    EXPECT_EQ(send(0, first), accepted::fresh);
    EXPECT_EQ(send(1, bytes(600, 2)), accepted::fresh);  // the first 600 were read
    EXPECT_EQ(send(2, bytes(1000, 3)), accepted::fresh);
    EXPECT_FALSE(s_->closed());
    EXPECT_EQ(delivered.size(), 2200u);
}

// ---- output: slices of shared blocks, taken by replies without copying ----

// What rtmp::connection writes for two messages chunked at 4 octets: a header piece in its own
// transient buffer, then payload slices pointing into each message's shared payload, with a
// one-octet continuation header between them; then a plain write (a handshake, a backend's
// bytes) with no blocks.
class tunnel_output : public tunnel_session {
protected:
    tunnel_output() {
        std::uint8_t* fill = nullptr;
        a = shared_bytes::allocate(7, fill);
        for (std::uint8_t i = 0; i < 7; ++i) fill[i] = 0xa0 + i;
        b = shared_bytes::allocate(3, fill);
        for (std::uint8_t i = 0; i < 3; ++i) fill[i] = 0xb0 + i;
    }

    void write_messages() {
        const auto* pa = a.data();
        const auto* pb = b.data();
        auto w = write({asio::buffer(headers.data(), 4), asio::const_buffer(pa, 4),
                        asio::buffer(headers.data() + 4, 1), asio::const_buffer(pa + 4, 3),
                        asio::buffer(headers.data() + 5, 2), asio::const_buffer(pb, 3)},
                       {a, b});
        ASSERT_TRUE(w->done);
        ASSERT_FALSE(w->ec);
        ASSERT_EQ(w->n, 4u + 4 + 1 + 3 + 2 + 3);
        auto plain = write({asio::buffer(handshake)});
        ASSERT_TRUE(plain->done);
    }

    bytes expected() const {
        bytes e = {0x04, 0x00, 0x00, 0x07};
        e.insert(e.end(), a.data(), a.data() + 4);
        e.push_back(0xc4);
        e.insert(e.end(), a.data() + 4, a.data() + 7);
        e.insert(e.end(), {0x45, 0x00});
        e.insert(e.end(), b.data(), b.data() + 3);
        e.insert(e.end(), handshake.begin(), handshake.end());
        return e;
    }

    shared_bytes a, b;
    bytes headers = {0x04, 0x00, 0x00, 0x07, 0xc4, 0x45, 0x00};
    bytes handshake = {0x03, 0x11, 0x22};
};

TEST_F(tunnel_output, replies_split_at_every_offset_give_the_same_bytes) {
    const auto all = expected();
    for (std::size_t first = 0; first <= all.size(); ++first) {
        start({});
        write_messages();
        auto got = take(first);
        EXPECT_EQ(got.size(), first);
        EXPECT_EQ(s_->pending_output(), all.size() - first);
        const auto rest = take(all.size());
        got.insert(got.end(), rest.begin(), rest.end());
        EXPECT_EQ(got, all) << first;
        EXPECT_FALSE(s_->has_output());
    }
    // Octet by octet, and in replies of every size.
    for (std::size_t size = 1; size <= all.size(); ++size) {
        start({});
        write_messages();
        bytes got;
        while (s_->has_output()) {
            const auto part = take(size);
            ASSERT_EQ(part.size(), std::min(size, all.size() - got.size()));
            got.insert(got.end(), part.begin(), part.end());
        }
        EXPECT_EQ(got, all) << size;
    }
}

TEST_F(tunnel_output, payloads_are_shared_and_headers_copied) {
    write_messages();
    EXPECT_EQ(a.use_count(), 3);  // ours and the two slices of its message
    EXPECT_EQ(b.use_count(), 2);
    headers.assign(headers.size(), 0xee);  // the writer's header buffer is its own again
    handshake.assign(handshake.size(), 0xee);
    std::vector<output_slice> slices;
    s_->take_output(SIZE_MAX, slices);
    int in_a = 0, in_b = 0;
    for (const auto& slice : slices) {
        in_a += slice.block.data() == a.data();
        in_b += slice.block.data() == b.data();
    }
    EXPECT_EQ(in_a, 2);
    EXPECT_EQ(in_b, 1);
    // All the copied octets of one write are one block: header, payload, header, payload,
    // header, payload, then the plain write.
    EXPECT_EQ(slices.size(), 7u);
    headers = {0x04, 0x00, 0x00, 0x07, 0xc4, 0x45, 0x00};
    handshake = {0x03, 0x11, 0x22};
    EXPECT_EQ(flatten(slices), expected());
    slices.clear();
    EXPECT_EQ(a.use_count(), 1);
    EXPECT_EQ(b.use_count(), 1);
}

TEST_F(tunnel_output, a_block_partly_taken_stays_shared) {
    write_messages();
    std::vector<output_slice> reply;
    EXPECT_EQ(s_->take_output(6, reply), 6u);  // the header and 2 of a's first 4 octets
    ASSERT_EQ(reply.size(), 2u);
    EXPECT_EQ(reply[1].block.data(), a.data());
    EXPECT_EQ(reply[1].offset, 0u);
    EXPECT_EQ(reply[1].size, 2u);
    EXPECT_EQ(a.use_count(), 4);  // ours, the part taken, the rest pending, a's second slice
    std::vector<output_slice> next;
    s_->take_output(2, next);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].block.data(), a.data());
    EXPECT_EQ(next[0].offset, 2u);
    EXPECT_EQ(next[0].size, 2u);
    auto all = flatten(reply);
    const auto more = flatten(next);
    all.insert(all.end(), more.begin(), more.end());
    const auto rest = take(SIZE_MAX);
    all.insert(all.end(), rest.begin(), rest.end());
    EXPECT_EQ(all, expected());
    reply.clear();
    next.clear();
    EXPECT_EQ(a.use_count(), 1);
}

TEST_F(tunnel_output, a_buffer_outside_the_blocks_given_is_copied) {
    // Blocks that the buffers do not point into, or none: every octet is copied, and the
    // writer may reuse its buffers at once.
    auto w = write({asio::const_buffer(a.data(), 7)}, {b});
    ASSERT_TRUE(w->done);
    EXPECT_EQ(a.use_count(), 1);
    const auto got = take(SIZE_MAX);
    EXPECT_EQ(got, bytes(a.data(), a.data() + 7));
}

TEST_F(tunnel_output, pending_output_is_bounded_in_bytes) {
    start({.max_pending_output = 100});
    const bytes sixty(60, 6);
    auto first = write({asio::buffer(sixty)});
    EXPECT_TRUE(first->done);
    auto second = write({asio::buffer(sixty)});  // 120 would pass the bound: waits
    EXPECT_FALSE(second->done);
    EXPECT_EQ(s_->pending_output(), 60u);
    EXPECT_EQ(take(10).size(), 10u);  // 110: still waits
    EXPECT_FALSE(second->done);
    EXPECT_EQ(take(10).size(), 10u);  // 100: fits
    EXPECT_TRUE(second->done);
    EXPECT_EQ(second->n, 60u);
    EXPECT_EQ(s_->pending_output(), 100u);
    // A write larger than the bound goes when nothing is pending (all or error, never part).
    EXPECT_EQ(take(SIZE_MAX).size(), 100u);
    const bytes big(150, 7);
    auto large = write({asio::buffer(big)});
    EXPECT_TRUE(large->done);
    EXPECT_EQ(s_->pending_output(), 150u);
    auto after = write({asio::buffer(sixty)});
    EXPECT_FALSE(after->done);
    s_->close("client gone");
    run_ready();
    EXPECT_TRUE(after->done);
    EXPECT_EQ(after->ec, asio::error::broken_pipe);
    EXPECT_EQ(s_->pending_output(), 150u);
}

}  // namespace
}  // namespace rtmpgate::gateway::tunnel
