#include "gateway/access/rules.hpp"

namespace rtmpgate::gateway::access {

rule_verdict evaluate_rules(const action_policy& p, const asio::ip::address& client) noexcept {
    for (std::size_t i = 0; i < p.rules.size(); ++i) {
        const auto& rule = p.rules[i];
        // A rule without "all" always has a network (config reads one or fails); one that has
        // neither contains nothing rather than everything.
        const bool contains = rule.any || (rule.network && rule.network->contains(client));
        if (contains) return {rule.allow, i};
    }
    return {p.default_allow, std::nullopt};
}

}  // namespace rtmpgate::gateway::access
