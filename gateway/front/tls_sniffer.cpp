#include "gateway/front/tls_sniffer.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <vector>

#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/socket_stream.hpp"
#include "gateway/rtmp/run_connection.hpp"

namespace rtmpgate::gateway::front {

using tls_stream = asio::ssl::stream<tcp::socket>;

asio::awaitable<void> sniff_tls(tcp::socket socket, client_address client,
                                std::shared_ptr<tls_context> tls, http_front_context& context) {
    auto& server = context.server;
    const auto timeout = server.cfg.tls.handshake_timeout;
    tls_stream stream(std::move(socket), tls->initial());

    // A client that opens TLS and then says nothing is cut off, as is one that never finishes
    // the handshake: both within tls.handshake_timeout.
    auto [hec] = co_await with_deadline(stream.async_handshake(tls_stream::server, use_nothrow),
                                        timeout, deadline_error::tls_handshake);
    if (hec) {
        ++server.stats.connections_failed;
        server.stats.count_timeout(hec);
        log::debug("tls ", client, ": ", is_deadline(hec) ? "" : "handshake: ", hec.message());
        co_return;
    }
    // Then its first bytes, within the same bound: until they come nothing tells an RTMPS
    // client (limits.handshake_timeout) from an HTTPS one (rtmpt.request_header_timeout).
    std::vector<std::uint8_t> first(4096);
    auto [rec, n] = co_await with_deadline(stream.async_read_some(asio::buffer(first), use_nothrow),
                                           timeout, deadline_error::first_bytes);
    if (rec) {
        if (server.stats.count_timeout(rec))
            log::debug("tls ", client, ": ", rec.message(), " (tls.handshake_timeout)");
        co_return;
    }
    first.resize(n);

    const std::uint8_t lead = first.front();
    if (lead == 0x03) {
        co_await rtmp::run_connection(
            std::make_unique<socket_stream<tls_stream>>(std::move(stream), client, "rtmps",
                                                        std::move(first), tls),
            server);
        co_return;
    }
    if (lead >= 'A' && lead <= 'Z') {
        co_await serve_https(stream, std::move(client), first, context);
        error_code ignored;
        stream.next_layer().close(ignored);
        co_return;
    }
    ++server.stats.connections_failed;
    log::info("tls ", client, ": refused: first byte 0x", std::hex, int(lead),
              lead == 0x06 ? " (RTMPE is not supported)" : "");
}

}  // namespace rtmpgate::gateway::front
