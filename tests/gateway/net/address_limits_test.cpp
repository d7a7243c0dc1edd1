#include "gateway/net/address_limits.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;
using kind = address_limits::kind;
using clock = address_limits::clock;

asio::ip::address ip(const std::string& text) { return asio::ip::make_address(text); }

// Settings with the given maxima (0: none) and the other fields at their defaults.
address_limit_settings settings(std::size_t connections, std::size_t sessions = 0,
                                std::size_t opens = 0) {
    address_limit_settings s;
    s.max_connections = connections;
    s.max_sessions = sessions;
    s.max_opens_per_second = opens;
    return s;
}

TEST(address_limits, a_limit_of_zero_holds_nothing_and_refuses_nothing) {
    address_limits limits({});
    std::vector<address_limits::place> places;
    for (int i = 0; i < 100; ++i) {
        auto p = limits.take(kind::connection, ip("192.0.2.1"));
        ASSERT_TRUE(p);
        EXPECT_FALSE(p->holds());
        places.push_back(std::move(*p));
    }
    EXPECT_EQ(limits.addresses(kind::connection), 0u);
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.1")));
}

TEST(address_limits, refuses_past_the_maximum_per_address_and_takes_again_after_a_release) {
    address_limits limits(settings(3));
    std::vector<std::optional<address_limits::place>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(limits.take(kind::connection, ip("192.0.2.1")));
        ASSERT_TRUE(held.back());
        EXPECT_TRUE(held.back()->holds());
    }
    EXPECT_FALSE(limits.take(kind::connection, ip("192.0.2.1")));
    // Another address, and the other kind, have their own counts.
    EXPECT_TRUE(limits.take(kind::connection, ip("192.0.2.2")));
    EXPECT_EQ(limits.held(kind::connection, ip("192.0.2.1")), 3u);
    held.pop_back();  // one closes
    EXPECT_EQ(limits.held(kind::connection, ip("192.0.2.1")), 2u);
    auto again = limits.take(kind::connection, ip("192.0.2.1"));
    ASSERT_TRUE(again);
    EXPECT_FALSE(limits.take(kind::connection, ip("192.0.2.1")));
}

TEST(address_limits, an_address_is_forgotten_when_its_count_drops_to_zero) {
    address_limits limits(settings(2, 1));
    {
        auto a = limits.take(kind::session, ip("2001:db8::1"));
        auto b = limits.take(kind::connection, ip("2001:db8::1"));
        ASSERT_TRUE(a && b);
        EXPECT_EQ(limits.addresses(kind::session), 1u);
        EXPECT_EQ(limits.addresses(kind::connection), 1u);
        EXPECT_FALSE(limits.take(kind::session, ip("2001:db8::1")));
        // A place moved from is empty: the count is given back once, by the one moved to.
        address_limits::place moved = std::move(*a);
        a.reset();
        EXPECT_EQ(limits.held(kind::session, ip("2001:db8::1")), 1u);
    }
    EXPECT_EQ(limits.addresses(kind::session), 0u);
    EXPECT_EQ(limits.addresses(kind::connection), 0u);
    EXPECT_EQ(limits.held(kind::session, ip("2001:db8::1")), 0u);
}

TEST(address_limits, an_ipv4_mapped_address_is_its_ipv4_address) {
    address_limits limits(settings(1));
    auto p = limits.take(kind::connection, ip("::ffff:192.0.2.7"));
    ASSERT_TRUE(p);
    EXPECT_FALSE(limits.take(kind::connection, ip("192.0.2.7")));
    EXPECT_EQ(limits.held(kind::connection, ip("192.0.2.7")), 1u);
}

TEST(address_limits, opens_per_second_per_address) {
    address_limits limits(settings(0, 0, 2));
    const auto t0 = clock::now();
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.1"), t0));
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.1"), t0 + 100ms));
    EXPECT_FALSE(limits.allow_open(ip("192.0.2.1"), t0 + 200ms));
    EXPECT_FALSE(limits.allow_open(ip("192.0.2.1"), t0 + 999ms));
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.2"), t0 + 999ms));  // its own second
    // A second after the first of them, a new second begins.
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.1"), t0 + 1000ms));
    EXPECT_TRUE(limits.allow_open(ip("192.0.2.1"), t0 + 1500ms));
    EXPECT_FALSE(limits.allow_open(ip("192.0.2.1"), t0 + 1999ms));
}

TEST(address_limits, the_rate_table_is_bounded_and_its_old_entries_expire) {
    auto s = settings(0, 0, 1);
    s.max_rate_addresses = 4;
    address_limits limits(s);
    const auto t0 = clock::now();
    const auto nth = [](int i) { return asio::ip::make_address_v4(0xC0000200u + i); };
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(limits.allow_open(nth(i), t0));
    EXPECT_EQ(limits.rate_addresses(), 4u);
    // Full of live entries: a fifth address goes through uncounted, the table does not grow.
    EXPECT_TRUE(limits.allow_open(nth(4), t0 + 10ms));
    EXPECT_TRUE(limits.allow_open(nth(4), t0 + 20ms));
    EXPECT_EQ(limits.rate_addresses(), 4u);
    // The counted ones are still counted.
    EXPECT_FALSE(limits.allow_open(nth(0), t0 + 30ms));
    // A second on, the old entries are swept for a new address, which is counted.
    EXPECT_TRUE(limits.allow_open(nth(5), t0 + 1100ms));
    EXPECT_EQ(limits.rate_addresses(), 1u);
    EXPECT_FALSE(limits.allow_open(nth(5), t0 + 1200ms));
}

TEST(address_limits, logs_the_first_refusal_per_address_per_interval) {
    auto s = settings(0);
    s.max_log_addresses = 2;
    s.log_interval = 10s;
    address_limits limits(s);
    const auto t0 = clock::now();
    EXPECT_TRUE(limits.should_log(ip("192.0.2.1"), t0));
    EXPECT_FALSE(limits.should_log(ip("192.0.2.1"), t0 + 1s));
    EXPECT_FALSE(limits.should_log(ip("192.0.2.1"), t0 + 9s));
    EXPECT_TRUE(limits.should_log(ip("192.0.2.2"), t0 + 1s));
    // The table is full: a third address is not logged (its refusals are still counted).
    EXPECT_FALSE(limits.should_log(ip("192.0.2.3"), t0 + 2s));
    EXPECT_TRUE(limits.should_log(ip("192.0.2.1"), t0 + 10s));
    // Once the interval has passed for the others, they make room.
    EXPECT_TRUE(limits.should_log(ip("192.0.2.3"), t0 + 12s));
}

TEST(address_limits, places_taken_and_given_back_from_many_threads_balance) {
    address_limits limits(settings(1000));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&limits, t] {
            for (int i = 0; i < 2000; ++i) {
                auto p = limits.take(kind::connection,
                                     asio::ip::make_address_v4(0x0A000000u + (i % 7) + t));
                ASSERT_TRUE(p);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(limits.addresses(kind::connection), 0u);
}

}  // namespace
}  // namespace rtmpgate::gateway
