// Who may publish and who may play: the access settings of one route (config `access:` at the top
// level, the default of every route, and `routes[i].access:`, whose keys override it one by one),
// and what the gateway asks of a request before it lets it through.
//
// A publish or play is decided in this order, the first refusal ending it:
//   1. the address rules of the action: `rules` in order, the first whose network contains the
//      client's address decides; when none does, `default`;
//   2. a signed token, when `token` is on for the action (access/token.hpp): in the stream name's
//      query ("key?expires=...&sig=...") or the connect URL's;
//   3. the decide hook of the action (hooks.on_publish / hooks.on_play), when one is set.
// A connect is decided by hooks.on_connect alone (its address is checked again at publish/play).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "gateway/net/cidr.hpp"

namespace rtmpgate::gateway::access {

using std::chrono::milliseconds;

// One rule: "allow 10.0.0.0/8", "deny 2001:db8::/32", "allow all", "deny all".
struct ip_rule {
    bool allow = true;
    bool any = false;  // "all": every address, IPv4 and IPv6 (network is unused)
    std::optional<cidr> network;
};

struct action_policy {
    std::vector<ip_rule> rules;  // in order; the first that contains the client decides
    bool default_allow = true;   // `default: allow|deny`, when no rule contains the client
    bool token = false;          // a valid signed token is required
};

struct hook_settings {
    // Decide hooks (a 2xx allows, anything else refuses) and notify hooks; "" = none.
    // http://host[:port]/path or https://host[:port]/path.
    std::string on_connect, on_publish, on_play;
    std::string on_publish_done, on_play_done;
    milliseconds timeout{3000};       // a decide hook that has not answered by then has failed
    bool allow_on_failure = false;    // `on_failure: refuse|allow`: timed out, unreachable, busy
    std::size_t max_concurrent = 64;  // requests in flight to one hook URL; more: failure at once
    std::size_t max_idle_connections = 8;  // kept alive per hook URL for reuse
    bool verify = true;                    // https: verify the certificate chain and name
    std::string ca_file;                   // https: trusted CAs (PEM); empty: system store
};

struct policy {
    action_policy publish, play;
    // Files, one secret each (its first line, at least 16 octets): a token signed with any of
    // them is valid (rotation: add the new one, then remove the old one).
    std::vector<std::string> secret_files;
    hook_settings hooks;

    // True when anyone may publish: no rule can refuse, no token, no publish hook, no connect hook.
    bool open_publish() const;
};

}  // namespace rtmpgate::gateway::access
