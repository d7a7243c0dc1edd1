#include "gateway/backend/link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstring>
#include <optional>

#include "gateway/backend/chunk_tracker.hpp"
#include "gateway/backend/command_guard.hpp"
#include "gateway/backend/dial.hpp"
#include "gateway/backend/proxy_header.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/endpoint.hpp"
#include "gateway/net/socket_stream.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/command.hpp"
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

// Writes `bytes` to `to`, after the watchdog's ping if one is being written: a ping goes between
// two of the pumps' writes, never inside one. Gives how the pump ends if the write fails.
asio::awaitable<std::optional<pump_end>> forward(link_end& to, std::span<const std::uint8_t> bytes,
                                                 std::atomic<std::uint64_t>& counter) {
    auto cancelled = co_await asio::this_coro::cancellation_state;
    to.sent.feed(bytes);
    while (to.ping_writing) {
        to.ping_done.expires_at(asio::steady_timer::time_point::max());
        co_await to.ping_done.async_wait(use_nothrow);
        if (cancelled.cancelled() != asio::cancellation_type::none)
            co_return pump_end{false, "stopped"};
    }
    const asio::const_buffer out[] = {asio::buffer(bytes.data(), bytes.size())};
    to.writing_since = clock::now();
    auto [wec, written] = co_await to.stream.write(out);
    to.writing_since.reset();
    if (wec) co_return pump_end{to.is_backend, std::string(to.name) + " write: " + wec.message()};
    counter += written;
    co_return std::nullopt;
}

// Copies `from` to `to` until either fails; one buffer in flight, so a slow `to` stops reads
// from `from` (the per-link byte bound is this buffer plus what each stream holds itself: for
// an RTMPT client, the session's max_pending_output).
asio::awaitable<pump_end> pump(link_end& from, link_end& to, std::size_t buffer_size,
                               std::atomic<std::uint64_t>& counter) {
    std::vector<std::uint8_t> buffer(buffer_size);
    for (;;) {
        auto [ec, n] = co_await from.stream.read_some(asio::buffer(buffer));
        if (ec)
            co_return pump_end{from.is_backend,
                               std::string(from.name) +
                                   (ec == asio::error::eof ? " closed" : ": " + ec.message())};
        from.last_read = clock::now();
        from.ping_sent = false;
        if (auto end = co_await forward(to, {buffer.data(), n}, counter)) co_return std::move(*end);
    }
}

// What a refused client is told: an error-level onStatus on the message stream of its request,
// with codes ffmpeg, OBS and librtmp report as a failure. It goes on a chunk stream the backend
// never used, at a chunk boundary, chunked at the size the backend set, as the watchdog's ping.
// Gives up (the link ends all the same) when the backend's chunk stream cannot be followed or no
// boundary comes within write_timeout.
asio::awaitable<void> tell_refused(link_end& client, const held_request& request,
                                   const access::decision& d, clock::duration write_timeout) {
    const bool publish = request.what == access::action::publish;
    std::string description = publish ? "Publish refused" : "Play refused";
    if (!d.detail.empty()) description += ": " + d.detail.substr(0, 256);
    auto m = protocol::make_on_status(
        request.message_stream_id, "error",
        publish ? "NetStream.Publish.BadName" : "NetStream.Play.Failed", description);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto give_up = clock::now() + write_timeout;
    while (client.writing_since || client.ping_writing || !client.sent.at_boundary()) {
        if (client.sent.lost() || clock::now() >= give_up) co_return;
        timer.expires_after(std::chrono::milliseconds(10));
        if (auto [ec] = co_await timer.async_wait(use_nothrow); ec) co_return;
    }
    const auto chunk_stream_id = client.sent.unused_chunk_stream();
    if (!chunk_stream_id) co_return;
    m.chunk_stream_id = *chunk_stream_id;
    protocol::chunk_encoder encoder;  // fresh: a format-0 header, all fields written out
    encoder.set_chunk_size(client.sent.chunk_size());
    std::vector<std::uint8_t> bytes;
    encoder.encode(m, bytes);
    // Marked as the watchdog's ping is, so that the other pump waits for it to end.
    client.ping_writing = true;
    client.writing_since = clock::now();
    const asio::const_buffer out[] = {asio::buffer(bytes)};
    co_await with_deadline(client.stream.write(out), write_timeout, client.write_error);
    client.writing_since.reset();
    client.ping_writing = false;
    client.ping_done.cancel();
}

// The held publish or play written anew with `name` in place of the stream name the client sent:
// one format-0 message on the same chunk stream, with the same timestamp, chunked at the client's
// chunk size, so that the backend reads the client's later chunks as before (command_guard's
// allow_renamed says what else must hold). None when the held message's chunks were interleaved
// with others', or its timestamp needs the extended field (format-3 chunks would then differ).
std::optional<std::vector<std::uint8_t>> rename_request(const held_request& request,
                                                        const std::string& name,
                                                        std::uint32_t chunk_size) {
    if (!request.contiguous || request.timestamp >= 0xFFFFFF) return std::nullopt;
    auto arguments = request.parsed.arguments;
    if (arguments.empty()) return std::nullopt;
    if (request.command == "play2") {
        if (arguments[0].kind != protocol::amf_kind::object) return std::nullopt;
        arguments[0].set("streamName", protocol::amf_value::make_string(name));
    } else {
        arguments[0] = protocol::amf_value::make_string(name);
    }
    auto m = protocol::make_command(request.chunk_stream_id, request.message_stream_id,
                                    request.parsed.name, request.parsed.transaction_id,
                                    request.parsed.command_object, arguments);
    m.timestamp = request.timestamp;
    protocol::chunk_encoder encoder;  // fresh: a format-0 header, all fields written out
    encoder.set_chunk_size(chunk_size);
    std::vector<std::uint8_t> bytes;
    encoder.encode(m, bytes);
    return bytes;
}

