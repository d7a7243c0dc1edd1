#include "protocol/shared_bytes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <thread>
#include <vector>

namespace rtmpgate::protocol {
namespace {

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 13 + 5);
    return out;
}

shared_bytes filled(std::size_t n, std::uint8_t value) {
    std::uint8_t* fill = nullptr;
    auto out = shared_bytes::allocate(n, fill);
    std::fill_n(fill, n, value);
    return out;
}

void drain_cache() {
    trim_thread_bytes_cache();
    ASSERT_EQ(thread_bytes_cache().blocks, 0u);
    ASSERT_EQ(thread_bytes_cache().bytes, 0u);
}

TEST(shared_bytes, empty_holds_nothing) {
    const shared_bytes none;
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(none.data(), nullptr);
    EXPECT_EQ(none.use_count(), 0);
    std::uint8_t* fill = reinterpret_cast<std::uint8_t*>(1);
    const auto zero = shared_bytes::allocate(0, fill);
    EXPECT_EQ(fill, nullptr);
    EXPECT_TRUE(zero.empty());
    EXPECT_EQ(zero.use_count(), 0);
    EXPECT_TRUE(shared_bytes(std::span<const std::uint8_t>{}).empty());
}

TEST(shared_bytes, copies_its_source) {
    auto source = pattern(1000);
    const shared_bytes b(source);
    source[0] ^= 0xFF;
    const auto expected = pattern(1000);
    ASSERT_EQ(b.size(), 1000u);
    EXPECT_TRUE(std::equal(b.span().begin(), b.span().end(), expected.begin()));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 16, 0u);
    EXPECT_EQ(b.use_count(), 1);
}

TEST(shared_bytes, copies_share_and_moves_transfer) {
    shared_bytes a = filled(300, 7);
    const auto* data = a.data();
    {
        const shared_bytes b = a;
        EXPECT_EQ(b.data(), data);
        EXPECT_EQ(a.use_count(), 2);
        shared_bytes c;
        c = b;
        EXPECT_EQ(a.use_count(), 3);
    }
    EXPECT_EQ(a.use_count(), 1);
    shared_bytes moved = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): a moved-from payload is empty
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(moved.data(), data);
    EXPECT_EQ(moved.use_count(), 1);
    moved = filled(10, 1);
    EXPECT_NE(moved.data(), nullptr);
    EXPECT_EQ(moved.size(), 10u);
    moved = moved;  // self-assignment keeps it
    EXPECT_EQ(moved.size(), 10u);
    EXPECT_EQ(moved.use_count(), 1);
}

TEST(shared_bytes, a_freed_block_is_reused_by_the_next_allocation_of_its_class) {
    drain_cache();
    const auto* first = filled(1100, 1).data();  // released at once
    EXPECT_EQ(thread_bytes_cache().blocks, 1u);
    EXPECT_EQ(thread_bytes_cache().bytes, 1280u);  // 1100 + head, rounded up to its class
    // 1200 octets fall in the same class: the same block comes back, and leaves the cache.
    const auto again = filled(1200, 2);
    EXPECT_EQ(again.data(), first);
    EXPECT_EQ(thread_bytes_cache().blocks, 0u);
    EXPECT_TRUE(std::all_of(again.span().begin(), again.span().end(),
                            [](std::uint8_t v) { return v == 2; }));
}

TEST(shared_bytes, the_cache_is_bounded_per_class_and_in_bytes) {
    drain_cache();
    {
        std::vector<shared_bytes> many;
        for (int i = 0; i < 100; ++i) many.push_back(filled(1000, 3));
    }
    EXPECT_EQ(thread_bytes_cache().blocks, 32u);  // the rest went back to the heap
    drain_cache();
    {
        std::vector<shared_bytes> large;
        for (int i = 0; i < 20; ++i) large.push_back(filled(200 << 10, 4));
    }
    EXPECT_LE(thread_bytes_cache().bytes, std::size_t{1} << 20);
    EXPECT_GE(thread_bytes_cache().blocks, 1u);
    drain_cache();
    { const auto huge = filled((256 << 10) + 1, 5); }  // above the largest class: never cached
    EXPECT_EQ(thread_bytes_cache().blocks, 0u);
}

TEST(shared_bytes, a_block_released_by_another_thread_goes_to_that_threads_cache) {
    drain_cache();
    auto b = filled(5000, 9);
    std::size_t cached_there = 0;
    std::thread([&cached_there, copy = b]() mutable {
        copy = {};  // not the last owner: nothing is cached
        cached_there = thread_bytes_cache().blocks;
    }).join();
    EXPECT_EQ(cached_there, 0u);
    EXPECT_EQ(b.use_count(), 1);
    std::thread([&cached_there, last = std::move(b)]() mutable {
        last = {};
        cached_there = thread_bytes_cache().blocks;
    }).join();  // the thread's cache is freed as it ends (LeakSanitizer checks in test builds)
    EXPECT_EQ(cached_there, 1u);
    EXPECT_EQ(thread_bytes_cache().blocks, 0u);
}

TEST(shared_bytes, many_threads_copy_and_drop_one_payload) {
    const auto b = filled(4096, 0x5A);
    std::array<bool, 4> intact{};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < intact.size(); ++t) {
        threads.emplace_back([&b, &intact, t] {
            bool ok = true;
            for (int i = 0; i < 20000; ++i) {
                const shared_bytes copy = b;
                ok = ok && copy.data()[i % 4096] == 0x5A;
            }
            intact[t] = ok;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(b.use_count(), 1);
    for (const bool ok : intact) EXPECT_TRUE(ok);
}

#if defined(__SANITIZE_ADDRESS__)
TEST(shared_bytes, reading_a_cached_block_is_a_use_after_free) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            const std::uint8_t* stale = nullptr;
            {
                const auto b = filled(2000, 1);
                stale = b.data();
            }
            volatile std::uint8_t v = stale[10];
            (void)v;
        },
        "use-after-poison");
}

TEST(shared_bytes, the_tail_of_a_class_past_the_size_is_unaddressable) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            const auto b = filled(1100, 1);  // its block has room for 1264
            volatile std::uint8_t v = b.data()[1200];
            (void)v;
        },
        "use-after-poison");
}
#else
TEST(shared_bytes, reading_a_cached_block_is_a_use_after_free) {
    GTEST_SKIP() << "needs an AddressSanitizer build (scripts/test makes one)";
}
#endif

}  // namespace
}  // namespace rtmpgate::protocol
