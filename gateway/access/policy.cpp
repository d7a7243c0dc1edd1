#include "gateway/access/policy.hpp"

#include <algorithm>

namespace rtmpgate::gateway::access {

bool policy::open_publish() const {
    // A deny rule refuses someone whatever comes before it ("allow 10.0.0.0/8" then "deny all"),
    // and a deny default refuses whoever no rule names; allow rules alone with an allow default
    // refuse no one.
    const bool rules_refuse_nobody =
        publish.default_allow && std::all_of(publish.rules.begin(), publish.rules.end(),
                                             [](const ip_rule& rule) { return rule.allow; });
    return rules_refuse_nobody && !publish.token && hooks.on_publish.empty() &&
           hooks.on_connect.empty();
}

}  // namespace rtmpgate::gateway::access
