// Bounding one operation in time: `co_await with_deadline(op, timeout, deadline_error::connect)`
// runs `op` and, when the timeout passes first, cancels it, waits for it to finish and answers
// with an error that names the deadline ("connect timed out"), not "Operation canceled".
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

// Which deadline passed. Their category's messages read "<what> timed out" and each compares
// equal to boost::system::errc::timed_out.
enum class deadline_error {
    handshake = 1,    // the RTMP handshake, ours with a client or with a backend
    tls_handshake,    // a TLS handshake
    resolve,          // resolving a backend's name
    connect,          // connecting to a backend
    first_bytes,      // a client's first bytes after its TLS handshake
    request_header,   // the next HTTP request on a keep-alive connection
    request_body,     // the rest of an HTTP request's body
    connect_command,  // an RTMP client's connect command, after its handshake
    client_idle,      // an RTMP client that sent nothing (engine or spliced to a backend)
    backend_idle,     // a backend that sent nothing to a spliced link
    client_write,     // a write to a client (spliced to a backend, or a browser viewer) that
                      // makes no progress
    backend_write,    // a write to a backend that makes no progress
    http_idle,        // an HTTP connection waiting for the first byte of its next request
    proxy_header,     // a PROXY protocol header, or the first bytes that show there is none
    // Add new deadlines here, with their words in deadline.cpp and their /metrics label in
    // admin/metrics.cpp.
};
// One past the last deadline_error (they start at 1).
inline constexpr std::size_t deadline_error_count =
    static_cast<std::size_t>(deadline_error::proxy_header) + 1;

}  // namespace rtmpgate::gateway

template <>
struct boost::system::is_error_code_enum<rtmpgate::gateway::deadline_error> : std::true_type {};

namespace rtmpgate::gateway {

const boost::system::error_category& deadline_category() noexcept;
error_code make_error_code(deadline_error e) noexcept;
// True for every deadline_error.
bool is_deadline(const error_code& ec) noexcept;

namespace detail {

// What with_deadline gives for an operation that gives T: an operation that reports errors as
// values (std::tuple<error_code, ...>, what use_nothrow makes) gives the same tuple, with the
// deadline in its error_code and the other members value-initialised; any other gives
// boost::system::result<T>.
template <typename T>
struct deadline_result {
    using type = boost::system::result<T>;
    static type value(T&& v) { return type(boost::system::in_place_value, std::move(v)); }
    static type error(error_code ec) { return type(boost::system::in_place_error, ec); }
};

template <typename... Ts>
struct deadline_result<std::tuple<error_code, Ts...>> {
    using type = std::tuple<error_code, Ts...>;
    static type value(type&& v) { return std::move(v); }
    static type error(error_code ec) { return type(ec, Ts{}...); }
};

// What `op` gave or threw. (Not a std::variant: Asio's operator|| flattens a variant operand.)
template <typename T>
struct settled {
    std::optional<T> value;
    std::exception_ptr failure;
};

// Runs `op` and gives its exception as a value: Asio's operator|| waits for the first branch that
// *succeeds*, so an exception thrown early would otherwise wait for the timer and be lost.
template <typename T>
asio::awaitable<settled<T>> settle(asio::awaitable<T> op) {
    settled<T> s;
    try {
        s.value.emplace(co_await std::move(op));
    } catch (...) {
        s.failure = std::current_exception();
    }
    co_return s;
}

}  // namespace detail

template <typename T>
using deadline_result_t = typename detail::deadline_result<T>::type;

// Runs `op` on the caller's executor until it completes or `until` passes. On time: `op`'s
// result (an exception it throws is rethrown). Late: `op` is cancelled and has finished when the
// error `which` is returned. If the caller itself is cancelled meanwhile, the error is
// operation_aborted (or whatever `op` answered to the cancellation). `op` must not give void.
template <typename T>
asio::awaitable<deadline_result_t<T>> with_deadline(asio::awaitable<T> op,
                                                    asio::steady_timer::time_point until,
                                                    deadline_error which) {
    using namespace asio::experimental::awaitable_operators;
    using result = detail::deadline_result<T>;
    asio::steady_timer timer(co_await asio::this_coro::executor, until);
    auto first = co_await (detail::settle(std::move(op)) || timer.async_wait(use_nothrow));
    if (auto* done = std::get_if<0>(&first)) {
        if (done->failure) std::rethrow_exception(done->failure);
        co_return result::value(std::move(*done->value));
    }
    // The timer won: it expired, or it was cancelled with the caller.
    const auto [timer_ec] = std::get<1>(first);
    co_return result::error(timer_ec ? error_code(asio::error::operation_aborted)
                                     : make_error_code(which));
}

// The same with a timeout counted from now.
template <typename T>
asio::awaitable<deadline_result_t<T>> with_deadline(asio::awaitable<T> op,
                                                    asio::steady_timer::duration timeout,
                                                    deadline_error which) {
    return with_deadline(std::move(op), asio::steady_timer::clock_type::now() + timeout, which);
}

}  // namespace rtmpgate::gateway
