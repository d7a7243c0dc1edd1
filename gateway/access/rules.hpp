// The address rules of one action (access/policy.hpp: publish.rules and publish.default, or
// play's): which rule, if any, decides a client's address, and what it decides.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <optional>

#include "gateway/access/policy.hpp"

namespace rtmpgate::gateway::access {

struct rule_verdict {
    bool allowed = true;
    // The index in `rules` of the rule that decided; nullopt when none contained the address and
    // the default decided.
    std::optional<std::size_t> matched;
};

// The first rule of `p.rules` whose network contains `client` decides (an IPv4-mapped IPv6
// address is its IPv4 address, as cidr reads it; "all" contains every address); when none does,
// `p.default_allow`.
rule_verdict evaluate_rules(const action_policy& p, const asio::ip::address& client) noexcept;

}  // namespace rtmpgate::gateway::access
