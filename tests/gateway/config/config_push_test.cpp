// routes[i].push: where an engine route publishes its streams again.
#include <gtest/gtest.h>

#include <string>

#include "gateway/config/config.hpp"
#include "gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

const std::string routes =
    "listeners:\n"           // 1
    "  rtmp: 127.0.0.1:0\n"  // 2
    "routes:\n"              // 3
    "  - app: live\n"        // 4
    "    to: engine\n"       // 5
    "    push:\n";           // 6

TEST(config_push, urls_and_mappings) {
    const auto c = parse_config(routes +
                                    "      - rtmp://origin/live\n"
                                    "      - rtmp://10.0.0.1:1936/app/fixed-name\n"
                                    "      - rtmps://ingest.example.com/live2\n"
                                    "      - url: rtmps://[::1]:8443/x/y\n"
                                    "        server_name: ingest.example.com\n"
                                    "        verify: false\n",
                                "test.yaml");
    const auto& p = c.routes.at(0).push;
    ASSERT_EQ(p.size(), 4u);
    EXPECT_EQ(p[0].backend.host, "origin");
    EXPECT_EQ(p[0].backend.port, 1935);
    EXPECT_FALSE(p[0].backend.tls);
    EXPECT_EQ(p[0].app, "live");
    EXPECT_EQ(p[0].name, "");  // the stream's own name
    EXPECT_EQ(p[1].backend.host, "10.0.0.1");
    EXPECT_EQ(p[1].backend.port, 1936);
    EXPECT_EQ(p[1].app, "app");
    EXPECT_EQ(p[1].name, "fixed-name");
    EXPECT_TRUE(p[2].backend.tls);
    EXPECT_EQ(p[2].backend.port, 443);
    EXPECT_TRUE(p[2].backend.verify);
    EXPECT_EQ(p[2].backend.server_name, "ingest.example.com");
    EXPECT_EQ(p[3].backend.host, "::1");
    EXPECT_EQ(p[3].backend.port, 8443);
    EXPECT_FALSE(p[3].backend.verify);
    EXPECT_EQ(p[3].backend.server_name, "ingest.example.com");
    EXPECT_EQ(p[3].app, "x");
    EXPECT_EQ(p[3].name, "y");
    // None by default.
    const auto none = parse_config(
        "listeners:\n  rtmp: 127.0.0.1:0\nroutes:\n  - app: a\n"
        "    to: engine\n",
        "t");
    EXPECT_TRUE(none.routes[0].push.empty());
}

TEST(config_push, bad_entries_name_the_key) {
    const auto bad = [&](const std::string& entry) { return error_of(routes + entry); };
    EXPECT_TRUE(bad("      - rtmp://origin\n")
                    .starts_with("test.yaml:7: routes[0].push[0]: needs an application after "
                                 "the host"));
    EXPECT_TRUE(bad("      - rtmp://origin/\n").starts_with("test.yaml:7: routes[0].push[0]: "));
    EXPECT_TRUE(bad("      - http://origin/live\n")
                    .starts_with("test.yaml:7: routes[0].push[0]: unknown target"));
    EXPECT_TRUE(bad("      - engine\n").starts_with("test.yaml:7: routes[0].push[0]: "));
    EXPECT_TRUE(
        bad("      - rtmp://origin:0/live\n").starts_with("test.yaml:7: routes[0].push[0]: "));
    EXPECT_TRUE(bad("      - rtmp://origin/live/a b\n")
                    .starts_with("test.yaml:7: routes[0].push[0]: application and name must be "
                                 "printable"));
    EXPECT_TRUE(
        bad("      - rtmp://origin/live?x=1\n").starts_with("test.yaml:7: routes[0].push[0]: "));
    EXPECT_TRUE(
        bad("      - rtmp://origin/live/\n").starts_with("test.yaml:7: routes[0].push[0]: "));
    EXPECT_EQ(bad("      - url: rtmp://origin/live\n        ca_file: ca.pem\n"),
              "test.yaml:8: routes[0].push[0].ca_file: only applies to rtmps:// URLs");
    EXPECT_TRUE(
        bad("      - verify: true\n").starts_with("test.yaml:7: routes[0].push[0]: missing url"));
    std::string nine;
    for (int i = 0; i < 9; ++i) nine += "      - rtmp://origin/live\n";
    EXPECT_TRUE(
        bad(nine).starts_with("test.yaml:6: routes[0].push: too many entries (9; at most 8)"))
        << bad(nine);
}

TEST(config_push, only_on_engine_routes) {
    EXPECT_EQ(error_of("routes:\n"
                       "  - app: relay\n"
                       "    to: rtmp://origin\n"
                       "    push:\n"
                       "      - rtmp://other/live\n"),
              "test.yaml:4: routes[0].push: only applies to engine routes");
}

}  // namespace
}  // namespace rtmpgate::gateway
