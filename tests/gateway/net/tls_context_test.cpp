#include "gateway/net/tls_context.hpp"

#include <gtest/gtest.h>

namespace rtmpgate::gateway {
namespace {

TEST(server_name_matches, exact_names_ignore_case) {
    EXPECT_TRUE(server_name_matches("live.example.com", "live.example.com"));
    EXPECT_TRUE(server_name_matches("live.example.com", "LIVE.Example.COM"));
    EXPECT_FALSE(server_name_matches("live.example.com", "live.example.co"));
    EXPECT_FALSE(server_name_matches("live.example.com", "xlive.example.com"));
}

TEST(server_name_matches, a_wildcard_covers_exactly_one_label) {
    EXPECT_TRUE(server_name_matches("*.example.com", "a.example.com"));
    EXPECT_TRUE(server_name_matches("*.example.com", "Ingest-2.EXAMPLE.com"));
    EXPECT_FALSE(server_name_matches("*.example.com", "example.com"));
    EXPECT_FALSE(server_name_matches("*.example.com", "a.b.example.com"));
    EXPECT_FALSE(server_name_matches("*.example.com", ".example.com"));
    EXPECT_FALSE(server_name_matches("*.example.com", "a.example.org"));
    EXPECT_FALSE(server_name_matches("*.example.com", "aexample.com"));
}

}  // namespace
}  // namespace rtmpgate::gateway
