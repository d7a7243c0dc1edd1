#include "gateway/backend/link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <optional>

#include "gateway/backend/chunk_tracker.hpp"
#include "gateway/backend/dial.hpp"
#include "gateway/backend/proxy_header.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/endpoint.hpp"
#include "gateway/net/socket_stream.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/control.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::backend {

namespace ssl = asio::ssl;
using namespace asio::experimental::awaitable_operators;
using tls_stream = ssl::stream<tcp::socket>;

namespace {

struct pump_end {
    bool backend_at_fault;  // the backend closed, reset or stopped taking bytes
    std::string reason;
};

using clock = std::chrono::steady_clock;

// While a link is spliced, a watchdog checks the liveness of both ends and pings an end that has
// been quiet for half its idle timeout (see config/rtmpgate.yaml: limits.idle_timeout for the
// client, backend.idle_timeout for the backend).
constexpr auto ping_retry = std::chrono::milliseconds(100);

// One end of a spliced link: its stream, and what the pumps and the watchdog know of it.
struct link_end {
    link_end(byte_stream& s, bool backend, clock::duration idle, asio::any_io_executor executor)
        : stream(s),
          name(backend ? "backend" : "client"),
          is_backend(backend),
          idle_error(backend ? deadline_error::backend_idle : deadline_error::client_idle),
          write_error(backend ? deadline_error::backend_write : deadline_error::client_write),
          idle_timeout(idle),
          ping_done(std::move(executor)) {}

    byte_stream& stream;
    const char* name;
    bool is_backend;
    deadline_error idle_error, write_error;
    clock::duration idle_timeout;
    clock::time_point last_read = clock::now();
    std::optional<clock::time_point> writing_since;  // a write to this end is in progress
    bool ping_sent = false;                          // since the last read from this end
    bool ping_writing = false;
    asio::steady_timer ping_done;  // cancelled when the watchdog's ping write ends
    chunk_tracker sent;            // the chunk stream written to this end
};

pump_end timed_out(const link_end& e, deadline_error which, counters& stats) {
    const error_code ec = which;
    stats.count_timeout(ec);
    return {e.is_backend, ec.message()};
}

// Copies `from` to `to` until either fails; one buffer in flight, so a slow `to` stops reads
// from `from` (the per-link byte bound is this buffer plus what each stream holds itself: for
// an RTMPT client, the session's max_pending_output).
asio::awaitable<pump_end> pump(link_end& from, link_end& to, std::size_t buffer_size,
                               std::atomic<std::uint64_t>& counter) {
    auto cancelled = co_await asio::this_coro::cancellation_state;
    std::vector<std::uint8_t> buffer(buffer_size);
    for (;;) {
        auto [ec, n] = co_await from.stream.read_some(asio::buffer(buffer));
        if (ec)
            co_return pump_end{from.is_backend,
                               std::string(from.name) +
                                   (ec == asio::error::eof ? " closed" : ": " + ec.message())};
        from.last_read = clock::now();
        from.ping_sent = false;
        to.sent.feed({buffer.data(), n});
        // The watchdog's ping goes between two of our writes, never inside one.
        while (to.ping_writing) {
            to.ping_done.expires_at(asio::steady_timer::time_point::max());
            co_await to.ping_done.async_wait(use_nothrow);
            if (cancelled.cancelled() != asio::cancellation_type::none)
                co_return pump_end{false, "stopped"};
        }
        const asio::const_buffer out[] = {asio::buffer(buffer.data(), n)};
        to.writing_since = clock::now();
        auto [wec, written] = co_await to.stream.write(out);
        to.writing_since.reset();
        if (wec)
            co_return pump_end{to.is_backend, std::string(to.name) + " write: " + wec.message()};
        counter += written;
    }
}

// Sends `e` a Ping Request on a chunk stream its sender never used, at a chunk boundary, so that
// its decoder takes it as one more message; the answer (a Ping Response) is a read from `e`, and
// goes on to the other end, which ignores an unsolicited one (nginx-rtmp, ffmpeg, librtmp).
asio::awaitable<std::optional<pump_end>> ping(link_end& e, std::uint32_t chunk_stream_id,
                                              clock::duration write_timeout, counters& stats) {
    const auto now = clock::now();
    auto m = protocol::make_user_control(
        protocol::user_control_event::ping_request,
        static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()));
    m.chunk_stream_id = chunk_stream_id;
    protocol::chunk_encoder encoder;  // fresh: a format-0 header, all fields written out
    std::vector<std::uint8_t> bytes;
    encoder.encode(m, bytes);
    e.ping_sent = true;
    e.ping_writing = true;
    e.writing_since = now;
    const asio::const_buffer out[] = {asio::buffer(bytes)};
    auto [ec, n] = co_await with_deadline(e.stream.write(out), write_timeout, e.write_error);
    e.writing_since.reset();
    e.ping_writing = false;
    e.ping_done.cancel();
    if (!ec) co_return std::nullopt;
    if (is_deadline(ec)) co_return timed_out(e, e.write_error, stats);
    co_return pump_end{e.is_backend, std::string(e.name) + " write: " + ec.message()};
}

