#include "gateway/net/connection_set.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;
using clock = asio::steady_timer::clock_type;

constexpr auto long_wait = 30s;
constexpr auto bound = 10s;  // what "at once" means below

struct counted : closable {
    void shutdown() override { ++shutdowns; }
    int shutdowns = 0;
};

// Runs `test` on a strand of `io` until it finishes; rethrows what it threw.
template <typename Test>
void run(asio::io_context& io, Test test) {
    std::exception_ptr failure;
    asio::co_spawn(asio::make_strand(io), std::move(test),
                   [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
}

TEST(connection_set, an_empty_set_needs_no_wait) {
    connection_set set;
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        const auto started = clock::now();
        EXPECT_TRUE(co_await set.wait_empty_until(clock::now() + long_wait));
        EXPECT_LT(clock::now() - started, bound);
    });
}

TEST(connection_set, the_last_remove_ends_the_wait_at_once) {
    connection_set set;
    auto a = std::make_shared<counted>();
    auto b = std::make_shared<counted>();
    const auto ida = set.add(a);
    const auto idb = set.add(b);
    // Removed from another thread, as connections end on the io_context's other threads. The
    // io_context outlives that thread: its last remove() posts to it and may drop the last
    // reference to the waiter's timer after the wait has ended.
    asio::io_context io;
    const auto started = clock::now();
    std::thread remover([&] {
        std::this_thread::sleep_for(20ms);
        set.remove(ida);
        std::this_thread::sleep_for(20ms);
        set.remove(idb);
    });
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await set.wait_empty_until(clock::now() + long_wait));
        EXPECT_EQ(set.size(), 0u);
        EXPECT_GE(clock::now() - started, 40ms);
        EXPECT_LT(clock::now() - started, bound);
    });
    remover.join();
}

TEST(connection_set, the_wait_ends_when_its_time_passes) {
    connection_set set;
    auto a = std::make_shared<counted>();
    set.add(a);
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        const auto started = clock::now();
        EXPECT_FALSE(co_await set.wait_empty_until(clock::now() + 50ms));
        EXPECT_GE(clock::now() - started, 50ms);
        EXPECT_LT(clock::now() - started, bound);
    });
    set.shutdown_all();
    EXPECT_EQ(a->shutdowns, 1);
}

TEST(connection_set, a_set_that_fills_again_is_waited_for_again) {
    connection_set set;
    auto a = std::make_shared<counted>();
    auto b = std::make_shared<counted>();
    const auto ida = set.add(a);
    asio::io_context io;
    run(io, [&]() -> asio::awaitable<void> {
        // Emptied and filled again before the waiter gets to look: it keeps waiting.
        asio::post(co_await asio::this_coro::executor, [&] {
            set.remove(ida);
            set.add(b);
        });
        const auto started = clock::now();
        EXPECT_FALSE(co_await set.wait_empty_until(clock::now() + 100ms));
        EXPECT_GE(clock::now() - started, 100ms);
    });
}

}  // namespace
}  // namespace rtmpgate::gateway
