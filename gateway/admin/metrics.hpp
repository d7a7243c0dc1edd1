// The Prometheus text exposition of a gateway's counters (served on /metrics).
#pragma once

#include <string>

#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {

std::string render_metrics(const server_context& context);

}  // namespace rtmpgate::gateway::admin
