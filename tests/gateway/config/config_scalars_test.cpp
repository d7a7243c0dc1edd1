#include "gateway/config/config_scalars.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;

// The reason text of a rejected value, or "(accepted)".
template <class T>
std::string reason(const scalar_result<T>& r) {
    return r ? std::string("(accepted)") : r.error();
}

TEST(parse_duration, each_unit) {
    EXPECT_EQ(*parse_duration("250"), 250ms);  // plain number: milliseconds
    EXPECT_EQ(*parse_duration("250ms"), 250ms);
    EXPECT_EQ(*parse_duration("45s"), 45s);
    EXPECT_EQ(*parse_duration("2m"), 2min);
    EXPECT_EQ(*parse_duration("1h"), 1h);
    EXPECT_EQ(*parse_duration("0"), 0ms);
    EXPECT_EQ(*parse_duration("007s"), 7s);
}

TEST(parse_duration, rejects) {
    EXPECT_EQ(reason(parse_duration("-1s")), "must not be negative (got \"-1s\")");
    for (const char* text : {"5 parsecs", "5parsecs", "1.5s", "", "s", "5 s", " 5s", "5s ", "+5s",
                             "5S", "5sec", "0x10", "1e3"}) {
        const auto why = reason(parse_duration(text));
        EXPECT_TRUE(why.starts_with("expected a whole number with a unit ms, s, m or h"))
            << text << ": " << why;
        EXPECT_NE(why.find(std::string("(got \"") + text + "\")"), std::string::npos) << why;
    }
    EXPECT_EQ(reason(parse_duration("99999999999999999999")),
              "too large (got \"99999999999999999999\")");
    // Fits in 64 bits as a count of hours, not as milliseconds.
    EXPECT_EQ(reason(parse_duration("9999999999999999h")), "too large (got \"9999999999999999h\")");
    EXPECT_EQ(reason(parse_duration("9223372036854775808")),
              "too large (got \"9223372036854775808\")");
}

TEST(parse_size, each_unit) {
    EXPECT_EQ(*parse_size("4096"), 4096u);  // plain number: bytes
    EXPECT_EQ(*parse_size("64KiB"), 64u * 1024);
    EXPECT_EQ(*parse_size("4MiB"), 4u << 20);
    EXPECT_EQ(*parse_size("2GiB"), std::uint64_t{2} << 30);
}

TEST(parse_size, rejects) {
    EXPECT_EQ(reason(parse_size("-1")), "must not be negative (got \"-1\")");
    for (const char* text : {"4MB", "4M", "4 MiB", "1.5MiB", "MiB", "", "4mib", "4KB"}) {
        const auto why = reason(parse_size(text));
        EXPECT_TRUE(why.starts_with("expected a whole number with a unit KiB, MiB or GiB"))
            << text << ": " << why;
    }
    EXPECT_EQ(reason(parse_size("99999999999GiB")), "too large (got \"99999999999GiB\")");
}

TEST(parse_unsigned, digits_only) {
    EXPECT_EQ(*parse_unsigned("0"), 0u);
    EXPECT_EQ(*parse_unsigned("18446744073709551615"), 18446744073709551615u);
    EXPECT_EQ(reason(parse_unsigned("18446744073709551616")),
              "too large (got \"18446744073709551616\")");
    EXPECT_EQ(reason(parse_unsigned("-1")), "must not be negative (got \"-1\")");
    EXPECT_EQ(reason(parse_unsigned("4k")), "expected a whole number (got \"4k\")");
}

TEST(parse_endpoint, forms) {
    const auto v4 = parse_endpoint("0.0.0.0:80");
    ASSERT_TRUE(v4) << v4.error();
    EXPECT_EQ(v4->host, "0.0.0.0");
    EXPECT_EQ(v4->port, 80);
    EXPECT_TRUE(v4->enabled);
    EXPECT_EQ(v4->to_string(), "0.0.0.0:80");

    const auto v6 = parse_endpoint("[::1]:1935");
    ASSERT_TRUE(v6) << v6.error();
    EXPECT_EQ(v6->host, "::1");  // brackets removed
    EXPECT_EQ(v6->port, 1935);
    EXPECT_TRUE(v6->enabled);
    EXPECT_EQ(v6->to_string(), "[::1]:1935");

    const auto any_port = parse_endpoint("127.0.0.1:0");
    ASSERT_TRUE(any_port);
    EXPECT_EQ(any_port->port, 0);
    EXPECT_TRUE(any_port->enabled);

    EXPECT_EQ(parse_endpoint("[::]:65535")->port, 65535);

    const auto disabled = parse_endpoint("");
    ASSERT_TRUE(disabled);
    EXPECT_FALSE(disabled->enabled);
    EXPECT_EQ(disabled->to_string(), "");
}

