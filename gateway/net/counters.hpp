// What the process counts, for /metrics (admin/metrics.cpp renders them). Updated from every
// strand with relaxed atomic increments.
#pragma once

#include <atomic>
#include <cstdint>

namespace rtmpgate::gateway {

struct counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_rejected{0};  // over limits.max_connections
    std::atomic<std::uint64_t> sockets_open{0};  // client sockets now, every listener but admin
    std::atomic<std::uint64_t> connections_failed{0};  // ended by bad input or an error
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> media_dropped_messages{0};
    std::atomic<std::uint64_t> media_dropped_bytes{0};
    std::atomic<std::uint64_t> rtmpt_requests{0};
    std::atomic<std::uint64_t> rtmpt_sessions{0};  // open now
    std::atomic<std::uint64_t> backend_links{0};   // spliced to a backend
    std::atomic<std::uint64_t> backend_failures{
        0};  // backend refused, timed out, broke the handshake
};

}  // namespace rtmpgate::gateway
