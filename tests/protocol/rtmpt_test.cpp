#include "protocol/rtmpt.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtmpgate::protocol {
namespace {

struct parsed_case {
    const char* method;
    const char* target;
    rtmpt_command command;
    std::string_view session_id;
    std::optional<std::uint64_t> sequence;
};

void expect_parsed(const parsed_case& c) {
    const std::string_view target = c.target;
    const auto r = parse_rtmpt_request(c.method, target);
    ASSERT_TRUE(r) << c.target << ": " << r.error().message();
    EXPECT_EQ(r->command, c.command) << c.target;
    EXPECT_EQ(r->session_id, c.session_id) << c.target;
    EXPECT_EQ(r->sequence, c.sequence) << c.target;
    if (!r->session_id.empty()) {
        // A view into the caller's target, not a copy.
        EXPECT_GE(r->session_id.data(), target.data()) << c.target;
        EXPECT_LE(r->session_id.data() + r->session_id.size(), target.data() + target.size())
            << c.target;
    }
}

void expect_error(std::string_view method, std::string_view target, error e) {
    const auto r = parse_rtmpt_request(method, target);
    ASSERT_FALSE(r) << method << " " << target;
    EXPECT_EQ(r.error(), e) << method << " " << target;
}

// ffmpeg 5.1 libavformat/rtmphttp.c: POST /open/1, then /send, /idle and /close with a 64-bit
// sequence counter from 0, the id as the server gave it without trailing white space.
TEST(rtmpt_parse, ffmpeg_forms) {
    const parsed_case cases[] = {
        {"POST", "/open/1", rtmpt_command::open, {}, std::nullopt},
        {"POST", "/send/Zx81k2LmQp0aB7cD/0", rtmpt_command::send, "Zx81k2LmQp0aB7cD", 0},
        {"POST", "/idle/Zx81k2LmQp0aB7cD/1", rtmpt_command::idle, "Zx81k2LmQp0aB7cD", 1},
        {"POST", "/send/Zx81k2LmQp0aB7cD/2", rtmpt_command::send, "Zx81k2LmQp0aB7cD", 2},
        {"POST", "/close/Zx81k2LmQp0aB7cD/3", rtmpt_command::close, "Zx81k2LmQp0aB7cD", 3},
    };
    for (const auto& c : cases) expect_parsed(c);
}

// librtmp (rtmpdump 2.4) HTTP_Post: "POST /%s%s/%d" with the id kept as "/<id>", so the same
// paths; its counter restarts at 0 after /open/1. A node-prefixed id goes through unchanged.
TEST(rtmpt_parse, librtmp_forms) {
    const parsed_case cases[] = {
        {"POST", "/open/1", rtmpt_command::open, {}, std::nullopt},
        {"POST", "/idle/n1-4fGh7Jk9Lm2Np5Qr/0", rtmpt_command::idle, "n1-4fGh7Jk9Lm2Np5Qr", 0},
        {"POST", "/send/n1-4fGh7Jk9Lm2Np5Qr/1", rtmpt_command::send, "n1-4fGh7Jk9Lm2Np5Qr", 1},
        {"POST", "/close/n1-4fGh7Jk9Lm2Np5Qr/2", rtmpt_command::close, "n1-4fGh7Jk9Lm2Np5Qr", 2},
    };
    for (const auto& c : cases) expect_parsed(c);
}

// Flash Player, HaishinKit and other Flash-style SDKs: /fcs/ident2 first, /close without a
// sequence number on teardown, sequence numbers from 1.
TEST(rtmpt_parse, flash_style_forms) {
    const parsed_case cases[] = {
        {"POST", "/fcs/ident2", rtmpt_command::ident, {}, std::nullopt},
        {"GET", "/fcs/ident2", rtmpt_command::ident, {}, std::nullopt},
        {"GET", "/fcs/ident", rtmpt_command::ident, {}, std::nullopt},
        {"POST", "/fcs/ident", rtmpt_command::ident, {}, std::nullopt},
        {"POST", "/idle/abc123/0", rtmpt_command::idle, "abc123", 0},
        {"POST", "/send/abc123/1", rtmpt_command::send, "abc123", 1},
        {"POST", "/close/abc123", rtmpt_command::close, "abc123", std::nullopt},
    };
    for (const auto& c : cases) expect_parsed(c);
}

// What proxies and odd clients do to the target: absolute form (RFC 9112 3.2.2), a query string,
// one trailing slash, the largest sequence number.
TEST(rtmpt_parse, tolerated_target_forms) {
    const parsed_case cases[] = {
        {"POST", "http://gw.example:80/idle/abc123/7", rtmpt_command::idle, "abc123", 7},
        {"POST", "https://gw.example/send/abc123/8", rtmpt_command::send, "abc123", 8},
        {"POST", "http://gw.example/open/1", rtmpt_command::open, {}, std::nullopt},
        {"POST", "http://gw.example/fcs/ident2", rtmpt_command::ident, {}, std::nullopt},
        {"POST", "/send/abc123/9?cachebuster=123", rtmpt_command::send, "abc123", 9},
        {"POST", "http://gw.example/close/abc123?x=/y/z", rtmpt_command::close, "abc123",
         std::nullopt},
        {"POST", "/open/1?", rtmpt_command::open, {}, std::nullopt},
        {"POST", "/idle/abc123/10/", rtmpt_command::idle, "abc123", 10},
        {"POST", "/fcs/ident2/", rtmpt_command::ident, {}, std::nullopt},
        {"POST", "/close/abc123/", rtmpt_command::close, "abc123", std::nullopt},
        {"POST", "/send/abc123/18446744073709551615", rtmpt_command::send, "abc123", UINT64_MAX},
        {"POST", "/send/abc123/00000000000000000001", rtmpt_command::send, "abc123", 1},
        {"POST", "/open/0", rtmpt_command::open, {}, std::nullopt},
    };
    for (const auto& c : cases) expect_parsed(c);
}

TEST(rtmpt_parse, longest_session_id) {
    const std::string id(rtmpt_session_id_max_length, 'a');
    const std::string target = "/idle/" + id + "/5";
    expect_parsed({"POST", target.c_str(), rtmpt_command::idle, id, 5});
    const std::string too_long = "/idle/" + id + "a/5";
    expect_error("POST", too_long, error::rtmpt_bad_session_id);
}

TEST(rtmpt_parse, unknown_command) {
    for (const char* target : {
             "",
             "/",
             "*",
             "open/1",
             "//open/1",
             "/OPEN/1",
             "/Send/abc/1",
             "/index.html",
             "/favicon.ico",
             "/fcs",
             "/fcs/",
             "/fcs/ident3",
             "/fcs/ident2/x",
             "/open/1/2",
             "/send/abc123/1/2",
             "/idle/abc123/1/x/y",
             "/send/abc123/1//",
             "http://gw.example",
             "http://gw.example?/open/1",
             "http://gw.example#/open/1",
             "/?/open/1",
             "/opens/1",
             "/ send/abc/1",
         }) {
        expect_error("POST", target, error::rtmpt_unknown_command);
    }
    // A browser's GET / is "not found", not "method not allowed".
    expect_error("GET", "/", error::rtmpt_unknown_command);
}

TEST(rtmpt_parse, bad_session_id) {
    for (const char* target : {
             "/send",
             "/idle/",
             "/close",
             "/send//1",
             "/idle/abc_123/1",
             "/idle/abc.123/1",
             "/send/a-b-c/1",
             "/send/-abc/1",
             "/send/abc-/1",
             "/close/-",
             "/idle/%41bc/1",
             "/send/abc def/1",
         }) {
        expect_error("POST", target, error::rtmpt_bad_session_id);
    }
}

TEST(rtmpt_parse, bad_sequence) {
    for (const char* target : {
             "/open",
             "/open/",
             "/open/x",
             "/open/-1",
             "/send/abc123",
             "/idle/abc123",
             "/send/abc123/",
             "/idle/abc123/1a",
             "/idle/abc123/+1",
             "/send/abc123/ 1",
             "/send/abc123/18446744073709551616",
             "/send/abc123/99999999999999999999",
             "/send/abc123/000000000000000000001",
             "/close/abc123/x",
             "/idle/abc123/0x10",
         }) {
        expect_error("POST", target, error::rtmpt_bad_sequence);
    }
}

TEST(rtmpt_parse, bad_method) {
    for (const char* method : {"GET", "post", "PUT", "HEAD", ""}) {
        expect_error(method, "/open/1", error::rtmpt_bad_method);
        expect_error(method, "/send/abc123/0", error::rtmpt_bad_method);
        expect_error(method, "/idle/abc123/0", error::rtmpt_bad_method);
        expect_error(method, "/close/abc123", error::rtmpt_bad_method);
    }
    for (const char* method : {"HEAD", "PUT", "get"})
        expect_error(method, "/fcs/ident2", error::rtmpt_bad_method);
}

// Errors come in the documented order: command, session id, sequence, method.
TEST(rtmpt_parse, error_order) {
    expect_error("GET", "/nope/abc_/x", error::rtmpt_unknown_command);
    expect_error("GET", "/send/abc_/x", error::rtmpt_bad_session_id);
    expect_error("GET", "/send/abc/x", error::rtmpt_bad_sequence);
    expect_error("GET", "/send/abc/1", error::rtmpt_bad_method);
}

TEST(rtmpt_session_id, validity) {
    for (std::string_view id : {"a", "Z", "0", "abc123XYZ", "n1-abc", "node7-Zx81k2LmQp0aB7cD"})
        EXPECT_TRUE(is_valid_rtmpt_session_id(id)) << id;
    EXPECT_TRUE(is_valid_rtmpt_session_id(std::string(63, 'x')));
    EXPECT_TRUE(is_valid_rtmpt_session_id(std::string(31, 'n') + "-" + std::string(31, 'r')));
    for (std::string_view id :
         {"", "-", "-abc", "abc-", "a-b-c", "a--b", "abc_def", "abc def", "abc\n", "ab/c", "é"})
        EXPECT_FALSE(is_valid_rtmpt_session_id(id)) << id;
    EXPECT_FALSE(is_valid_rtmpt_session_id(std::string(64, 'x')));
    EXPECT_FALSE(is_valid_rtmpt_session_id(std::string(32, 'n') + "-" + std::string(31, 'r')));
    EXPECT_FALSE(is_valid_rtmpt_session_id(std::string_view("ab\0c", 4)));
}

TEST(rtmpt_session_id, format) {
    auto id = format_rtmpt_session_id("", "Zx81k2LmQp0aB7cD");
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, "Zx81k2LmQp0aB7cD");
    id = format_rtmpt_session_id("gw2", "Zx81k2LmQp0aB7cD");
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, "gw2-Zx81k2LmQp0aB7cD");
    EXPECT_EQ(rtmpt_session_node(*id), "gw2");
    EXPECT_EQ(rtmpt_session_node("Zx81k2LmQp0aB7cD"), "");

    const std::pair<std::string_view, std::string_view> refused[] = {
        {"", ""},                         // nothing random
        {"gw2", ""},                      // "gw2-"
        {"g-w", "abc"},                   // '-' in the node
        {"gw", "a-b"},                    // '-' in the random part
        {"", "a-b"},                      // would pass as node "a", random "b"
        {"", "-ab"},    {"gw_2", "abc"},  // not alphanumeric
        {"gw", "ab c"},
    };
    for (const auto& [node, random] : refused) {
        const auto r = format_rtmpt_session_id(node, random);
        ASSERT_FALSE(r) << node << "|" << random;
        EXPECT_EQ(r.error(), error::rtmpt_bad_session_id);
    }
    // 63 characters in all is the most ffmpeg can read back.
    EXPECT_TRUE(format_rtmpt_session_id("n", std::string(61, 'r')));
    EXPECT_FALSE(format_rtmpt_session_id("n", std::string(62, 'r')));
}

