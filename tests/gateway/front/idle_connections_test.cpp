// The set of idle sessionless HTTP connections: the oldest is evicted first, a connection that has
// left is never evicted, and an evicted one learns it when it leaves and has its wait cancelled.
#include "gateway/front/idle_connections.hpp"

#include <gtest/gtest.h>

namespace rtmpgate::gateway::front {
namespace {

struct connected_pair {
    explicit connected_pair(asio::io_context& io) : server(io), client(io) {
        tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
        client.connect(acceptor.local_endpoint());
        acceptor.accept(server);
    }
    tcp::socket server, client;
};

TEST(idle_connections, evicts_oldest_first_and_only_those_waiting) {
    asio::io_context io;
    tcp::socket a(io), b(io), c(io);
    idle_connections idle;
    EXPECT_FALSE(idle.evict_oldest());
    auto ea = idle.enter(a, io.get_executor());
    auto eb = idle.enter(b, io.get_executor());
    auto ec = idle.enter(c, io.get_executor());
    EXPECT_EQ(idle.size(), 3u);
    EXPECT_FALSE(idle.leave(*eb));     // b got a byte: it is no longer idle
    EXPECT_TRUE(idle.evict_oldest());  // a
    EXPECT_EQ(idle.size(), 1u);
    EXPECT_TRUE(idle.leave(*ea));
    EXPECT_TRUE(idle.evict_oldest());  // c
    EXPECT_TRUE(idle.leave(*ec));
    EXPECT_FALSE(idle.evict_oldest());
    io.run();  // the posted cancellations find the sockets gone
}

TEST(idle_connections, eviction_cancels_the_wait) {
    asio::io_context io;
    connected_pair p(io);
    idle_connections idle;
    auto e = idle.enter(p.server, io.get_executor());
    error_code read_ec;
    std::array<char, 16> buf{};
    p.server.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
        read_ec = ec;
        EXPECT_TRUE(idle.leave(*e));
    });
    EXPECT_TRUE(idle.evict_oldest());
    io.run();
    EXPECT_EQ(read_ec, asio::error::operation_aborted);
}

}  // namespace
}  // namespace rtmpgate::gateway::front
