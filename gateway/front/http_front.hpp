// The HTTP/1.1 front end of RTMPT (port 80, and port 443 after TLS): persistent connections,
// pipelined requests answered in order, /open /send /idle /close /fcs/ident2 turned into tunnel
// session operations. A GET, HEAD or OPTIONS that is no RTMPT command goes to web/web_front.hpp
// (HTTP-FLV, WebSocket-FLV, the player page). Beast stays inside http_front.cpp.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <span>
#include <string>

#include "gateway/front/idle_connections.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/tunnel/registry.hpp"
#include "gateway/web/player_files.hpp"

namespace rtmpgate::gateway::front {

struct http_front_context {
    server_context& server;
    tunnel::registry& tunnels;
    asio::io_context& io;
    idle_connections& idle;           // connections that may be closed to make room for new ones
    const web::player_files& player;  // the player page (web/web_front.hpp)
};

// Serves one plain HTTP connection from `client` until it closes; `received` holds octets of its
// already read from it (while looking for a PROXY protocol header).
asio::awaitable<void> serve_http(tcp::socket socket, client_address client,
                                 http_front_context& context,
                                 std::span<const std::uint8_t> received = {});

// Serves one HTTPS connection after its TLS handshake; `received` holds bytes already read from
// it (what the port-443 sniffer looked at).
asio::awaitable<void> serve_https(asio::ssl::stream<tcp::socket>& stream, client_address client,
                                  std::span<const std::uint8_t> received,
                                  http_front_context& context);

}  // namespace rtmpgate::gateway::front
