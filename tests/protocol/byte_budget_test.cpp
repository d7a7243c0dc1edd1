#include "protocol/byte_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace rtmpgate::protocol {
namespace {

TEST(byte_budget, takes_up_to_its_limit_and_gives_back) {
    byte_budget b(100);
    EXPECT_TRUE(b.try_take(60));
    EXPECT_FALSE(b.try_take(41));  // nothing taken
    EXPECT_EQ(b.used(), 60u);
    EXPECT_TRUE(b.try_take(40));
    EXPECT_FALSE(b.try_take(1));
    b.give_back(100);
    EXPECT_EQ(b.used(), 0u);
    EXPECT_EQ(b.limit(), 100u);
    EXPECT_FALSE(b.try_take(101));
}

TEST(byte_budget, threads_racing_for_it_never_take_more_than_the_limit) {
    // Four threads take one byte at a time until refused, then give it all back, five times:
    // each round hands out exactly the limit, and the count ends at zero.
    constexpr std::uint64_t limit = 20000;
    byte_budget b(limit);
    for (int round = 0; round < 5; ++round) {
        std::atomic<std::uint64_t> taken{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                std::uint64_t mine = 0;
                while (b.try_take(1)) ++mine;
                taken += mine;
            });
        for (auto& t : threads) t.join();
        EXPECT_EQ(taken.load(), limit);
        EXPECT_EQ(b.used(), limit);
        b.give_back(limit);
        EXPECT_EQ(b.used(), 0u);
    }
}

}  // namespace
}  // namespace rtmpgate::protocol