TEST(rtmpt_poll_delay, red5_rule) {
    for (std::uint32_t n = 0; n <= 10; ++n)
        EXPECT_EQ(rtmpt_poll_delay(n), rtmpt_poll_delay_min) << n;
    EXPECT_EQ(rtmpt_poll_delay(11), 0x03);  // delay 2
    EXPECT_EQ(rtmpt_poll_delay(12), 0x05);  // 4
    EXPECT_EQ(rtmpt_poll_delay(13), 0x09);  // 8
    EXPECT_EQ(rtmpt_poll_delay(14), 0x11);  // 16
    EXPECT_EQ(rtmpt_poll_delay(15), 0x21);  // 32, the cap
    EXPECT_EQ(rtmpt_poll_delay(16), rtmpt_poll_delay_max);
    EXPECT_EQ(rtmpt_poll_delay(1000), rtmpt_poll_delay_max);
    EXPECT_EQ(rtmpt_poll_delay(UINT32_MAX), rtmpt_poll_delay_max);
}

TEST(rtmpt_reply, exact_bodies) {
    // /open: the id and exactly one LF, no poll byte.
    EXPECT_EQ(make_rtmpt_open_reply("gw2-Zx81"),
              (std::vector<std::uint8_t>{'g', 'w', '2', '-', 'Z', 'x', '8', '1', '\n'}));
    // /close: one 0x00.
    EXPECT_EQ(make_rtmpt_close_reply(), (std::vector<std::uint8_t>{0x00}));
}

