// The browsers' keys: http_flv (allowed origins, timeouts) and player (enabled, dir).
#include <gtest/gtest.h>

#include <string>

#include "gateway/config/config.hpp"
#include "tests/gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

TEST(config_web, defaults) {
    const auto c = parse_config("listeners:\n  rtmp: 127.0.0.1:1935\n", "test.yaml");
    EXPECT_TRUE(c.http_flv.allowed_origins.empty());
    EXPECT_EQ(c.http_flv.write_timeout, milliseconds(10000));
    EXPECT_EQ(c.http_flv.idle_timeout, milliseconds(30000));
    EXPECT_FALSE(c.player.enabled.has_value());
    EXPECT_EQ(c.player.dir, "web");
}

TEST(config_web, reads_every_key) {
    const auto c = parse_config(R"(listeners:
  rtmp: 127.0.0.1:1935
http_flv:
  allowed_origins: ["https://example.com", "http://host:8080", "*"]
  write_timeout: 3s
  idle_timeout: 1m
player:
  enabled: false
  dir: /srv/player
)",
                                "test.yaml");
    EXPECT_EQ(c.http_flv.allowed_origins,
              (std::vector<std::string>{"https://example.com", "http://host:8080", "*"}));
    EXPECT_EQ(c.http_flv.write_timeout, milliseconds(3000));
    EXPECT_EQ(c.http_flv.idle_timeout, milliseconds(60000));
    EXPECT_EQ(c.player.enabled, false);
    EXPECT_EQ(c.player.dir, "/srv/player");
}

TEST(config_web, the_default_file_reads) {
    const auto c = load_config(std::string(RTMPGATE_SOURCE_DIR) + "/config/rtmpgate.yaml");
    EXPECT_TRUE(c.http_flv.allowed_origins.empty());
    EXPECT_FALSE(c.player.enabled.has_value());
    EXPECT_EQ(c.player.dir, "web");
}

TEST(config_web, refuses) {
    for (const char* origin : {"example.com", "https://example.com/", "https://example.com/path",
                               "ftp://example.com", "https://", ""})
        expect_error(std::string("http_flv:\n  allowed_origins: [\"") + origin + "\"]\n",
                     "test.yaml:2: http_flv.allowed_origins[0]: ", "origin");
    expect_error("http_flv:\n  write_timeout: 10ms\n", "test.yaml:2: http_flv.write_timeout: ");
    expect_error("http_flv:\n  idle_timeout: 2h\n", "test.yaml:2: http_flv.idle_timeout: ");
    expect_error("http_flv:\n  origins: []\n", "test.yaml:2: http_flv.origins: ");
    expect_error("player:\n  enabled: yes\n", "test.yaml:2: player.enabled: ");
    expect_error("player:\n  dir: \"\"\n", "test.yaml:2: player.dir: ");
}

}  // namespace
}  // namespace rtmpgate::gateway
