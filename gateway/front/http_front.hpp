// The HTTP/1.1 front end of RTMPT (port 80, and port 443 after TLS): persistent connections,
// pipelined requests answered in order, /open /send /idle /close /fcs/ident2 turned into tunnel
// session operations. Beast stays inside http_front.cpp.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <span>
#include <string>

#include "gateway/front/idle_connections.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/tunnel/registry.hpp"

namespace rtmpgate::gateway::front {

struct http_front_context {
    server_context& server;
    tunnel::registry& tunnels;
    asio::io_context& io;
    idle_connections& idle;  // connections that may be closed to make room for new ones
};

// Serves one plain HTTP connection from `client` until it closes.
asio::awaitable<void> serve_http(tcp::socket socket, client_address client,
                                 http_front_context& context);

// Serves one HTTPS connection after its TLS handshake; `received` holds bytes already read from
// it (what the port-443 sniffer looked at).
asio::awaitable<void> serve_https(asio::ssl::stream<tcp::socket>& stream, client_address client,
                                  std::span<const std::uint8_t> received,
                                  http_front_context& context);

}  // namespace rtmpgate::gateway::front