// Ends the link when an end has sent nothing for its idle timeout, or a write to it has made no
// progress for backend.write_timeout; pings an end quiet for half its idle timeout. Reads and
// writes only move time stamps; the timer is set for the earliest deadline known (and no later
// than half a write_timeout ahead), and on waking the watchdog works out from the stamps whether
// one has really passed.
asio::awaitable<pump_end> watch(link_end& client, link_end& backend, clock::duration write_timeout,
                                counters& stats) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        auto now = clock::now();
        auto wake = clock::time_point::max();
        for (link_end* e : {&client, &backend}) {
            if (e->writing_since && now >= *e->writing_since + write_timeout)
                co_return timed_out(*e, e->write_error, stats);
            if (now >= e->last_read + e->idle_timeout)
                co_return timed_out(*e, e->idle_error, stats);
            wake = std::min(wake, e->last_read + e->idle_timeout);
            if (e->writing_since) wake = std::min(wake, *e->writing_since + write_timeout);
            if (e->ping_sent) continue;
            const auto ping_at = e->last_read + e->idle_timeout / 2;
            const auto chunk_stream_id = e->sent.unused_chunk_stream();
            if (now < ping_at) {
                wake = std::min(wake, ping_at);
            } else if (!e->sent.lost() && chunk_stream_id) {
                if (!e->writing_since && e->sent.at_boundary()) {
                    if (auto end = co_await ping(*e, *chunk_stream_id, write_timeout, stats))
                        co_return std::move(*end);
                    now = clock::now();
                } else {
                    wake = std::min(wake, now + ping_retry);  // in the middle of a chunk
                }
            }
        }
        // A write that starts while the watchdog sleeps does not wake it: it looks again at
        // least every half write_timeout, so a stuck write ends within 1.5 times it.
        timer.expires_at(std::min(wake, now + write_timeout / 2));
        if (auto [ec] = co_await timer.async_wait(use_nothrow); ec)
            co_return pump_end{false, "stopped"};
    }
}

}  // namespace

asio::awaitable<link_result> run_link(byte_stream& client, std::vector<std::uint8_t> replay,
                                      const backend_target& target, server_context& context) {
    // Before the splice every failure is the backend's, and the client can still be told.
    auto unreached = [&](const std::string& reason) {
        ++context.stats.backend_failures;
        return link_result{false, true, target_text(target) + ": " + reason};
    };
    const auto proxy_header = make_backend_proxy_header(
        target.send_proxy_protocol, client.client().endpoint(), client.reached());
    auto opened = co_await open_backend(target, proxy_header, context);
    if (!opened) co_return unreached(opened.error());
    auto& backend = *opened;
    const auto& cfg = context.cfg.backend;
    // The whole handshake, writes included, within backend.handshake_timeout.
    auto shaken = co_await with_deadline(handshake_backend(*backend), cfg.handshake_timeout,
                                         deadline_error::handshake);
    if (!shaken) co_return unreached(failure("handshake", shaken.error(), context.stats));
    auto& early = *shaken;
    if (!early) co_return unreached(early.error());
    link_end client_end(client, false, context.cfg.limits.idle_timeout,
                        co_await asio::this_coro::executor);
    link_end backend_end(*backend, true, cfg.idle_timeout, co_await asio::this_coro::executor);
    // The replayed bytes start the client's chunk stream, the backend's after S2 start its own:
    // the trackers see each stream from its first octet.
    backend_end.sent.feed(replay);
    const asio::const_buffer first[] = {asio::buffer(replay)};
    if (auto [ec, n] = co_await with_deadline(backend->write(first), cfg.write_timeout,
                                              deadline_error::backend_write);
        ec)
        co_return unreached(failure("write", ec, context.stats));
    ++context.stats.backend_links;
    const auto end_link = [&](pump_end end) {
        backend->close();
        if (end.backend_at_fault) ++context.stats.backend_failures;
        return link_result{true, end.backend_at_fault, target_text(target) + ": " + end.reason};
    };
    if (!early->empty()) {
        client_end.sent.feed(*early);
        const asio::const_buffer b[] = {asio::buffer(*early)};
        auto [ec, n] = co_await with_deadline(client.write(b), cfg.write_timeout,
                                              deadline_error::client_write);
        if (ec) co_return end_link({false, failure("client write", ec, context.stats)});
    }
    const auto buffer_size = cfg.link_buffer_bytes;
    auto ended = co_await (pump(client_end, backend_end, buffer_size, context.stats.bytes_in) ||
                           pump(backend_end, client_end, buffer_size, context.stats.bytes_out) ||
                           watch(client_end, backend_end, cfg.write_timeout, context.stats));
    co_return end_link(std::visit([](auto& e) { return std::move(e); }, ended));
}

}  // namespace rtmpgate::gateway::backend
