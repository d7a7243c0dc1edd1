#include "gateway/tunnel/registry.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "protocol/rtmpt.hpp"

namespace rtmpgate::gateway::tunnel {
namespace {

// Session ids: protocol::format_rtmpt_session_id around 24 random characters of [A-Za-z0-9].
TEST(registry_ids, random_and_valid_with_or_without_a_node) {
    const registry plain({}, 10, "");
    const registry prefixed({}, 10, "gw2");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto a = plain.make_id();
        EXPECT_EQ(a.size(), 24u) << a;
        EXPECT_TRUE(protocol::is_valid_rtmpt_session_id(a)) << a;
        EXPECT_EQ(protocol::rtmpt_session_node(a), "") << a;
        const auto b = prefixed.make_id();
        EXPECT_EQ(b.size(), 4u + 24) << b;
        EXPECT_TRUE(protocol::is_valid_rtmpt_session_id(b)) << b;
        EXPECT_EQ(protocol::rtmpt_session_node(b), "gw2") << b;
        seen.insert(a);
        seen.insert(b.substr(4));
    }
    EXPECT_EQ(seen.size(), 400u);
}

TEST(registry_ids, a_node_that_cannot_prefix_an_id_fails_at_construction) {
    EXPECT_THROW(registry({}, 10, "g-w"), std::invalid_argument);
    EXPECT_THROW(registry({}, 10, std::string(40, 'n')), std::invalid_argument);  // over 63
}

}  // namespace
}  // namespace rtmpgate::gateway::tunnel
