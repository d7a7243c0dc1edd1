#include "gateway/backend/dial.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "gateway/net/deadline.hpp"
#include "gateway/net/endpoint.hpp"
#include "gateway/net/socket_stream.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::backend {

namespace ssl = asio::ssl;
using tls_stream = ssl::stream<tcp::socket>;

std::string target_text(const backend_target& t) {
    return std::string(t.tls ? "rtmps://" : "rtmp://") + t.host + ":" + std::to_string(t.port);
}

std::string failure(const std::string& step, const error_code& ec, counters& stats) {
    return stats.count_timeout(ec) ? ec.message() : step + ": " + ec.message();
}

// Connects, writes `proxy_header` (PROXY out, may be empty) first, then TLS when the route says so.
asio::awaitable<step<std::unique_ptr<byte_stream>>> open_backend(
    const backend_target& target, std::span<const std::uint8_t> proxy_header,
    server_context& context) {
    auto executor = co_await asio::this_coro::executor;
    // Resolving and connecting share backend.connect_timeout.
    const auto connect_by =
        asio::steady_timer::clock_type::now() + context.cfg.backend.connect_timeout;
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await with_deadline(
        resolver.async_resolve(target.host, std::to_string(target.port), use_nothrow), connect_by,
        deadline_error::resolve);
    if (rec) co_return failure("resolving " + target.host, rec, context.stats);

    tcp::socket socket(executor);
    auto [cec, ep] = co_await with_deadline(asio::async_connect(socket, endpoints, use_nothrow),
                                            connect_by, deadline_error::connect);
    if (cec) co_return failure("connect", cec, context.stats);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // The PROXY protocol header precedes everything, the TLS handshake included: the backend
    // (or a TLS-terminating proxy in front of it) reads it off the TCP connection.
    if (!proxy_header.empty()) {
        auto [wec, n] = co_await with_deadline(
            asio::async_write(socket, asio::buffer(proxy_header.data(), proxy_header.size()),
                              use_nothrow),
            context.cfg.backend.write_timeout, deadline_error::backend_write);
        if (wec) co_return failure("PROXY protocol header", wec, context.stats);
    }
    const client_address peer(socket.remote_endpoint(ignored));
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
    if (hec) co_return failure("TLS handshake", hec, context.stats);
    co_return std::make_unique<socket_stream<tls_stream>>(std::move(stream), peer, "rtmps");
}

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

}  // namespace rtmpgate::gateway::backend
