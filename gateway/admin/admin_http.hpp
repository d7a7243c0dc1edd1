// The admin endpoint (loopback by default): GET /healthz and GET /metrics (Prometheus text).
#pragma once

#include "gateway/net/asio.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {

asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context);

}  // namespace rtmpgate::gateway::admin
