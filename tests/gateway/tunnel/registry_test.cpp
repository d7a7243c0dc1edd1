#include "gateway/tunnel/registry.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "gateway/client_bytes.hpp"
#include "protocol/rtmpt.hpp"

namespace rtmpgate::gateway::tunnel {
namespace {

using bytes = std::vector<std::uint8_t>;

// The simple handshake, then a chunk in format 3 on chunk stream 9, which no header has opened:
// the RTMP side answers the handshake and then fails.
bytes handshake_then_broken_chunk() {
    auto b = test::simple_handshake();
    b.push_back(0xC0 | 9);
    b.push_back(0x00);
    return b;
}

// A registry whose sessions' RTMP connections run for real; poll() runs whatever is ready (the
// connections' timers are never waited for).
class tunnel_registry : public testing::Test {
protected:
    std::shared_ptr<rtmpt_session> open() {
        auto s = tunnels_.open(asio::make_strand(io_), client_address(), "rtmpt");
        io_.poll();
        return s;
    }
    void poll() { io_.poll(); }

    std::uint64_t gauge() const { return context_.stats.rtmpt_sessions; }
    std::size_t connections() const { return context_.connections.size(); }

    server_context context_{config{}};
    // Between the two: sessions left in the registry go while the timers' service is there, and
    // pending coroutine frames go before the context they refer to.
    asio::io_context io_;
    registry tunnels_{context_, session_limits{}, 2, ""};
};

TEST_F(tunnel_registry, open_starts_an_rtmp_connection_and_counts_the_session) {
    auto s = open();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(tunnels_.find(s->id()), s);
    EXPECT_EQ(tunnels_.size(), 1u);
    EXPECT_EQ(gauge(), 1u);
    EXPECT_EQ(connections(), 1u);  // registered: shutdown finds it
    EXPECT_FALSE(s->closed());

    context_.connections.shutdown_all();
    poll();
    EXPECT_TRUE(s->closed());
    EXPECT_EQ(gauge(), 0u);
    EXPECT_EQ(connections(), 0u);
    EXPECT_EQ(tunnels_.find(s->id()), nullptr);  // nothing left for its client: forgotten
}

TEST_F(tunnel_registry, open_refuses_past_max_sessions) {
    auto a = open();
    auto b = open();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(open(), nullptr);
    EXPECT_EQ(gauge(), 2u);
    EXPECT_EQ(connections(), 2u);
    context_.connections.shutdown_all();
    poll();
    EXPECT_EQ(gauge(), 0u);
    EXPECT_EQ(tunnels_.size(), 0u);
}

TEST_F(tunnel_registry, client_close_forgets_at_once_and_ends_the_rtmp_side) {
    auto s = open();
    ASSERT_NE(s, nullptr);
    tunnels_.close(*s, "closed by client");
    EXPECT_TRUE(s->closed());
    EXPECT_STREQ(s->close_reason(), "closed by client");
    EXPECT_EQ(tunnels_.find(s->id()), nullptr);
    EXPECT_EQ(gauge(), 1u);  // until its RTMP connection has ended
    poll();
    EXPECT_EQ(gauge(), 0u);
    EXPECT_EQ(connections(), 0u);
    EXPECT_EQ(tunnels_.size(), 0u);
}

TEST_F(tunnel_registry, bad_input_ends_the_rtmp_side_and_last_words_wait_for_the_client) {
    auto s = open();
    ASSERT_NE(s, nullptr);
    s->accept(0, handshake_then_broken_chunk());
    poll();
    // The connection ended as failed, through an error code.
    EXPECT_EQ(context_.stats.connections_failed, 1u);
    EXPECT_EQ(connections(), 0u);
    EXPECT_EQ(gauge(), 0u);
    EXPECT_TRUE(s->closed());
    // S0 S1 S2 were written before: the session stays until its client has taken them.
    EXPECT_EQ(s->pending_output(), 1u + 1536 + 1536);
    EXPECT_EQ(tunnels_.find(s->id()), s);
}

// Session ids: protocol::format_rtmpt_session_id around 24 random characters of [A-Za-z0-9].
TEST(registry_ids, random_and_valid_with_or_without_a_node) {
    server_context context{config{}};
    const registry plain(context, {}, 10, "");
    const registry prefixed(context, {}, 10, "gw2");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto a = plain.make_id();
        EXPECT_EQ(a.size(), 24u) << a;
        EXPECT_TRUE(protocol::is_valid_rtmpt_session_id(a)) << a;
        EXPECT_EQ(protocol::rtmpt_session_node(a), "") << a;
        const auto b = prefixed.make_id();
        EXPECT_EQ(b.size(), 4u + 24) << b;
        EXPECT_TRUE(protocol::is_valid_rtmpt_session_id(b)) << b;
        EXPECT_EQ(protocol::rtmpt_session_node(b), "gw2") << b;
        seen.insert(a);
        seen.insert(b.substr(4));
    }
    EXPECT_EQ(seen.size(), 400u);
}

TEST(registry_ids, a_node_that_cannot_prefix_an_id_fails_at_construction) {
    server_context context{config{}};
    EXPECT_THROW(registry(context, {}, 10, "g-w"), std::invalid_argument);
    EXPECT_THROW(registry(context, {}, 10, std::string(40, 'n')),
                 std::invalid_argument);  // over 63
}

}  // namespace
}  // namespace rtmpgate::gateway::tunnel
