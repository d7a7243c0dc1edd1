#include "gateway/access/gate.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gateway/access/token.hpp"
#include "gateway/config/config.hpp"

namespace rtmpgate::gateway::access {
namespace {

constexpr const char* secret = "a-secret-of-thirty-two-octets-ok";

config parse(const std::string& yaml) {
    return parse_config("listeners: {rtmp: 127.0.0.1:0}\n" + yaml, "test.yaml");
}

// A secret file in the test's temporary directory.
std::string secret_file() {
    const auto path = std::filesystem::temp_directory_path() /
                      ("rtmpgate-gate-test-" + std::to_string(::getpid()) + ".key");
    std::ofstream(path) << secret << "\n";
    return path.string();
}

request publish_from(const char* address, std::string stream = "s") {
    request r;
    r.what = action::publish;
    r.app = "live";
    r.stream = std::move(stream);
    r.client = client_address(tcp::endpoint(asio::ip::make_address(address), 40000));
    r.transport = "rtmp";
    r.route = "live";
    r.connection_id = "conn 1";
    return r;
}

// Runs gate.decide to its end on an io_context of its own.
decision decide(gate& g, const request& r, const route& via, asio::io_context& io) {
    decision out;
    bool done = false;
    asio::co_spawn(io, g.decide(r, via), [&](std::exception_ptr e, decision d) {
        if (e) std::rethrow_exception(e);
        out = std::move(d);
        done = true;
    });
    io.restart();
    io.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(done);
    return out;
}

TEST(access_gate, decides_only_what_a_policy_can_refuse_or_ask) {
    policy p;
    EXPECT_FALSE(decides(p, action::connect));
    EXPECT_FALSE(decides(p, action::publish));
    EXPECT_FALSE(decides(p, action::play));
    p.play.default_allow = false;
    EXPECT_TRUE(decides(p, action::play));
    EXPECT_FALSE(decides(p, action::publish));
    p.publish.token = true;
    EXPECT_TRUE(decides(p, action::publish));
    p.hooks.on_connect = "http://127.0.0.1:1/c";
    EXPECT_TRUE(decides(p, action::connect));
    EXPECT_FALSE(notifies(p, action::publish));
    p.hooks.on_publish_done = "http://127.0.0.1:1/d";
    EXPECT_TRUE(notifies(p, action::publish));
    EXPECT_FALSE(notifies(p, action::play));
    EXPECT_FALSE(notifies(p, action::connect));
}

TEST(access_gate, warns_of_open_publishing_on_listeners_off_loopback_only) {
    auto c = parse(R"(routes:
  - app: locked
    to: engine
    access: {publish: {rules: ["allow 10.0.0.0/8"], default: deny}}
  - app: "*"
    to: engine
)");
    const tcp::endpoint any(asio::ip::make_address("0.0.0.0"), 1935);
    const tcp::endpoint loopback(asio::ip::make_address("127.0.0.1"), 1935);
    const tcp::endpoint mapped(asio::ip::make_address("::ffff:127.0.0.1"), 1935);
    const auto warning = open_publish_warning("rtmp", any, c.routes);
    EXPECT_NE(warning.find("listener rtmp on 0.0.0.0:1935 lets anyone publish"), std::string::npos)
        << warning;
    EXPECT_NE(warning.find("\"*\""), std::string::npos) << warning;
    EXPECT_EQ(warning.find("\"locked\""), std::string::npos) << warning;
    EXPECT_EQ(open_publish_warning("rtmp", loopback, c.routes), "");
    EXPECT_EQ(open_publish_warning("rtmp", mapped, c.routes), "");
    c.routes.pop_back();  // only the locked route
    EXPECT_EQ(open_publish_warning("rtmp", any, c.routes), "");
}

TEST(access_gate, address_rules_decide_with_their_reason) {
    const auto c = parse(R"(routes:
  - app: live
    to: engine
    access:
      publish: {rules: ["deny 10.1.0.0/16", "allow 10.0.0.0/8"], default: deny}
)");
    asio::io_context io;
    gate g(c, io.get_executor());
    auto d = decide(g, publish_from("10.2.3.4"), c.routes[0], io);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.why, reason::rule);
    d = decide(g, publish_from("10.1.3.4"), c.routes[0], io);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.why, reason::rule);
    d = decide(g, publish_from("192.0.2.1"), c.routes[0], io);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.why, reason::rule_default);
    d = decide(g, publish_from("::ffff:10.2.3.4"), c.routes[0], io);
    EXPECT_TRUE(d.allowed);
    EXPECT_FALSE(d.hook_called);

    std::string metrics;
    g.write_metrics(metrics);
    EXPECT_NE(metrics.find("rtmpgate_access_decisions_total{action=\"publish\",decision=\"refuse\","
                           "reason=\"rule\"} 1\n"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("rtmpgate_access_decisions_total{action=\"publish\",decision=\"allow\","
                           "reason=\"rule\"} 2\n"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("rtmpgate_hook_duration_seconds_count 0\n"), std::string::npos);
}

TEST(access_gate, a_token_in_the_stream_name_or_the_connect_url) {
    const auto file = secret_file();
    const auto c = parse(R"(routes:
  - app: live
    to: engine
    access:
      publish: {token: true}
      secret_files: [)" + file +
                         "]\n");
    asio::io_context io;
    gate g(c, io.get_executor());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto good = *parse_query(sign(secret, "live", "s", now + 60, std::nullopt));

    auto r = publish_from("203.0.113.9");
    EXPECT_EQ(decide(g, r, c.routes[0], io).why, reason::token_missing);
    r.args = good;
    r.stream_args = good.size();  // in the stream name's query
    auto d = decide(g, r, c.routes[0], io);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.why, reason::token_ok);
    r.stream_args = 0;  // in the connect URL's
    EXPECT_TRUE(decide(g, r, c.routes[0], io).allowed);
    r.stream = "t";  // signed for another stream
    EXPECT_EQ(decide(g, r, c.routes[0], io).why, reason::token_bad_signature);
    r.stream = "s";
    r.args = *parse_query(sign(secret, "live", "s", now - 1, std::nullopt));
    EXPECT_EQ(decide(g, r, c.routes[0], io).why, reason::token_expired);
    std::filesystem::remove(file);
}

TEST(access_gate, an_unreadable_secret_stops_start_up_naming_the_key) {
    const auto c = parse(R"(routes:
  - app: live
    to: engine
    access:
      publish: {token: true}
      secret_files: [/nonexistent/rtmpgate.key]
)");
    asio::io_context io;
    try {
        gate g(c, io.get_executor());
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("routes[0].access.secret_files[0]"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace rtmpgate::gateway::access
