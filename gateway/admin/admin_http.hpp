// The admin endpoint (loopback by default): GET /healthz and GET /metrics (Prometheus text).
//
// /healthz answers 200 "ok" while the gateway takes new clients, and 503 "draining" from the
// first SIGINT/SIGTERM on (app/server: during drain_time it still accepts and serves; the 503 is
// for a load balancer's health check, so that it sends new clients elsewhere first).
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "gateway/net/asio.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {

struct admin_reply {
    unsigned status = 200;
    std::string content_type;  // empty: no Content-Type
    std::string body;
};

// The reply to one request (`method` as sent, "GET"; `target` the request target), without I/O.
// `draining`: the stop has begun (see above).
admin_reply answer_admin(std::string_view method, std::string_view target,
                         const server_context& context, bool draining);

// Serves one admin connection until the client closes it or asks to. `draining` is read at each
// request; it is owned by the server and outlives the connection.
asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context,
                                  const std::atomic<bool>& draining);

}  // namespace rtmpgate::gateway::admin
