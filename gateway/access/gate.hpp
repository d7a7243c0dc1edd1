// The access gate: decides each connect, publish and play (access/policy.hpp says in what order),
// logs one line per decision and counts it for /metrics; calls the notify hooks when a publish or
// play that was allowed ends. One per process (server_context), used from every strand.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/access/decision.hpp"
#include "gateway/access/hook_client.hpp"
#include "gateway/config/config.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway::access {

// True when the policy has something that may refuse `what` or a hook to ask: without it the
// request is served at once, at no cost.
bool decides(const policy& p, action what);
// True when the policy has a done hook for `what` (publish_done, play_done).
bool notifies(const policy& p, action what);

// The start-up warning for a client listener bound to `bound` (named `listener`: "rtmp"): a
// gateway on the open internet that lets anyone publish is a free relay for whoever finds it.
// Empty when the listener is on loopback or every route restricts publishing.
std::string open_publish_warning(std::string_view listener, const tcp::endpoint& bound,
                                 std::span<const route> routes);

class gate {
public:
    // Reads every route's secret files and checks every hook URL; throws std::runtime_error
    // naming the config key ("routes[1].access.secret_files[0]: cannot read ...").
    gate(const config& cfg, asio::any_io_executor executor);
    ~gate();

    // Decides `r` by the policy of `via` (the route the connect matched: one of the
    // configuration's routes, not a copy). Never throws.
    asio::awaitable<decision> decide(const request& r, const route& via);
    // The allowed publish or play `r` (r.what) has ended: POSTs on_publish_done / on_play_done
    // if set, without waiting for it (bounded like every hook call).
    void ended(const request& r, const route& via);

    // rtmpgate_access_decisions_total and rtmpgate_hook_duration_seconds, Prometheus text.
    void write_metrics(std::string& out) const;

    // Waits until the done notifications in flight have been answered or have failed (each is
    // bounded by its hook's timeout): at shutdown, before close().
    asio::awaitable<void> finish_notifications();

    void close();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace rtmpgate::gateway::access
