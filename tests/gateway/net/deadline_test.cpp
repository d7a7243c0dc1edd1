#include "gateway/net/deadline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

// Deadlines here are a few tens of milliseconds and operations that must not finish in time
// last 30 seconds: a slow machine can make a test slower, not make it fail.
constexpr auto short_deadline = 20ms;
constexpr auto long_wait = 30s;
constexpr auto bound = 10s;  // what "at once" means below

// Runs `test` on a fresh io_context until it finishes; rethrows what it threw. (Coroutines
// cannot use ASSERT_*: value() throws instead where a test could not go on.)
template <typename Test>
void run(Test test) {
    asio::io_context io;
    std::exception_ptr failure;
    bool finished = false;
    asio::co_spawn(io, std::move(test), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.run();
    ASSERT_TRUE(finished);
    if (failure) std::rethrow_exception(failure);
}

// An operation in the use_nothrow style: waits `wait` on a timer, records how its wait ended in
// `saw`, and gives that error with `value`.
asio::awaitable<std::tuple<error_code, int>> wait_then(clock::duration wait, int value,
                                                       std::optional<error_code>& saw) {
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    saw = ec;
    co_return std::tuple{ec, value};
}

// The same shape for an operation that gives something else than a tuple.
asio::awaitable<std::string> text_after(clock::duration wait, std::optional<error_code>& saw) {
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    saw = ec;
    co_return std::string("done");
}

TEST(deadline_error, every_value_says_what_timed_out_and_is_a_timeout) {
    const std::pair<deadline_error, const char*> all[] = {
        {deadline_error::handshake, "handshake timed out"},
        {deadline_error::tls_handshake, "TLS handshake timed out"},
        {deadline_error::resolve, "name resolution timed out"},
        {deadline_error::connect, "connect timed out"},
        {deadline_error::first_bytes, "first bytes timed out"},
        {deadline_error::request_header, "request header timed out"},
        {deadline_error::request_body, "request body timed out"},
        {deadline_error::connect_command, "connect command timed out"},
        {deadline_error::client_idle, "client idle timed out"},
        {deadline_error::backend_idle, "backend idle timed out"},
        {deadline_error::client_write, "client write timed out"},
        {deadline_error::backend_write, "backend write timed out"},
    };
    for (const auto& [value, message] : all) {
        const error_code ec = value;
        EXPECT_EQ(ec.message(), message);
        EXPECT_TRUE(is_deadline(ec));
        EXPECT_EQ(ec, boost::system::errc::timed_out);
    }
    EXPECT_FALSE(is_deadline(asio::error::timed_out));  // the kernel's ETIMEDOUT is not ours
}

TEST(with_deadline, gives_the_result_of_an_operation_done_in_time) {
    run([]() -> asio::awaitable<void> {
        std::optional<error_code> saw;
        const auto started = clock::now();
        auto [ec, value] =
            co_await with_deadline(wait_then(1ms, 42, saw), long_wait, deadline_error::connect);
        EXPECT_FALSE(ec);
        EXPECT_EQ(value, 42);
        EXPECT_EQ(saw, error_code());
        EXPECT_LT(clock::now() - started, bound);
    });
}

TEST(with_deadline, gives_an_error_of_the_operation_as_it_is) {
    run([]() -> asio::awaitable<void> {
        auto refused = []() -> asio::awaitable<std::tuple<error_code, int>> {
            co_return std::tuple{error_code(asio::error::connection_refused), 5};
        };
        auto [ec, value] = co_await with_deadline(refused(), long_wait, deadline_error::connect);
        EXPECT_EQ(ec, asio::error::connection_refused);
        EXPECT_FALSE(is_deadline(ec));
        EXPECT_EQ(value, 5);
    });
}

TEST(with_deadline, names_the_deadline_that_passed_and_cancels_the_operation) {
    run([]() -> asio::awaitable<void> {
        std::optional<error_code> saw;
        const auto started = clock::now();
        auto [ec, value] = co_await with_deadline(wait_then(long_wait, 42, saw), short_deadline,
                                                  deadline_error::connect);
        const auto took = clock::now() - started;
        EXPECT_EQ(ec, deadline_error::connect);
        EXPECT_TRUE(is_deadline(ec));
        EXPECT_EQ(ec, boost::system::errc::timed_out);
        EXPECT_EQ(ec.message(), "connect timed out");
        EXPECT_EQ(value, 0);  // the operation's value is not given
        // The operation was cancelled and had finished before the answer came.
        EXPECT_EQ(saw, error_code(asio::error::operation_aborted));
        EXPECT_GE(took, short_deadline);
        EXPECT_LT(took, bound);
    });
}

TEST(with_deadline, takes_a_point_in_time) {
    run([]() -> asio::awaitable<void> {
        std::optional<error_code> saw;
        auto [ec, value] = co_await with_deadline(
            wait_then(long_wait, 1, saw), clock::now() + short_deadline, deadline_error::resolve);
        EXPECT_EQ(ec, deadline_error::resolve);
        EXPECT_EQ(saw, error_code(asio::error::operation_aborted));
        // A point already passed still runs nothing to completion.
        std::optional<error_code> late;
        auto [ec2, value2] = co_await with_deadline(wait_then(long_wait, 1, late),
                                                    clock::now() - 1s, deadline_error::resolve);
        EXPECT_EQ(ec2, deadline_error::resolve);
        EXPECT_EQ(late, error_code(asio::error::operation_aborted));
    });
}

TEST(with_deadline, gives_a_result_for_operations_that_are_not_tuples) {
    run([]() -> asio::awaitable<void> {
        std::optional<error_code> saw;
        auto in_time =
            co_await with_deadline(text_after(1ms, saw), long_wait, deadline_error::handshake);
        EXPECT_EQ(in_time.value(), "done");

        saw.reset();
        const auto started = clock::now();
        auto late = co_await with_deadline(text_after(long_wait, saw), short_deadline,
                                           deadline_error::handshake);
        EXPECT_FALSE(late.has_value());
        EXPECT_EQ(late.error(), deadline_error::handshake);
        EXPECT_EQ(late.error().message(), "handshake timed out");
        EXPECT_EQ(saw, error_code(asio::error::operation_aborted));
        EXPECT_LT(clock::now() - started, bound);
    });
}

TEST(with_deadline, rethrows_what_the_operation_throws_at_once) {
    run([]() -> asio::awaitable<void> {
        auto failing = []() -> asio::awaitable<int> {
            throw std::runtime_error("backend closed");
            co_return 0;
        };
        const auto started = clock::now();
        std::string what;
        try {
            co_await with_deadline(failing(), long_wait, deadline_error::handshake);
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
        EXPECT_EQ(what, "backend closed");
        EXPECT_LT(clock::now() - started, bound);  // not after the deadline
    });
}

// An operation that does not answer cancellation: waits `wait` whatever happens.
asio::awaitable<std::tuple<error_code, int>> wait_regardless(clock::duration wait, int value) {
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    auto [ec] = co_await timer.async_wait(
        asio::bind_cancellation_slot(asio::cancellation_slot(), use_nothrow));
    co_return std::tuple{ec, value};
}

TEST(with_deadline, a_cancelled_caller_is_not_a_timeout) {
    run([]() -> asio::awaitable<void> {
        std::optional<error_code> saw;
        std::optional<std::tuple<error_code, int>> got;
        auto guarded = [&]() -> asio::awaitable<void> {
            got = co_await with_deadline(wait_then(long_wait, 3, saw), long_wait,
                                         deadline_error::connect);
        };
        asio::steady_timer other(co_await asio::this_coro::executor, short_deadline);
        const auto started = clock::now();
        co_await (guarded() || other.async_wait(use_nothrow));  // `other` wins and cancels
        EXPECT_LT(clock::now() - started, bound);
        const auto ec = std::get<0>(got.value());  // the operation's own answer
        EXPECT_EQ(ec, asio::error::operation_aborted);
        EXPECT_FALSE(is_deadline(ec));
        EXPECT_EQ(saw, error_code(asio::error::operation_aborted));
    });
}

TEST(with_deadline, a_cancelled_caller_is_not_a_timeout_when_the_operation_finishes_later) {
    run([]() -> asio::awaitable<void> {
        std::optional<std::tuple<error_code, int>> got;
        auto guarded = [&]() -> asio::awaitable<void> {
            got = co_await with_deadline(wait_regardless(200ms, 3), long_wait,
                                         deadline_error::connect);
        };
        asio::steady_timer other(co_await asio::this_coro::executor, short_deadline);
        const auto started = clock::now();
        co_await (guarded() || other.async_wait(use_nothrow));
        // The deadline's own timer ended first, cancelled; the operation was waited for.
        EXPECT_GE(clock::now() - started, 200ms);
        EXPECT_LT(clock::now() - started, bound);
        const auto ec = std::get<0>(got.value());
        EXPECT_EQ(ec, asio::error::operation_aborted);
        EXPECT_FALSE(is_deadline(ec));
    });
}

}  // namespace
}  // namespace rtmpgate::gateway
