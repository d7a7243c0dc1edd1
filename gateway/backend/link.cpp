#include "gateway/backend/link.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/result.hpp>

#include "gateway/net/deadline.hpp"
#include "gateway/net/endpoint.hpp"
#include "gateway/net/socket_stream.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::backend {

namespace ssl = asio::ssl;
using namespace asio::experimental::awaitable_operators;
using tls_stream = ssl::stream<tcp::socket>;

namespace {

std::string target_text(const backend_target& t) {
    return std::string(t.tls ? "rtmps://" : "rtmp://") + t.host + ":" + std::to_string(t.port);
}

// What a step towards the backend gave, or why it failed in the words of the log.
template <typename T>
using step = boost::system::result<T, std::string>;

struct pump_end {
    bool backend_at_fault;  // the backend closed, reset or stopped taking bytes
    std::string reason;
};

// Copies `from` to `to` until either fails; one buffer in flight, so a slow `to` stops reads
// from `from` (the per-link byte bound is this buffer plus what each stream holds itself: for
// an RTMPT client, the session's max_pending_output).
asio::awaitable<pump_end> pump(byte_stream& from, byte_stream& to, bool from_backend,
                               std::size_t buffer_size, std::atomic<std::uint64_t>& counter) {
    const char* from_name = from_backend ? "backend" : "client";
    const char* to_name = from_backend ? "client" : "backend";
    std::vector<std::uint8_t> buffer(buffer_size);
    for (;;) {
        auto [ec, n] = co_await from.read_some(asio::buffer(buffer));
        if (ec)
            co_return pump_end{from_backend,
                               std::string(from_name) +
                                   (ec == asio::error::eof ? " closed" : ": " + ec.message())};
        const asio::const_buffer out[] = {asio::buffer(buffer.data(), n)};
        auto [wec, written] = co_await to.write(out);
        if (wec)
            co_return pump_end{!from_backend, std::string(to_name) + " write: " + wec.message()};
        counter += written;
    }
}

// Why a step failed, for the log: a deadline names itself ("connect timed out").
std::string failure(const std::string& step, const error_code& ec) {
    return is_deadline(ec) ? ec.message() : step + ": " + ec.message();
}

// Connects, with TLS when the route says so.
asio::awaitable<step<std::unique_ptr<byte_stream>>> open_backend(const backend_target& target,
                                                                 server_context& context) {
    auto executor = co_await asio::this_coro::executor;
    // Resolving and connecting share backend.connect_timeout.
    const auto connect_by =
        asio::steady_timer::clock_type::now() + context.cfg.backend.connect_timeout;
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await with_deadline(
        resolver.async_resolve(target.host, std::to_string(target.port), use_nothrow), connect_by,
        deadline_error::resolve);
    if (rec) co_return failure("resolving " + target.host, rec);

    tcp::socket socket(executor);
    auto [cec, ep] = co_await with_deadline(asio::async_connect(socket, endpoints, use_nothrow),
                                            connect_by, deadline_error::connect);
    if (cec) co_return failure("connect", cec);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto peer = format_endpoint(socket.remote_endpoint(ignored));
    if (!target.tls)
        co_return std::make_unique<socket_stream<tcp::socket>>(std::move(socket), peer, "rtmp");

    tls_stream stream(std::move(socket), context.backend_tls.get(target));
    const auto& name = target.server_name.empty() ? target.host : target.server_name;
    // RFC 6066 3: SNI carries DNS names only; an address is verified against the certificate's
    // IP entries without one.
    error_code not_an_address;
    asio::ip::make_address(name, not_an_address);
    if (not_an_address) SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
    if (target.verify) stream.set_verify_callback(ssl::host_name_verification(name));
    auto [hec] = co_await with_deadline(stream.async_handshake(tls_stream::client, use_nothrow),
                                        context.cfg.backend.handshake_timeout,
                                        deadline_error::tls_handshake);
    if (hec) co_return failure("TLS handshake", hec);
    co_return std::make_unique<socket_stream<tls_stream>>(std::move(stream), peer, "rtmps");
}

// The RTMP client handshake towards the backend; gives the bytes the backend sent after S2.
asio::awaitable<step<std::vector<std::uint8_t>>> handshake_backend(byte_stream& backend) {
    protocol::handshake_client hs;
    std::vector<std::uint8_t> out;
    hs.start(out);
    const asio::const_buffer c0c1[] = {asio::buffer(out)};
    if (auto [ec, n] = co_await backend.write(c0c1); ec)
        co_return "handshake write: " + ec.message();
    std::vector<std::uint8_t> buffer(8192);
    while (!hs.done()) {
        auto [ec, n] = co_await backend.read_some(asio::buffer(buffer));
        if (ec)
            co_return "handshake: backend " + (ec == asio::error::eof ? "closed" : ec.message());
        out.clear();
        protocol::error_code perr;
        std::span<const std::uint8_t> in(buffer.data(), n);
        const auto used = hs.feed(in, out, perr);
        if (perr && perr != protocol::error::need_more) co_return "handshake: " + perr.message();
        if (!out.empty()) {
            const asio::const_buffer c2[] = {asio::buffer(out)};
            if (auto [wec, w] = co_await backend.write(c2); wec)
                co_return "handshake write: " + wec.message();
        }
        if (hs.done())
            co_return std::vector<std::uint8_t>(in.begin() + static_cast<std::ptrdiff_t>(used),
                                                in.end());
    }
    co_return std::vector<std::uint8_t>{};
}

}  // namespace

asio::awaitable<link_result> run_link(byte_stream& client, std::vector<std::uint8_t> replay,
                                      const backend_target& target, server_context& context) {
    // Before the splice every failure is the backend's, and the client can still be told.
    auto unreached = [&](const std::string& reason) {
        ++context.stats.backend_failures;
        return link_result{false, true, target_text(target) + ": " + reason};
    };
    auto opened = co_await open_backend(target, context);
    if (!opened) co_return unreached(opened.error());
    auto& backend = *opened;
    // The whole handshake, writes included, within backend.handshake_timeout.
    auto shaken =
        co_await with_deadline(handshake_backend(*backend), context.cfg.backend.handshake_timeout,
                               deadline_error::handshake);
    if (!shaken) co_return unreached(shaken.error().message());
    auto& early = *shaken;
    if (!early) co_return unreached(early.error());
    const asio::const_buffer first[] = {asio::buffer(replay)};
    if (auto [ec, n] = co_await backend->write(first); ec)
        co_return unreached("write: " + ec.message());
    if (!early->empty()) {
        const asio::const_buffer b[] = {asio::buffer(*early)};
        co_await client.write(b);
    }
    ++context.stats.backend_links;
    const auto buffer_size = context.cfg.backend.link_buffer_bytes;
    auto ended = co_await (pump(client, *backend, false, buffer_size, context.stats.bytes_in) ||
                           pump(*backend, client, true, buffer_size, context.stats.bytes_out));
    backend->close();
    auto end = std::visit([](auto& e) { return std::move(e); }, ended);
    if (end.backend_at_fault) ++context.stats.backend_failures;
    co_return link_result{true, end.backend_at_fault, target_text(target) + ": " + end.reason};
}

}  // namespace rtmpgate::gateway::backend