// The head the gateway wrote through Beast (http::response, prepare_payload) before it wrote
// heads itself, for a 200 with 1234 body octets: these lines, in this order, byte for byte.
constexpr std::string_view ok_head_1234 =
    "HTTP/1.1 200 OK\r\n"                  // HTTP/1.1 also to an HTTP/1.0 request
    "Server: rtmpgate\r\n"                 //
    "Content-Type: application/x-fcs\r\n"  // what Flash Player sent and expected
    "Cache-Control: no-cache\r\n"          // no proxy may answer a poll from a cache
    "Connection: Keep-Alive\r\n"           // neither ffmpeg nor librtmp reconnects
    "Content-Length: 1234\r\n"             // librtmp searches for "Content-", case-sensitive
    "\r\n";                                // no Transfer-Encoding: never chunked

// The same, for each status the gateway sends, with the connection kept and, for the requests
// it cannot read on (400, 413), closed: Beast's set() moved Connection after Content-Length.
std::string expected_head(std::string_view status_line, std::size_t length, bool keep_alive) {
    std::string head(status_line);
    head +=
        "\r\nServer: rtmpgate\r\nContent-Type: application/x-fcs\r\n"
        "Cache-Control: no-cache\r\n";
    if (keep_alive) head += "Connection: Keep-Alive\r\n";
    head += "Content-Length: " + std::to_string(length) + "\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    return head + "\r\n";
}

