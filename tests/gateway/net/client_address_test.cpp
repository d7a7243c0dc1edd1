// client_address: the client's address as logs name it, with and without a proxy.
#include "gateway/net/client_address.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace rtmpgate::gateway {
namespace {

tcp::endpoint ep(const char* address, unsigned short port) {
    return {asio::ip::make_address(address), port};
}

TEST(client_address, the_socket_peer_is_the_client) {
    const client_address a(ep("203.0.113.5", 41000));
    EXPECT_EQ(a.to_string(), "203.0.113.5:41000");
    EXPECT_EQ(a.describe(), "203.0.113.5:41000");
    EXPECT_FALSE(a.via());
    EXPECT_EQ(a.address(), asio::ip::make_address("203.0.113.5"));
}

TEST(client_address, ipv6_addresses_are_bracketed) {
    EXPECT_EQ(client_address(ep("2001:db8::1", 443)).to_string(), "[2001:db8::1]:443");
}

TEST(client_address, a_declared_client_names_its_proxy) {
    const client_address a(ep("198.51.100.7", 5000), ep("127.0.0.1", 6000));
    EXPECT_EQ(a.to_string(), "198.51.100.7:5000");
    EXPECT_EQ(a.describe(), "198.51.100.7:5000 via 127.0.0.1:6000");
    ASSERT_TRUE(a.via());
    EXPECT_EQ(*a.via(), ep("127.0.0.1", 6000));
    std::ostringstream out;
    out << a;
    EXPECT_EQ(out.str(), a.describe());
}

TEST(client_address, an_unknown_port_is_not_written) {
    EXPECT_EQ(client_address(ep("198.51.100.7", 0), ep("10.0.0.1", 80)).to_string(),
              "198.51.100.7");
    EXPECT_EQ(client_address(ep("2001:db8::2", 0), ep("10.0.0.1", 80)).to_string(),
              "[2001:db8::2]");
}

TEST(client_address, unknown_by_default) { EXPECT_EQ(client_address().to_string(), "0.0.0.0"); }

}  // namespace
}  // namespace rtmpgate::gateway
