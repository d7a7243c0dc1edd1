// The admin endpoint (loopback by default): GET /healthz, GET /metrics (Prometheus text),
// GET /streams (JSON, admin/streams_json.hpp), GET / (the status page built on it,
// admin/status_page.hpp) and POST /streams/<app>/<name>/drop.
//
// /healthz answers 200 "ok" while the gateway takes new clients, and 503 "draining" from the
// first SIGINT/SIGTERM on (app/server: during drain_time it still accepts and serves; the 503 is
// for a load balancer's health check, so that it sends new clients elsewhere first).
//
// POST /streams/<app>/<name>/drop ends the engine stream "<app>/<name>" (each part
// percent-decoded; the name may hold '/'): its publisher's connection and every player's,
// playing or waiting for it, close (engine::stream_registry::drop); the name may then be
// published again. 200 with a line saying what was ended; 404 when the engine has no such
// stream (backend routes' streams are not the engine's); 405 for another method; 400 for a
// malformed percent escape; 403 when the requester's address is not in admin_allow. /streams
// and / answer only admin_allow too (they name clients' addresses), with 403 otherwise; /healthz
// and /metrics answer whoever reaches the listener, as before.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/net/asio.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {

struct admin_reply {
    unsigned status = 200;
    std::string content_type;  // empty: no Content-Type
    std::string body;
    std::string allow;  // the Allow header of a 405; empty: none
};

// The reply to one request (`method` as sent, "GET"; `target` the request target) from
// `requester`, without I/O but for what a drop asks of the connections it ends. `draining`: the
// stop has begun (see above).
admin_reply answer_admin(std::string_view method, std::string_view target, server_context& context,
                         bool draining, const asio::ip::address& requester);

// "/streams/live/a%2Fb/drop" -> "live/a/b": the engine's key of the stream to drop; nullopt
// when `target` is not a drop path (a missing app or name, a query, a bad percent escape, a
// decoded NUL).
std::optional<std::string> drop_target_key(std::string_view target);
// Whether `target` has the form of the drop path (/streams/.../drop), well-formed or not.
bool is_drop_path(std::string_view target);

// Serves one admin connection until the client closes it or asks to. `draining` is read at each
// request; it is owned by the server and outlives the connection.
asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context,
                                  const std::atomic<bool>& draining);

}  // namespace rtmpgate::gateway::admin