TEST(rtmpt_reply, head_is_what_beast_wrote) {
    EXPECT_EQ(make_rtmpt_reply_head(rtmpt_status::ok, 1234), ok_head_1234);
    EXPECT_EQ(expected_head("HTTP/1.1 200 OK", 1234, true), ok_head_1234);
    // Each status the gateway sends, and its line as Beast wrote it.
    const rtmpt_status statuses[] = {rtmpt_status::ok,
                                     rtmpt_status::bad_request,
                                     rtmpt_status::not_found,
                                     rtmpt_status::method_not_allowed,
                                     rtmpt_status::request_timeout,
                                     rtmpt_status::payload_too_large,
                                     rtmpt_status::service_unavailable};
    const std::string_view lines[] = {"HTTP/1.1 200 OK",
                                      "HTTP/1.1 400 Bad Request",
                                      "HTTP/1.1 404 Not Found",
                                      "HTTP/1.1 405 Method Not Allowed",
                                      "HTTP/1.1 408 Request Timeout",
                                      "HTTP/1.1 413 Payload Too Large",
                                      "HTTP/1.1 503 Service Unavailable"};
    for (std::size_t i = 0; i < std::size(statuses); ++i) {
        for (const std::size_t length :
             {std::size_t{0}, std::size_t{1}, std::size_t{9}, std::size_t{1} << 20, SIZE_MAX}) {
            for (const bool keep_alive : {true, false}) {
                EXPECT_EQ(make_rtmpt_reply_head(statuses[i], length, keep_alive),
                          expected_head(lines[i], length, keep_alive))
                    << lines[i] << " " << length << " " << keep_alive;
            }
        }
    }
}

TEST(rtmpt_reply, poll_reply_head_ends_with_the_poll_byte) {
    // /send and /idle: never empty, the poll byte first; Content-Length counts it.
    std::string with_nothing = expected_head("HTTP/1.1 200 OK", 1, true);
    with_nothing.push_back('\x01');
    EXPECT_EQ(make_rtmpt_poll_reply_head(0x01, 0), with_nothing);
    std::string with_1233(ok_head_1234);
    with_1233.push_back('\x21');
    EXPECT_EQ(make_rtmpt_poll_reply_head(0x21, 1233), with_1233);
    // The pending octets follow the poll byte: head + pending is the whole reply.
    const std::vector<std::uint8_t> pending = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05};
    auto reply = make_rtmpt_poll_reply_head(0x21, pending.size());
    reply.append(pending.begin(), pending.end());
    const std::string body = {'\x21', 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05};
    EXPECT_EQ(reply, expected_head("HTTP/1.1 200 OK", 9, true) + body);
}

}  // namespace
}  // namespace rtmpgate::protocol
