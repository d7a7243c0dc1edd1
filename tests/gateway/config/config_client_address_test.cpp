// The keys about the client's address behind a proxy: trusted_proxies, proxy_protocol and
// rtmpt.forwarded_header.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "gateway/config/config.hpp"
#include "gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;

const std::string base =
    "listeners:\n"            // 1
    "  rtmp: 127.0.0.1:0\n";  // 2

TEST(config_client_address, the_default_file_writes_every_default) {
    const auto c = load_config(std::string(RTMPGATE_SOURCE_DIR) + "/config/rtmpgate.yaml");
    const config d;
    EXPECT_TRUE(c.trusted_proxies.empty());
    EXPECT_EQ(c.proxy_protocol.http, d.proxy_protocol.http);
    EXPECT_EQ(c.proxy_protocol.https, d.proxy_protocol.https);
    EXPECT_EQ(c.proxy_protocol.rtmp, d.proxy_protocol.rtmp);
    EXPECT_EQ(c.proxy_protocol.header_timeout, d.proxy_protocol.header_timeout);
    EXPECT_EQ(c.rtmpt.forwarded, d.rtmpt.forwarded);
}

TEST(config_client_address, defaults) {
    const config d;
    EXPECT_TRUE(d.trusted_proxies.empty());
    EXPECT_FALSE(d.proxy_protocol.http || d.proxy_protocol.https || d.proxy_protocol.rtmp);
    EXPECT_EQ(d.proxy_protocol.header_timeout, 5s);
    EXPECT_EQ(d.rtmpt.forwarded, forwarded_header::x_forwarded_for);
}

TEST(config_client_address, every_key) {
    const auto c = parse_config(base +
                                    "trusted_proxies: [10.0.0.0/8, \"::1/128\", 127.0.0.1, "
                                    "\"::ffff:192.168.0.0/112\"]\n"
                                    "proxy_protocol:\n"
                                    "  http: true\n"
                                    "  https: true\n"
                                    "  rtmp: true\n"
                                    "  header_timeout: 2s\n"
                                    "rtmpt:\n"
                                    "  forwarded_header: forwarded\n",
                                "test.yaml");
    ASSERT_EQ(c.trusted_proxies.size(), 4u);
    EXPECT_EQ(c.trusted_proxies[0].to_string(), "10.0.0.0/8");
    EXPECT_EQ(c.trusted_proxies[1].to_string(), "::1/128");
    EXPECT_EQ(c.trusted_proxies[2].to_string(), "127.0.0.1/32");
    EXPECT_EQ(c.trusted_proxies[3].to_string(), "192.168.0.0/16");
    EXPECT_TRUE(c.proxy_protocol.http && c.proxy_protocol.https && c.proxy_protocol.rtmp);
    EXPECT_EQ(c.proxy_protocol.header_timeout, 2s);
    EXPECT_EQ(c.rtmpt.forwarded, forwarded_header::forwarded);
    EXPECT_EQ(parse_config(base + "rtmpt: {forwarded_header: none}\n", "t").rtmpt.forwarded,
              forwarded_header::none);
}

TEST(config_client_address, a_bad_entry_names_the_key_and_the_entry) {
    expect_error(base + "trusted_proxies: [10.0.0.0/8, 10.0.0.1/8]\n",
                 "test.yaml:3: trusted_proxies[1]: expected an IPv4 or IPv6 address or network");
    EXPECT_NE(error_of(base + "trusted_proxies: [10.0.0.1/8]\n").find("\"10.0.0.1/8\""),
              std::string::npos);
    expect_error(base + "trusted_proxies:\n  - 10.0.0.0/8\n  - bogus\n",
                 "test.yaml:5: trusted_proxies[1]: expected");
    expect_error(base + "trusted_proxies: [\"::1/129\"]\n", "test.yaml:3: trusted_proxies[0]: ");
    expect_error(base + "trusted_proxies: 10.0.0.0/8\n", "test.yaml:3: trusted_proxies: ");
    expect_error(base + "trusted_proxies: [[10.0.0.0/8]]\n", "test.yaml:3: trusted_proxies[0]: ");
}

TEST(config_client_address, bad_proxy_protocol_keys) {
    expect_error(base + "trusted_proxies: [127.0.0.1]\nproxy_protocol: {rtmp: yes}\n",
                 "test.yaml:4: proxy_protocol.rtmp: ");
    expect_error(base + "proxy_protocol: {admin: true}\n", "test.yaml:3: proxy_protocol.admin: ");
    expect_error(base + "trusted_proxies: [127.0.0.1]\nproxy_protocol: {header_timeout: 10m}\n",
                 "test.yaml:4: proxy_protocol.header_timeout: ");
    expect_error(
        base + "rtmpt: {forwarded_header: x-real-ip}\n",
        "test.yaml:3: rtmpt.forwarded_header: expected x-forwarded-for, forwarded or none");
}

TEST(config_client_address, proxy_protocol_needs_trusted_proxies) {
    expect_error(base + "proxy_protocol:\n  http: false\n  rtmp: true\n",
                 "test.yaml:5: proxy_protocol.rtmp: true needs trusted_proxies");
    EXPECT_EQ(error_of(base + "proxy_protocol: {rtmp: false}\n"), "(accepted)");
}

}  // namespace
}  // namespace rtmpgate::gateway
