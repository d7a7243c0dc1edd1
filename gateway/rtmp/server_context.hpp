// What every connection of one gateway process shares: the configuration, the engine's streams,
// the set of live connections (for shutdown), the counters behind /metrics and the TLS contexts
// of rtmps:// backends. Owned by app/server; the fronts and connections hold a reference.
#pragma once

#include "gateway/backend/client_tls.hpp"
#include "gateway/config/config.hpp"
#include "gateway/engine/stream_registry.hpp"
#include "gateway/net/connection_set.hpp"
#include "gateway/net/counters.hpp"

namespace rtmpgate::gateway {

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
