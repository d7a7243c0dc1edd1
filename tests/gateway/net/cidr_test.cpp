// cidr: parsing what trusted_proxies lists, and matching addresses against it.
#include "gateway/net/cidr.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace rtmpgate::gateway {
namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

cidr net(const char* text) {
    auto c = cidr::parse(text);
    EXPECT_TRUE(c) << text;
    return c ? *c : *cidr::parse("255.255.255.255");
}

TEST(cidr, ipv4_network) {
    const auto n = net("10.0.0.0/8");
    EXPECT_TRUE(n.is_v4());
    EXPECT_EQ(n.prefix_length(), 8u);
    EXPECT_TRUE(n.contains(ip("10.0.0.0")));
    EXPECT_TRUE(n.contains(ip("10.255.255.255")));
    EXPECT_FALSE(n.contains(ip("11.0.0.0")));
    EXPECT_FALSE(n.contains(ip("9.255.255.255")));
    EXPECT_EQ(n.to_string(), "10.0.0.0/8");
}

TEST(cidr, a_prefix_inside_an_octet) {
    const auto n = net("192.168.4.0/22");
    EXPECT_TRUE(n.contains(ip("192.168.7.200")));
    EXPECT_FALSE(n.contains(ip("192.168.8.0")));
    EXPECT_FALSE(n.contains(ip("192.168.3.255")));
}

TEST(cidr, an_address_alone_is_that_address) {
    const auto v4 = net("127.0.0.1");
    EXPECT_EQ(v4.prefix_length(), 32u);
    EXPECT_TRUE(v4.contains(ip("127.0.0.1")));
    EXPECT_FALSE(v4.contains(ip("127.0.0.2")));
    const auto v6 = net("::1");
    EXPECT_EQ(v6.prefix_length(), 128u);
    EXPECT_TRUE(v6.contains(ip("::1")));
    EXPECT_FALSE(v6.contains(ip("::2")));
    EXPECT_EQ(v6.to_string(), "::1/128");
}

TEST(cidr, ipv6_network) {
    const auto n = net("2001:db8::/32");
    EXPECT_FALSE(n.is_v4());
    EXPECT_TRUE(n.contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(n.contains(ip("2001:db9::1")));
    EXPECT_TRUE(net("fe80::/10").contains(ip("febf::1")));
    EXPECT_FALSE(net("fe80::/10").contains(ip("fec0::1")));
    EXPECT_TRUE(net("::1/128").contains(ip("::1")));
}

TEST(cidr, families_do_not_mix) {
    EXPECT_FALSE(net("0.0.0.0/0").contains(ip("::1")));
    EXPECT_FALSE(net("::/0").contains(ip("127.0.0.1")));
    EXPECT_FALSE(net("::/96").contains(ip("0.0.0.1")));  // IPv4-compatible is not IPv4
}

TEST(cidr, prefix_zero_is_every_address_of_the_family) {
    EXPECT_TRUE(net("0.0.0.0/0").contains(ip("203.0.113.9")));
    EXPECT_TRUE(net("0.0.0.0/0").contains(ip("0.0.0.0")));
    EXPECT_TRUE(net("::/0").contains(ip("2001:db8::1")));
    EXPECT_EQ(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
}

TEST(cidr, an_ipv4_mapped_address_is_its_ipv4_address) {
    EXPECT_TRUE(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
    EXPECT_FALSE(net("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
    EXPECT_TRUE(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
    EXPECT_TRUE(net("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
    EXPECT_FALSE(net("::/0").contains(ip("::ffff:1.2.3.4")));
    // A mapped network is read as the IPv4 network it maps.
    const auto mapped = net("::ffff:10.0.0.0/104");
    EXPECT_TRUE(mapped.is_v4());
    EXPECT_EQ(mapped.to_string(), "10.0.0.0/8");
    EXPECT_TRUE(mapped.contains(ip("10.9.9.9")));
    EXPECT_TRUE(mapped.contains(ip("::ffff:10.9.9.9")));
    EXPECT_EQ(unmapped(ip("::ffff:10.9.9.9")), ip("10.9.9.9"));
    EXPECT_EQ(unmapped(ip("::1")), ip("::1"));
}

TEST(cidr, bad_strings_are_refused) {
    for (const char* bad : {"",
                            "/",
                            "/8",
                            "10.0.0.0/",
                            "10.0.0.0/33",
                            "10.0.0.0/-1",
                            "10.0.0.0/+8",
                            "10.0.0.0/ 8",
                            "10.0.0.0 /8",
                            " 10.0.0.0/8",
                            "10.0.0.0/8 ",
                            "10.0.0.0/8/8",
                            "10.0.0.0/0x8",
                            "10.0.0.0/0008",
                            "10.0.0/8",
                            "10.0.0.256",
                            "10.0.0.1/8",  // a bit set after the prefix
                            "::1/129",
                            "::1/64",
                            "fe80::1%eth0",
                            "fe80::%1/64",
                            "localhost",
                            "10.0.0.0/8,11.0.0.0/8",
                            "2001:db8::/3x",
                            "1.2.3.4.5"})
        EXPECT_FALSE(cidr::parse(bad)) << '"' << bad << '"';
}

TEST(cidr, contains_any_of_a_list) {
    const std::vector<cidr> list{net("10.0.0.0/8"), net("::1")};
    EXPECT_TRUE(contains_any(list, ip("10.2.3.4")));
    EXPECT_TRUE(contains_any(list, ip("::1")));
    EXPECT_FALSE(contains_any(list, ip("127.0.0.1")));
    EXPECT_FALSE(contains_any({}, ip("10.2.3.4")));
}

}  // namespace
}  // namespace rtmpgate::gateway
