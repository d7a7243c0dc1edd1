#include "gateway/backend/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/proxy_protocol.hpp"

namespace rtmpgate::gateway::backend {
namespace {

using version = backend_target::proxy_protocol;

tcp::endpoint at(const char* address, std::uint16_t port) {
    return {asio::ip::make_address(address), port};
}

std::string text(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

TEST(backend_proxy_header, none_writes_nothing) {
    EXPECT_TRUE(
        make_backend_proxy_header(version::none, at("192.0.2.1", 5000), at("127.0.0.1", 1935))
            .empty());
}

TEST(backend_proxy_header, ipv4_client) {
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, at("192.0.2.1", 50123),
                                             at("198.51.100.7", 1935))),
              "PROXY TCP4 192.0.2.1 198.51.100.7 50123 1935\r\n");
}

TEST(backend_proxy_header, ipv4_mapped_addresses_are_written_as_ipv4) {
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, at("::ffff:192.0.2.1", 50123),
                                             at("::ffff:127.0.0.1", 443))),
              "PROXY TCP4 192.0.2.1 127.0.0.1 50123 443\r\n");
}

TEST(backend_proxy_header, mixed_families_go_as_tcp6) {
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, at("2001:db8::5", 40000),
                                             at("127.0.0.1", 1935))),
              "PROXY TCP6 2001:db8::5 ::ffff:7f00:1 40000 1935\r\n");
}

TEST(backend_proxy_header, unknown_destination_is_unspecified) {
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, at("192.0.2.1", 5000), std::nullopt)),
              "PROXY TCP4 192.0.2.1 0.0.0.0 5000 0\r\n");
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, at("::1", 5000), std::nullopt)),
              "PROXY TCP6 ::1 :: 5000 0\r\n");
}

TEST(backend_proxy_header, unknown_client_has_no_address) {
    EXPECT_EQ(text(make_backend_proxy_header(version::v1, tcp::endpoint{}, at("127.0.0.1", 1))),
              "PROXY UNKNOWN\r\n");
    const auto v2 = make_backend_proxy_header(version::v2, tcp::endpoint{}, std::nullopt);
    protocol::proxy_header_parser parser;
    protocol::error_code ec;
    EXPECT_EQ(parser.feed(v2, ec), v2.size());
    ASSERT_TRUE(parser.done()) << ec.message();
    EXPECT_EQ(parser.header().family, protocol::proxy_family::none);
}

TEST(backend_proxy_header, v2_carries_both_endpoints) {
    const auto v2 =
        make_backend_proxy_header(version::v2, at("2001:db8::5", 40000), at("2001:db8::1", 443));
    protocol::proxy_header_parser parser;
    protocol::error_code ec;
    EXPECT_EQ(parser.feed(v2, ec), v2.size());
    ASSERT_TRUE(parser.done()) << ec.message();
    const auto& h = parser.header();
    EXPECT_EQ(h.version, 2);
    EXPECT_EQ(h.family, protocol::proxy_family::tcp6);
    EXPECT_EQ(asio::ip::address_v6(h.source.octets), asio::ip::make_address_v6("2001:db8::5"));
    EXPECT_EQ(h.source.port, 40000);
    EXPECT_EQ(asio::ip::address_v6(h.destination.octets), asio::ip::make_address_v6("2001:db8::1"));
    EXPECT_EQ(h.destination.port, 443);
}

}  // namespace
}  // namespace rtmpgate::gateway::backend