TEST(parse_endpoint, rejects) {
    const auto starts = [](std::string_view text, std::string_view expected) {
        const auto why = reason(parse_endpoint(text));
        EXPECT_TRUE(why.starts_with(expected)) << text << ": " << why;
    };
    starts("0.0.0.0", "missing :port");
    starts("[::1]", "missing :port");
    starts("0.0.0.0:", "port must be a number from 0 to 65535");
    starts("0.0.0.0:65536", "port must be a number from 0 to 65535");
    starts("0.0.0.0:http", "port must be a number from 0 to 65535");
    starts("0.0.0.0:-1", "port must be a number from 0 to 65535");
    starts("::1:1935", "not an address and port");  // IPv6 needs brackets
    starts("[::1:1935", "not an address and port");
    starts("[::1]1935", "not an address and port");
    starts("localhost:1935", "not an IPv4 address");  // listeners bind: no names
    starts("256.0.0.1:1935", "not an IPv4 address");
    starts("[127.0.0.1x]:1935", "not an IPv6 address");
    starts(":1935", "not an IPv4 address");
}

TEST(parse_route_target, forms) {
    const auto engine = parse_route_target("engine");
    ASSERT_TRUE(engine);
    EXPECT_TRUE(engine->to_engine);

    const auto rtmp = parse_route_target("rtmp://origin.internal");
    ASSERT_TRUE(rtmp) << rtmp.error();
    EXPECT_FALSE(rtmp->to_engine);
    EXPECT_EQ(rtmp->backend.host, "origin.internal");
    EXPECT_EQ(rtmp->backend.port, 1935);  // default for rtmp://
    EXPECT_FALSE(rtmp->backend.tls);

    const auto rtmps = parse_route_target("rtmps://ingest.example.com");
    ASSERT_TRUE(rtmps);
    EXPECT_EQ(rtmps->backend.port, 443);  // default for rtmps://
    EXPECT_TRUE(rtmps->backend.tls);
    EXPECT_EQ(rtmps->backend.server_name, "");  // filled by parse_config

    const auto v6 = parse_route_target("rtmp://[::1]:1936");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->backend.host, "::1");
    EXPECT_EQ(v6->backend.port, 1936);

    const auto v4 = parse_route_target("rtmps://10.0.0.2:8443");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->backend.host, "10.0.0.2");
    EXPECT_EQ(v4->backend.port, 8443);
}

TEST(parse_route_target, rejects) {
    const auto starts = [](std::string_view text, std::string_view expected) {
        const auto why = reason(parse_route_target(text));
        EXPECT_TRUE(why.starts_with(expected)) << text << ": " << why;
    };
    starts("Engine", "unknown target");
    starts("http://x", "unknown target");
    starts("rtmpt://x", "unknown target");
    starts("origin:1935", "unknown target");
    starts("rtmp://host/live", "must be only a scheme, host and port");
    starts("rtmp://host:1935/", "must be only a scheme, host and port");
    starts("rtmp://user@host", "must be only a scheme, host and port");
    starts("rtmp://", "not a host name or address");
    starts("rtmp://:1935", "not a host name or address");
    starts("rtmp://bad_host", "not a host name or address");
    starts("rtmp://-x.example", "not a host name or address");
    starts("rtmp://10.0.0.999", "not a host name or address");
    starts("rtmp://[::1", "not a host and port");
    starts("rtmp://::1:1935", "not a host and port");
    starts("rtmp://host:0", "port must be a number from 1 to 65535");
    starts("rtmp://host:", "port must be a number from 1 to 65535");
    starts("rtmp://host:70000", "port must be a number from 1 to 65535");
}

TEST(is_host_name, labels) {
    EXPECT_TRUE(is_host_name("localhost"));
    EXPECT_TRUE(is_host_name("a-b.example.com"));
    EXPECT_FALSE(is_host_name("*.example.com"));
    EXPECT_TRUE(is_host_name("*.example.com", true));
    EXPECT_FALSE(is_host_name("a.*.example.com", true));
    EXPECT_FALSE(is_host_name("example..com"));
    EXPECT_FALSE(is_host_name("example.com."));
    EXPECT_FALSE(is_host_name(std::string(64, 'a')));
    EXPECT_TRUE(is_host_name(std::string(63, 'a')));
    EXPECT_FALSE(is_host_name(""));
}

TEST(format, shortest_exact_unit) {
    EXPECT_EQ(format_duration(0ms), "0ms");
    EXPECT_EQ(format_duration(10ms), "10ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(2min), "2m");
    EXPECT_EQ(format_duration(24h), "24h");
    EXPECT_EQ(format_size(0), "0");
    EXPECT_EQ(format_size(128), "128");
    EXPECT_EQ(format_size(64 * 1024), "64KiB");
    EXPECT_EQ(format_size(16777215), "16777215");
    EXPECT_EQ(format_size(std::uint64_t{1} << 30), "1GiB");
    // What format_* writes, parse_* reads back.
    EXPECT_EQ(*parse_duration(format_duration(90s)), 90s);
    EXPECT_EQ(*parse_size(format_size(3 << 20)), 3u << 20);
}

}  // namespace
}  // namespace rtmpgate::gateway
