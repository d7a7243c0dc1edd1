#include "gateway/admin/admin_http.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/admin/metrics.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {
namespace {

const asio::ip::address loopback = asio::ip::make_address("127.0.0.1");

TEST(admin_http, healthz_is_ok_until_the_drain_begins) {
    server_context context{config{}};
    const auto ok = answer_admin("GET", "/healthz", context, false, loopback);
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.content_type, "text/plain");
    EXPECT_EQ(ok.body, "ok\n");
    // What HAProxy's `option httpchk GET /healthz` reads: any status but 2xx/3xx fails the check.
    const auto draining = answer_admin("GET", "/healthz", context, true, loopback);
    EXPECT_EQ(draining.status, 503u);
    EXPECT_EQ(draining.content_type, "text/plain");
    EXPECT_EQ(draining.body, "draining\n");
    EXPECT_EQ(answer_admin("HEAD", "/healthz", context, true, loopback).status, 503u);
}

TEST(admin_http, metrics_are_served_while_draining) {
    server_context context{config{}};
    for (const bool draining : {false, true}) {
        const auto reply = answer_admin("GET", "/metrics", context, draining, loopback);
        EXPECT_EQ(reply.status, 200u);
        EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4");
        EXPECT_NE(reply.body.find("rtmpgate_connections_open 0\n"), std::string::npos);
    }
}

TEST(admin_http, other_targets_and_methods) {
    server_context context{config{}};
    EXPECT_EQ(answer_admin("GET", "/index.html", context, false, loopback).status, 404u);
    EXPECT_EQ(answer_admin("GET", "/healthz/", context, false, loopback).status, 404u);
    EXPECT_EQ(answer_admin("POST", "/healthz", context, false, loopback).status, 405u);
    EXPECT_TRUE(answer_admin("DELETE", "/metrics", context, true, loopback).body.empty());
}

class dropped_player final : public engine::subscriber {
public:
    void deliver(const protocol::message&, engine::media_class) override {}
    void on_publish_start() override {}
    void on_publish_stop() override {}
    void on_drop() override { ++drops; }
    int drops = 0;
};

TEST(admin_http, drop_ends_the_publisher_and_every_player_of_an_engine_stream) {
    server_context context{config{}};
    int publisher_drops = 0;
    const auto owner = context.streams.new_publisher();
    ASSERT_TRUE(context.streams.publish("live/a b", owner, [&] { ++publisher_drops; }));
    std::vector<std::shared_ptr<dropped_player>> players;
    for (int i = 0; i < 2; ++i) {
        players.push_back(std::make_shared<dropped_player>());
        std::vector<protocol::message> initial;
        bool playing = false;
        context.streams.subscribe("live/a b", players.back(), initial, playing);
        EXPECT_TRUE(playing);
    }
    const auto reply = answer_admin("POST", "/streams/live/a%20b/drop", context, false, loopback);
    EXPECT_EQ(reply.status, 200u);
    EXPECT_EQ(reply.body, "dropped publisher=1 players=2\n");
    EXPECT_EQ(publisher_drops, 1);
    for (const auto& p : players) EXPECT_EQ(p->drops, 1);
    EXPECT_EQ(context.stats.streams_dropped, 1u);
    EXPECT_NE(render_metrics(context).find("rtmpgate_streams_dropped_total 1\n"),
              std::string::npos);
}

TEST(admin_http, drop_of_a_stream_with_only_waiting_players_ends_them) {
    server_context context{config{}};
    auto waiting = std::make_shared<dropped_player>();
    std::vector<protocol::message> initial;
    bool playing = true;
    context.streams.subscribe("live/later", waiting, initial, playing);
    EXPECT_FALSE(playing);
    const auto reply = answer_admin("POST", "/streams/live/later/drop", context, false, loopback);
    EXPECT_EQ(reply.status, 200u);
    EXPECT_EQ(reply.body, "dropped publisher=0 players=1\n");
    EXPECT_EQ(waiting->drops, 1);
}

TEST(admin_http, drop_answers_404_405_403_and_400) {
    server_context context{config{}};
    ASSERT_TRUE(context.streams.publish("live/a", context.streams.new_publisher()));
    EXPECT_EQ(answer_admin("POST", "/streams/live/b/drop", context, false, loopback).status, 404u);
    EXPECT_EQ(answer_admin("POST", "/streams/other/a/drop", context, false, loopback).status, 404u);
    const auto get = answer_admin("GET", "/streams/live/a/drop", context, false, loopback);
    EXPECT_EQ(get.status, 405u);
    EXPECT_EQ(get.allow, "POST");
    EXPECT_EQ(answer_admin("DELETE", "/streams/live/a/drop", context, false, loopback).status,
              405u);
    // Not in admin_allow (127.0.0.0/8 and ::1 by default): refused whether the stream exists.
    const auto outsider = asio::ip::make_address("192.0.2.1");
    EXPECT_EQ(answer_admin("POST", "/streams/live/a/drop", context, false, outsider).status, 403u);
    EXPECT_EQ(answer_admin("POST", "/streams/live/b/drop", context, false, outsider).status, 403u);
    EXPECT_EQ(
        answer_admin("POST", "/streams/live/a/drop", context, false, asio::ip::make_address("::1"))
            .status,
        200u);
    EXPECT_EQ(answer_admin("POST", "/streams/live/a%2/drop", context, false, loopback).status,
              400u);
    EXPECT_EQ(answer_admin("POST", "/streams/live/drop", context, false, loopback).status, 400u);
    // /healthz and /metrics still answer anyone who reaches the listener.
    EXPECT_EQ(answer_admin("GET", "/metrics", context, false, outsider).status, 200u);
    EXPECT_EQ(answer_admin("GET", "/healthz", context, false, outsider).status, 200u);
}

TEST(admin_http, admin_allow_decides_who_may_drop) {
    auto c =
        parse_config("listeners:\n  rtmp: 127.0.0.1:0\nadmin_allow: [10.0.0.0/8]\n", "test.yaml");
    server_context context{std::move(c)};
    ASSERT_TRUE(context.streams.publish("live/a", context.streams.new_publisher()));
    EXPECT_EQ(answer_admin("POST", "/streams/live/a/drop", context, false, loopback).status, 403u);
    EXPECT_EQ(answer_admin("POST", "/streams/live/a/drop", context, false,
                           asio::ip::make_address("10.1.2.3"))
                  .status,
              200u);
}

TEST(admin_http, drop_target_keys_are_percent_decoded) {
    EXPECT_EQ(drop_target_key("/streams/live/key/drop"), "live/key");
    EXPECT_EQ(drop_target_key("/streams/live/a%2Fb/drop"), "live/a/b");
    EXPECT_EQ(drop_target_key("/streams/live/a/b/drop"), "live/a/b");
    EXPECT_EQ(drop_target_key("/streams/my%20app/k%C3%A9y/drop?x=1"), "my app/k\xC3\xA9y");
    EXPECT_EQ(drop_target_key("/streams/live/%zz/drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/streams/live/%00/drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/streams/live/a%/drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/streams//key/drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/streams/live//drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/streams/drop"), std::nullopt);
    EXPECT_EQ(drop_target_key("/stream/live/key/drop"), std::nullopt);
}

}  // namespace
}  // namespace rtmpgate::gateway::admin
