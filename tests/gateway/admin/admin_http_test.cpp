#include "gateway/admin/admin_http.hpp"

#include <gtest/gtest.h>

#include <string>

#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {
namespace {

TEST(admin_http, healthz_is_ok_until_the_drain_begins) {
    const server_context context{config{}};
    const auto ok = answer_admin("GET", "/healthz", context, false);
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.content_type, "text/plain");
    EXPECT_EQ(ok.body, "ok\n");
    // What HAProxy's `option httpchk GET /healthz` reads: any status but 2xx/3xx fails the check.
    const auto draining = answer_admin("GET", "/healthz", context, true);
    EXPECT_EQ(draining.status, 503u);
    EXPECT_EQ(draining.content_type, "text/plain");
    EXPECT_EQ(draining.body, "draining\n");
    EXPECT_EQ(answer_admin("HEAD", "/healthz", context, true).status, 503u);
}

TEST(admin_http, metrics_are_served_while_draining) {
    const server_context context{config{}};
    for (const bool draining : {false, true}) {
        const auto reply = answer_admin("GET", "/metrics", context, draining);
        EXPECT_EQ(reply.status, 200u);
        EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4");
        EXPECT_NE(reply.body.find("rtmpgate_connections_open 0\n"), std::string::npos);
    }
}

TEST(admin_http, other_targets_and_methods) {
    const server_context context{config{}};
    EXPECT_EQ(answer_admin("GET", "/", context, false).status, 404u);
    EXPECT_EQ(answer_admin("GET", "/healthz/", context, false).status, 404u);
    EXPECT_EQ(answer_admin("POST", "/healthz", context, false).status, 405u);
    EXPECT_TRUE(answer_admin("DELETE", "/metrics", context, true).body.empty());
}

}  // namespace
}  // namespace rtmpgate::gateway::admin
