#include "gateway/admin/streams_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <vector>

#include "gateway/admin/admin_http.hpp"
#include "gateway/admin/metrics.hpp"
#include "gateway/config/config.hpp"

namespace rtmpgate::gateway::admin {
namespace {

namespace json = boost::json;

const asio::ip::address loopback = asio::ip::make_address("127.0.0.1");
const asio::ip::address elsewhere = asio::ip::make_address("192.0.2.1");

class viewer final : public engine::subscriber {
public:
    explicit viewer(std::string_view transport) : transport_(transport) {}
    void deliver(const protocol::message&, engine::media_class) override {}
    void on_publish_start() override {}
    void on_publish_stop() override {}
    void on_drop() override {}
    std::string_view transport() const noexcept override { return transport_; }

private:
    std::string_view transport_;
};

config two_routes() {
    return parse_config(R"(
listeners:
  http: 0.0.0.0:0
  https: ""
routes:
  - app: relay
    to: rtmp://192.0.2.9:1936
  - app: "*"
    to: engine
)",
                        "test.yaml");
}

void play(server_context& context, const std::string& key, std::string_view transport) {
    std::vector<protocol::message> initial;
    bool playing = false;
    context.streams.subscribe(key, std::make_shared<viewer>(transport), initial, playing);
}

TEST(streams_json, lists_each_stream_with_its_route_publisher_codecs_and_players) {
    server_context context{two_routes()};
    context.http_port = 8080;  // as app/server sets it once bound
    ASSERT_TRUE(context.streams.publish("live/a", context.streams.new_publisher(), {},
                                        {"rtmps", "192.0.2.7:50312"}));
    play(context, "live/a", "ws-flv");
    play(context, "live/a", "ws-flv");
    play(context, "live/a", "rtmp");
    play(context, "live/a", engine::push_transport);
    // Octets that are no UTF-8, in a name a client chose.
    play(context, "live/b\xff", "http-flv");
    const auto reply = answer_admin("GET", "/streams", context, false, loopback);
    ASSERT_EQ(reply.status, 200u);
    EXPECT_EQ(reply.content_type, "application/json");
    boost::system::error_code ec;
    const auto v = json::parse(reply.body, ec);
    ASSERT_FALSE(ec) << reply.body;

    const auto& http = v.at("listeners").at("http");
    EXPECT_EQ(http.at("host").as_string(), "0.0.0.0");
    EXPECT_EQ(http.at("port").to_number<int>(), 8080);
    EXPECT_TRUE(v.at("listeners").at("https").is_null());
    EXPECT_TRUE(v.at("player_page").as_bool());  // player.enabled absent

    const auto& streams = v.at("streams").as_array();
    ASSERT_EQ(streams.size(), 2u);
    const auto& a = streams[0];
    EXPECT_EQ(a.at("key").as_string(), "live/a");
    EXPECT_EQ(a.at("app").as_string(), "live");
    EXPECT_EQ(a.at("name").as_string(), "a");
    EXPECT_EQ(a.at("route").at("index").to_number<int>(), 1);
    EXPECT_EQ(a.at("route").at("app").as_string(), "*");
    EXPECT_EQ(a.at("route").at("to").as_string(), "engine");
    EXPECT_TRUE(a.at("published").as_bool());
    EXPECT_EQ(a.at("publisher").at("transport").as_string(), "rtmps");
    EXPECT_EQ(a.at("publisher").at("address").as_string(), "192.0.2.7:50312");
    EXPECT_TRUE(a.at("since").is_string());
    EXPECT_TRUE(a.at("codecs").at("video").is_null());  // nothing published yet
    EXPECT_EQ(a.at("players").at("ws-flv").to_number<int>(), 2);
    EXPECT_EQ(a.at("players").at("rtmp").to_number<int>(), 1);
    EXPECT_FALSE(a.at("players").as_object().contains("push"));
    EXPECT_EQ(a.at("viewers").to_number<int>(), 3);
    EXPECT_EQ(a.at("pushes").to_number<int>(), 1);

    const auto& b = streams[1];
    EXPECT_EQ(b.at("name").as_string(), "b\xEF\xBF\xBD");  // U+FFFD for the stray octet
    EXPECT_FALSE(b.at("published").as_bool());
    EXPECT_TRUE(b.at("publisher").is_null());
    EXPECT_EQ(b.at("players").at("http-flv").to_number<int>(), 1);
}

TEST(streams_json, a_backend_route_is_named_by_its_url) {
    server_context context{two_routes()};
    play(context, "relay/x", "http-flv");
    const auto v = json::parse(render_streams_json(context));
    const auto& route = v.at("streams").at(0).at("route");
    EXPECT_EQ(route.at("index").to_number<int>(), 0);
    EXPECT_EQ(route.at("to").as_string(), "rtmp://192.0.2.9:1936");
    // Not bound (a unit test): the configured port.
    EXPECT_EQ(v.at("listeners").at("http").at("port").to_number<int>(), 0);

    auto without_player = two_routes();
    without_player.player.enabled = false;
    server_context off{without_player};
    EXPECT_FALSE(json::parse(render_streams_json(off)).at("player_page").as_bool());
}

TEST(streams_json, the_status_page_and_streams_are_for_admin_allow_only) {
    server_context context{config{}};
    const auto page = answer_admin("GET", "/", context, false, loopback);
    EXPECT_EQ(page.status, 200u);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("fetch(\"/streams\""), std::string::npos);
    EXPECT_EQ(answer_admin("GET", "/streams?x=1", context, false, loopback).status, 200u);
    EXPECT_EQ(answer_admin("GET", "/", context, false, elsewhere).status, 403u);
    EXPECT_EQ(answer_admin("GET", "/streams", context, false, elsewhere).status, 403u);
    EXPECT_EQ(answer_admin("POST", "/streams", context, false, loopback).status, 405u);
    EXPECT_EQ(answer_admin("GET", "/streams/", context, false, loopback).status, 404u);
}

TEST(streams_json, metrics_count_viewers_by_transport) {
    server_context context{config{}};
    play(context, "live/a", "rtmpts");
    play(context, "live/a", "ws-flv");
    play(context, "live/a", "ws-flv");
    play(context, "live/a", engine::push_transport);
    const auto text = render_metrics(context);
    EXPECT_NE(text.find("# TYPE rtmpgate_viewers gauge\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_viewers{transport=\"rtmp\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_viewers{transport=\"rtmpts\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_viewers{transport=\"ws-flv\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_viewers{transport=\"http-flv\"} 0\n"), std::string::npos);
    EXPECT_EQ(text.find("transport=\"push\""), std::string::npos);
}

}  // namespace
}  // namespace rtmpgate::gateway::admin
