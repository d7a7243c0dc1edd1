#include "gateway/access/rules.hpp"

#include <gtest/gtest.h>

namespace rtmpgate::gateway::access {
namespace {

asio::ip::address addr(const char* text) { return asio::ip::make_address(text); }

ip_rule rule(bool allow, const char* network) {
    ip_rule r;
    r.allow = allow;
    if (std::string_view(network) == "all")
        r.any = true;
    else
        r.network = cidr::parse(network);
    return r;
}

TEST(access_rules, empty_rules_take_the_default) {
    action_policy p;
    auto v = evaluate_rules(p, addr("203.0.113.5"));
    EXPECT_TRUE(v.allowed);
    EXPECT_FALSE(v.matched);
    p.default_allow = false;
    v = evaluate_rules(p, addr("203.0.113.5"));
    EXPECT_FALSE(v.allowed);
    EXPECT_FALSE(v.matched);
}

TEST(access_rules, first_match_wins_in_order) {
    action_policy p;
    p.rules = {rule(false, "10.1.0.0/16"), rule(true, "10.0.0.0/8"), rule(false, "all")};
    auto v = evaluate_rules(p, addr("10.1.2.3"));
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.matched, 0u);
    v = evaluate_rules(p, addr("10.2.0.1"));
    EXPECT_TRUE(v.allowed);
    EXPECT_EQ(v.matched, 1u);
    v = evaluate_rules(p, addr("192.0.2.1"));
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.matched, 2u);
    v = evaluate_rules(p, addr("2001:db8::1"));  // "all" is IPv6 too
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.matched, 2u);
}

TEST(access_rules, no_match_falls_to_the_default) {
    action_policy p;
    p.rules = {rule(true, "127.0.0.1"), rule(true, "::1")};
    p.default_allow = false;
    EXPECT_TRUE(evaluate_rules(p, addr("127.0.0.1")).allowed);
    EXPECT_EQ(evaluate_rules(p, addr("::1")).matched, 1u);
    const auto v = evaluate_rules(p, addr("127.0.0.2"));
    EXPECT_FALSE(v.allowed);
    EXPECT_FALSE(v.matched);
}

TEST(access_rules, ipv4_mapped_addresses_are_ipv4) {
    action_policy p;
    p.rules = {rule(false, "192.0.2.0/24"), rule(true, "::/0")};
    p.default_allow = true;
    // A dual-stack socket's ::ffff:192.0.2.7 is 192.0.2.7: denied by the IPv4 rule.
    auto v = evaluate_rules(p, addr("::ffff:192.0.2.7"));
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.matched, 0u);
    // ::/0 holds every IPv6 address but not an IPv4-mapped one.
    v = evaluate_rules(p, addr("::ffff:198.51.100.1"));
    EXPECT_FALSE(v.matched);
    EXPECT_EQ(evaluate_rules(p, addr("2001:db8::2")).matched, 1u);
}

TEST(access_policy, open_publish) {
    policy p;
    EXPECT_TRUE(p.open_publish());
    p.publish.rules = {rule(true, "10.0.0.0/8")};
    EXPECT_TRUE(p.open_publish());
    p.publish.rules.push_back(rule(false, "all"));
    EXPECT_FALSE(p.open_publish());
    p.publish.rules.clear();
    p.publish.default_allow = false;
    EXPECT_FALSE(p.open_publish());
    p.publish.default_allow = true;
    p.publish.token = true;
    EXPECT_FALSE(p.open_publish());
    p.publish.token = false;
    p.hooks.on_publish = "http://127.0.0.1/p";
    EXPECT_FALSE(p.open_publish());
    p.hooks.on_publish.clear();
    p.hooks.on_connect = "http://127.0.0.1/c";
    EXPECT_FALSE(p.open_publish());
    p.hooks.on_connect.clear();
    // Play restrictions and notify hooks do not make publishing any less open.
    p.play.default_allow = false;
    p.play.token = true;
    p.hooks.on_publish_done = "http://127.0.0.1/d";
    EXPECT_TRUE(p.open_publish());
}

}  // namespace
}  // namespace rtmpgate::gateway::access
