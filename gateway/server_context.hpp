// What every connection of one gateway process shares: the configuration, the engine's streams,
// the set of live connections (for shutdown) and the counters behind /metrics.
#pragma once

#include "gateway/backend/client_tls.hpp"
#include "gateway/config.hpp"
#include "gateway/engine/stream_registry.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace rtmpgate::gateway {

// Something a shutdown must end: a client connection, a tunnel session.
class closable {
public:
    virtual ~closable() = default;
    // Thread-safe: ends the object on its own strand.
    virtual void shutdown() = 0;
};

class connection_set {
public:
    std::uint64_t add(std::weak_ptr<closable> c);
    void remove(std::uint64_t id);
    std::size_t size() const;
    void shutdown_all();

private:
    mutable std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<closable>> items_;
};

struct counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_rejected{0};   // over limits.max_connections
    std::atomic<std::uint64_t> sockets_open{0};           // client sockets now, every listener but admin
    std::atomic<std::uint64_t> connections_failed{0};     // ended by bad input or an error
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> media_dropped_messages{0};
    std::atomic<std::uint64_t> media_dropped_bytes{0};
    std::atomic<std::uint64_t> rtmpt_requests{0};
    std::atomic<std::uint64_t> rtmpt_sessions{0};          // open now
    std::atomic<std::uint64_t> backend_links{0};           // spliced to a backend
    std::atomic<std::uint64_t> backend_failures{0};        // backend refused, timed out, broke the handshake
};

struct server_context {
    explicit server_context(config c)
        : cfg(std::move(c)),
          streams(engine::stream_settings{cfg.engine.gop_cache, cfg.engine.gop_cache_max_bytes}) {}

    const config cfg;
    engine::stream_registry streams;
    connection_set connections;
    counters stats;
    backend::client_tls_contexts backend_tls;
};

}  // namespace rtmpgate::gateway
