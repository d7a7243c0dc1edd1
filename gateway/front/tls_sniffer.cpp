#include "gateway/front/tls_sniffer.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <vector>

#include "gateway/net/log.hpp"
#include "gateway/net/socket_stream.hpp"
#include "gateway/rtmp/run_connection.hpp"

namespace rtmpgate::gateway::front {

using namespace asio::experimental::awaitable_operators;
using tls_stream = asio::ssl::stream<tcp::socket>;

asio::awaitable<void> sniff_tls(tcp::socket socket, std::string peer,
                                std::shared_ptr<tls_context> tls, http_front_context& context) {
    auto& server = context.server;
    const auto deadline = server.cfg.tls.handshake_timeout;
    tls_stream stream(std::move(socket), tls->initial());
    asio::steady_timer timer(co_await asio::this_coro::executor);

    // A client that opens TLS and then says nothing is cut off, as is one that never finishes
    // the handshake: both within tls.handshake_timeout.
    timer.expires_after(deadline);
    auto hs = co_await (stream.async_handshake(tls_stream::server, use_nothrow) ||
                        timer.async_wait(use_nothrow));
    if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) {
        ++server.stats.connections_failed;
        log::debug("tls ", peer, ": handshake ",
                   hs.index() == 1 ? "timed out" : std::get<0>(std::get<0>(hs)).message());
        co_return;
    }
    std::vector<std::uint8_t> first(4096);
    timer.expires_after(deadline);
    auto rd = co_await (stream.async_read_some(asio::buffer(first), use_nothrow) ||
                        timer.async_wait(use_nothrow));
    if (rd.index() == 1 || std::get<0>(std::get<0>(rd))) co_return;
    first.resize(std::get<1>(std::get<0>(rd)));
    timer.cancel();

    const std::uint8_t lead = first.front();
    if (lead == 0x03) {
        co_await rtmp::run_connection(std::make_unique<socket_stream<tls_stream>>(
                                          std::move(stream), peer, "rtmps", std::move(first), tls),
                                      server);
        co_return;
    }
    if (lead >= 'A' && lead <= 'Z') {
        co_await serve_https(stream, peer, first, context);
        error_code ignored;
        stream.next_layer().close(ignored);
        co_return;
    }
    ++server.stats.connections_failed;
    log::info("tls ", peer, ": refused: first byte 0x", std::hex, int(lead),
              lead == 0x06 ? " (RTMPE is not supported)" : "");
}

}  // namespace rtmpgate::gateway::front
