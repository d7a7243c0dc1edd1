#include "gateway/access/hook_body.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace rtmpgate::gateway::access {
namespace {

namespace json = boost::json;

std::string text_of(const json::value& v) { return std::string(v.as_string()); }

request sample() {
    request r;
    r.what = action::publish;
    r.app = "live";
    r.stream = "key";
    r.args = {{"token", "abc"}, {"expires", "10"}, {"token", "second"}};
    r.client = client_address(tcp::endpoint(asio::ip::make_address("203.0.113.5"), 41000));
    r.transport = "rtmps";
    r.route = "live";
    r.connection_id = "conn 12";
    return r;
}

TEST(make_hook_body, holds_every_field_and_parses_back) {
    const auto text = make_hook_body(sample(), "publish", "node-a");
    const auto v = json::parse(text);
    const auto& o = v.as_object();
    EXPECT_EQ(text_of(o.at("action")), "publish");
    EXPECT_EQ(text_of(o.at("app")), "live");
    EXPECT_EQ(text_of(o.at("stream")), "key");
    EXPECT_EQ(text_of(o.at("client")), "203.0.113.5");
    EXPECT_EQ(o.at("client_port").to_number<int>(), 41000);
    EXPECT_EQ(text_of(o.at("transport")), "rtmps");
    EXPECT_EQ(text_of(o.at("route")), "live");
    EXPECT_EQ(text_of(o.at("connection")), "conn 12");
    EXPECT_EQ(text_of(o.at("node")), "node-a");
    const auto& args = o.at("args").as_object();
    EXPECT_EQ(args.size(), 2u);
    EXPECT_EQ(text_of(args.at("token")), "abc");  // the first occurrence wins
    EXPECT_EQ(text_of(args.at("expires")), "10");
}

TEST(make_hook_body, an_ipv6_client_is_its_address_alone) {
    auto r = sample();
    r.client = client_address(tcp::endpoint(asio::ip::make_address("2001:db8::1"), 5000));
    const auto v = json::parse(make_hook_body(r, "play_done", "n"));
    EXPECT_EQ(text_of(v.as_object().at("client")), "2001:db8::1");
    EXPECT_EQ(v.as_object().at("client_port").to_number<int>(), 5000);
    EXPECT_EQ(text_of(v.as_object().at("action")), "play_done");
}

TEST(make_hook_body, escapes_quotes_and_control_characters) {
    auto r = sample();
    r.stream = std::string("a\"b\\c\nd\x01\x1f") + '\0' + "e";
    r.args = {{"k\"", "v\r\n"}};
    const auto text = make_hook_body(r, "publish", "n");
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_EQ(text.find('\x01'), std::string::npos);
    const auto v = json::parse(text);
    EXPECT_EQ(std::string(v.as_object().at("stream").as_string()), r.stream);
    EXPECT_EQ(text_of(v.as_object().at("args").as_object().at("k\"")), "v\r\n");
}

TEST(make_hook_body, invalid_utf8_becomes_replacement_characters) {
    auto r = sample();
    r.stream = "a\xff\xc3(b\xe2\x82\xac";  // 0xFF, a truncated sequence, then a valid "€"
    r.app = "\xed\xa0\x80";                // an encoded surrogate
    const auto v = json::parse(make_hook_body(r, "publish", "n"));
    EXPECT_EQ(text_of(v.as_object().at("stream")), "a\xEF\xBF\xBD\xEF\xBF\xBD(b\xe2\x82\xac");
    EXPECT_EQ(text_of(v.as_object().at("app")), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(parse_hook_reply, an_empty_body_changes_nothing) {
    for (const char* body : {"", " \r\n\t"}) {
        const auto r = parse_hook_reply(body);
        ASSERT_TRUE(r) << r.error();
        EXPECT_EQ(r->rename, "");
        EXPECT_FALSE(r->backend);
    }
    const auto empty_object = parse_hook_reply("{}");
    ASSERT_TRUE(empty_object);
    EXPECT_EQ(empty_object->rename, "");
    EXPECT_FALSE(empty_object->backend);
}

TEST(parse_hook_reply, a_new_name_and_a_backend) {
    const auto r = parse_hook_reply(
        R"({"stream": "room-7", "backend": "rtmps://media.example.com:8443", "note": [1, 2]})");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->rename, "room-7");
    ASSERT_TRUE(r->backend);
    EXPECT_TRUE(r->backend->tls);
    EXPECT_EQ(r->backend->host, "media.example.com");
    EXPECT_EQ(r->backend->port, 8443);
    EXPECT_EQ(r->backend->server_name, "media.example.com");

    const auto plain = parse_hook_reply(R"({"backend": "rtmp://[2001:db8::5]", "stream": null})");
    ASSERT_TRUE(plain) << plain.error();
    EXPECT_EQ(plain->rename, "");
    ASSERT_TRUE(plain->backend);
    EXPECT_FALSE(plain->backend->tls);
    EXPECT_EQ(plain->backend->host, "2001:db8::5");
    EXPECT_EQ(plain->backend->port, 1935);
}

TEST(parse_hook_reply, refuses_what_is_malformed) {
    const char* bad[] = {
        "OK",
        "[1, 2]",
        "\"stream\"",
        "{\"stream\": 5}",
        "{\"stream\": \"\"}",
        "{\"stream\": \"a/b\"}",
        "{\"stream\": \"a?b=1\"}",
        "{\"stream\": \"a\\nb\"}",
        "{\"stream\": [\"x\"]}",
        "{\"backend\": \"http://example.com\"}",
        "{\"backend\": \"engine\"}",
        "{\"backend\": \"rtmp://example.com/live\"}",
        "{\"backend\": \"rtmp://example.com:0\"}",
        "{\"backend\": true}",
        "{\"stream\": \"x\"",
    };
    for (const char* body : bad) {
        const auto r = parse_hook_reply(body);
        EXPECT_FALSE(r) << body;
        if (!r) {
            EXPECT_FALSE(r.error().empty());
        }
    }
}

TEST(parse_hook_reply, bounds_the_name_and_the_body) {
    const std::string longest(1024, 'n');
    EXPECT_TRUE(parse_hook_reply("{\"stream\": \"" + longest + "\"}"));
    EXPECT_FALSE(parse_hook_reply("{\"stream\": \"" + longest + "n\"}"));
    // A body over 64 KiB is refused whatever it holds.
    std::string huge = "{\"pad\": \"" + std::string(70 * 1024, ' ') + "\"}";
    const auto r = parse_hook_reply(huge);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("64 KiB"), std::string::npos);
    // Deep nesting is refused by the parser's depth limit, not by the stack.
    EXPECT_FALSE(parse_hook_reply(std::string(5000, '[') + std::string(5000, ']')));
}

}  // namespace
}  // namespace rtmpgate::gateway::access