// The client-to-backend pump of a link with access control: the client's octets go through
// `guard`, which lets them on up to any publish or play, held until `decide` answers. `pending`
// holds the client's octets from `forwarded` on (the replay's tail the guard held back). Reads
// from the client stop while a decision is pending, so what is held is at most the guard's bound
// plus one read.
asio::awaitable<pump_end> guarded_pump(link_end& client, link_end& backend, std::size_t buffer_size,
                                       std::atomic<std::uint64_t>& counter, command_guard& guard,
                                       std::vector<std::uint8_t> pending, std::size_t forwarded,
                                       const stream_decider& decide,
                                       clock::duration write_timeout) {
    auto cancelled = co_await asio::this_coro::cancellation_state;
    // buffer[begin, end) holds the client's octets from offset `base` on, not yet forwarded.
    std::vector<std::uint8_t> buffer = std::move(pending);
    std::size_t begin = forwarded, end = buffer.size();
    std::uint64_t base = forwarded;
    for (;;) {
        const auto seen = static_cast<std::size_t>(guard.consumed() - base);
        if (begin + seen < end) guard.feed({buffer.data() + begin + seen, end - begin - seen});
        if (guard.failed()) co_return pump_end{false, "client: " + guard.failure()};
        if (const auto n = static_cast<std::size_t>(guard.forwardable() - base); n != 0) {
            if (auto e = co_await forward(backend, {buffer.data() + begin, n}, counter))
                co_return std::move(*e);
            begin += n;
            base += n;
        }
        if (begin == end) begin = end = 0;
        if (guard.held()) {
            const auto request = *guard.held();
            auto d = co_await decide(request.what, request.stream);
            if (cancelled.cancelled() != asio::cancellation_type::none)
                co_return pump_end{false, "stopped"};
            if (d.allowed && d.rename.empty()) {
                guard.allow();
                continue;
            }
            if (d.allowed) {
                auto renamed = rename_request(request, d.rename, guard.chunk_size());
                // The held octets can be replaced only when they are that message alone.
                if (!renamed || guard.held_at() != base) {
                    d.allowed = false;
                    d.detail = "the stream cannot be renamed on this connection";
                } else {
                    if (auto e = co_await forward(backend, *renamed, counter))
                        co_return std::move(*e);
                    const auto dropped = static_cast<std::size_t>(guard.held_end() - base);
                    guard.allow_renamed();
                    begin += dropped;
                    base += dropped;
                    if (begin == end) begin = end = 0;
                    continue;
                }
            }
            co_await tell_refused(client, request, d, write_timeout);
            co_return pump_end{
                false, std::string(request.what == access::action::publish ? "publish" : "play") +
                           " refused" + (d.detail.empty() ? "" : ": " + d.detail)};
        }
        if (buffer.size() - end < buffer_size) {
            if (begin != 0) {
                std::memmove(buffer.data(), buffer.data() + begin, end - begin);
                end -= begin;
                begin = 0;
            }
            if (buffer.size() - end < buffer_size) buffer.resize(end + buffer_size);
        }
        auto [ec, n] =
            co_await client.stream.read_some(asio::buffer(buffer.data() + end, buffer_size));
        if (ec)
            co_return pump_end{
                false, ec == asio::error::eof ? "client closed" : "client: " + ec.message()};
        client.last_read = clock::now();
        client.ping_sent = false;
        end += n;
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
                                      const backend_target& target, server_context& context,
                                      stream_decider decide) {
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
    // With access control the replay goes through the guard too: it may hold a publish already.
    std::optional<command_guard> guard;
    std::size_t first_size = replay.size();
    if (decide) {
        guard.emplace();
        guard->feed(replay);
        first_size = guard->failed() ? 0 : static_cast<std::size_t>(guard->forwardable());
    }
    const std::span<const std::uint8_t> first_bytes(replay.data(), first_size);
    backend_end.sent.feed(first_bytes);
    const asio::const_buffer first[] = {asio::buffer(first_bytes.data(), first_bytes.size())};
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
    auto upstream =
        guard ? guarded_pump(client_end, backend_end, buffer_size, context.stats.bytes_in, *guard,
                             std::move(replay), first_size, decide, cfg.write_timeout)
              : pump(client_end, backend_end, buffer_size, context.stats.bytes_in);
    auto ended = co_await (std::move(upstream) ||
                           pump(backend_end, client_end, buffer_size, context.stats.bytes_out) ||
                           watch(client_end, backend_end, cfg.write_timeout, context.stats));
    co_return end_link(std::visit([](auto& e) { return std::move(e); }, ended));
}

}  // namespace rtmpgate::gateway::backend
