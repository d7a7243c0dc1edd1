#include "gateway/net/memory_trimmer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;

struct nothing_to_close : closable {
    void shutdown() override {}
};

TEST(memory_trimmer, trims_after_a_burst_that_has_halved) {
    EXPECT_FALSE(memory_trimmer::should_trim(0, 0));
    EXPECT_FALSE(memory_trimmer::should_trim(255, 0));  // no burst worth it
    EXPECT_FALSE(memory_trimmer::should_trim(3000, 1501));
    EXPECT_TRUE(memory_trimmer::should_trim(3000, 1500));
    EXPECT_TRUE(memory_trimmer::should_trim(256, 0));
}

// Waits (bounded) until `done` holds.
template <typename F>
bool eventually(F done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return done();
}

TEST(memory_trimmer, watches_the_connection_set_from_its_own_thread) {
    connection_set connections;
    auto item = std::make_shared<nothing_to_close>();
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < memory_trimmer::min_peak; ++i) ids.push_back(connections.add(item));
    memory_trimmer trimmer(connections, 10ms);
    // It sees the peak, then sees it halve.
    ASSERT_TRUE(eventually([&] { return trimmer.peak() == memory_trimmer::min_peak; }));
    EXPECT_EQ(trimmer.trims(), 0u);
    for (std::size_t i = 0; i < ids.size() / 2; ++i) connections.remove(ids[i]);
    EXPECT_TRUE(eventually([&] { return trimmer.trims() == 1; }));
    // The peak is now the count after the trim: the same count does not trim again.
    EXPECT_EQ(trimmer.peak(), memory_trimmer::min_peak / 2);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(trimmer.trims(), 1u);
    for (std::size_t i = ids.size() / 2; i < ids.size(); ++i) connections.remove(ids[i]);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(trimmer.trims(), 1u);  // 128 to 0: below min_peak
}

TEST(memory_trimmer, stops_at_once_while_it_waits) {
    connection_set connections;
    const auto started = std::chrono::steady_clock::now();
    { memory_trimmer trimmer(connections, std::chrono::hours(1)); }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

}  // namespace
}  // namespace rtmpgate::gateway
