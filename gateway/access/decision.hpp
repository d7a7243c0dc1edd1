// A request the access rules decide (connect, publish, play), and what they decided.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/net/client_address.hpp"

namespace rtmpgate::gateway::access {

enum class action : std::uint8_t { connect, publish, play, count };

// Why a request was allowed or refused: rtmpgate_access_decisions_total{reason=...}, and the
// reason of its log line. Add at the end, before `count`, with its name in reason_name().
enum class reason : std::uint8_t {
    open,                 // nothing restricts it
    rule,                 // an address rule matched (allow or deny)
    rule_default,         // no address rule matched: the action's default
    token_ok,             // the token was valid (and nothing later refused)
    token_missing,        // a token is required and the request carries none
    token_malformed,      // expires or sig unreadable, or a parameter twice
    token_expired,        // its expiry time has passed
    token_bad_signature,  // signed with no current secret, or for another app, stream or client
    hook_allowed,         // the decide hook answered 2xx
    hook_refused,         // the decide hook answered something else
    hook_timeout,         // the decide hook did not answer within hooks.timeout
    hook_unreachable,     // the hook server could not be reached (refused, reset, TLS failed)
    hook_busy,            // hooks.max_concurrent requests were already in flight
    hook_bad_reply,       // a 2xx whose body is not the JSON object expected
    count
};

const char* action_name(action a) noexcept;
const char* reason_name(reason r) noexcept;

struct request {
    action what = action::connect;
    std::string app;     // without its query
    std::string stream;  // without its query; empty for connect
    // The query arguments, decoded: the stream name's first, then the connect URL's (tcUrl's, or
    // the app's "?..." part), in order.
    std::vector<std::pair<std::string, std::string>> args;
    std::size_t stream_args = 0;  // how many of args are the stream name's (the first ones)
    client_address client;
    std::string transport;      // "rtmp", "rtmps", "rtmpt", "rtmpts"
    std::string route;          // the route's app pattern ("live", "*")
    std::string connection_id;  // "conn 12"
};

struct decision {
    bool allowed = true;
    reason why = reason::open;
    std::string detail;  // for the log line and the client's description ("hook answered 403")
    // From a decide hook's JSON reply: the stream's new name ("" keeps it), a backend for this
    // connection (rtmp:// or rtmps://) in place of the route's.
    std::string rename;
    std::optional<backend_target> backend;
    bool hook_called = false;
    std::chrono::microseconds hook_time{0};
};

}  // namespace rtmpgate::gateway::access
