// The JSON of the access hooks: the body the gateway POSTs to a hook, and what a decide hook's
// reply may ask for.
//
// The body, for every hook (action "connect", "publish", "play", "publish_done", "play_done"):
//   {"action": "publish", "app": "live", "stream": "key",
//    "args": {"token": "abc", ...},         the request's query arguments: an object, the first
//                                           occurrence of a name winning (as nginx-rtmp's form
//                                           fields are usually read)
//    "client": "203.0.113.5", "client_port": 41000,   the client's address (access/decision.hpp)
//    "transport": "rtmps", "route": "live", "connection": "conn 12", "node": "<node id>"}
// Strings from the client are bytes; what is not valid UTF-8 in them is replaced by U+FFFD, so
// that the body is always valid JSON.
//
// A decide hook's 2xx reply: an empty body (or white space only) allows the request unchanged.
// Otherwise it must be a JSON object, whose members, all optional, are
//   "stream":  the stream's new name: 1..1024 octets, no control characters, no '/', no '?'
//   "backend": "rtmp://host[:port]" or "rtmps://host[:port]" (a route's `to`, without "engine"):
//              the backend this connection's stream goes to instead of the route's
// A member whose value is null counts as absent; unknown members are ignored (room for more).
// Anything else (not JSON, not an object, a member of the wrong type or value, a body over
// 64 KiB) is an error: the gate refuses with reason hook_bad_reply.
#pragma once

#include <boost/system/result.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/access/decision.hpp"
#include "gateway/config/config.hpp"

namespace rtmpgate::gateway::access {

std::string make_hook_body(const request& r, std::string_view action_name,
                           std::string_view node_id);

struct hook_reply {
    std::string rename;  // "" keeps the name
    // host, port, tls from the URL, server_name = host; verify and ca_file are left to the gate.
    std::optional<backend_target> backend;
};

// The reply, or why it is not one ("\"backend\": must be rtmp:// or rtmps://").
boost::system::result<hook_reply, std::string> parse_hook_reply(std::string_view body);

}  // namespace rtmpgate::gateway::access
