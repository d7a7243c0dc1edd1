// What every connection of one gateway process shares: the configuration, the engine's streams,
// the set of live connections (for shutdown), the counters behind /metrics and the TLS contexts
// of rtmps:// backends. Owned by app/server; the fronts and connections hold a reference.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "gateway/backend/client_tls.hpp"
#include "gateway/config/config.hpp"
#include "gateway/engine/stream_registry.hpp"
#include "gateway/net/address_limits.hpp"
#include "gateway/net/connection_set.hpp"
#include "gateway/net/counters.hpp"
#include "gateway/net/memory_trimmer.hpp"
#include "gateway/upstream/push.hpp"
#include "protocol/byte_budget.hpp"

namespace rtmpgate::gateway {

namespace access {
class gate;
}
namespace upstream {
class pulls;
}

struct server_context {
    explicit server_context(config c)
        : cfg(std::move(c)),
          streams(engine::stream_settings{cfg.engine.gop_cache, cfg.engine.gop_cache_max_bytes}),
          partial_messages(cfg.limits.max_partial_message_bytes_total),
          per_address(per_address_settings(cfg)) {
        streams.set_observer(&pushes);
        if (cfg.limits.memory_trim_interval.count() > 0)
            trimmer.emplace(connections, cfg.limits.memory_trim_interval);
    }

    static address_limit_settings per_address_settings(const config& c) {
        address_limit_settings s;
        s.max_connections = c.limits.max_connections_per_address;
        s.max_sessions = c.rtmpt.max_sessions_per_address;
        s.max_opens_per_second = c.rtmpt.max_opens_per_second_per_address;
        return s;
    }

    const config cfg;
    engine::stream_registry streams;
    connection_set connections;
    counters stats;
    backend::client_tls_contexts backend_tls;
    // What every connection's chunk decoder draws on for the messages it has received in part.
    protocol::byte_budget partial_messages;
    // Connections, RTMPT sessions and /open rates per client address.
    address_limits per_address;
    // Starts the pushes of routes[i].push for every publish on their routes.
    upstream::route_pushes pushes{*this};
    // Gives freed memory back after a burst (limits.memory_trim_interval; none when 0).
    std::optional<memory_trimmer> trimmer;
    // Decides connect, publish and play by each route's access settings (access/gate.hpp); set
    // by app/server. Null (as in unit tests that build a context alone): everything is allowed.
    std::shared_ptr<access::gate> access;
    // The upstream plays of backend streams for the gateway's HTTP viewers (upstream/pull.hpp);
    // set by app/server. Null (unit tests that build a context alone): backend streams have no
    // viewers.
    upstream::pulls* pulls = nullptr;
    // The ports the http and https listeners are bound to (set by app/server as it binds them; 0:
    // not bound), for the player links of the admin's status page: a configured port may be 0.
    std::atomic<std::uint16_t> http_port{0}, https_port{0};
};

}  // namespace rtmpgate::gateway
