// routes[i].send_proxy_protocol: the PROXY protocol towards a backend.
#include <gtest/gtest.h>

#include <string>

#include "gateway/config/config.hpp"
#include "gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

using proxy_protocol = backend_target::proxy_protocol;

const std::string routes =
    "listeners:\n"           // 1
    "  rtmp: 127.0.0.1:0\n"  // 2
    "routes:\n"              // 3
    "  - app: live\n";       // 4

TEST(config_send_proxy_protocol, v1_and_v2_on_rtmp_and_rtmps_routes) {
    const auto c = parse_config(routes +
                                    "    to: rtmp://origin\n"
                                    "    send_proxy_protocol: v1\n"
                                    "  - app: tls\n"
                                    "    to: rtmps://origin\n"
                                    "    send_proxy_protocol: v2\n"
                                    "  - app: \"*\"\n"
                                    "    to: rtmp://other\n",
                                "test.yaml");
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[0].backend.send_proxy_protocol, proxy_protocol::v1);
    EXPECT_EQ(c.routes[1].backend.send_proxy_protocol, proxy_protocol::v2);
    EXPECT_EQ(c.routes[2].backend.send_proxy_protocol, proxy_protocol::none);  // the default
}

TEST(config_send_proxy_protocol, bad_values_name_the_key) {
    for (const char* value : {"v3", "V1", "true", "1", "none", "\"\""}) {
        const auto message =
            error_of(routes + "    to: rtmp://origin\n    send_proxy_protocol: " + value + "\n");
        EXPECT_TRUE(message.starts_with(
            "test.yaml:6: routes[0].send_proxy_protocol: expected v1 or v2 (got "))
            << value << ": " << message;
    }
    EXPECT_TRUE(error_of(routes + "    to: rtmp://origin\n    send_proxy_protocol: [v1]\n")
                    .starts_with("test.yaml:6: routes[0].send_proxy_protocol: expected a string"));
}

TEST(config_send_proxy_protocol, only_on_backend_routes) {
    EXPECT_EQ(error_of(routes + "    send_proxy_protocol: v1\n    to: engine\n"),
              "test.yaml:5: routes[0].send_proxy_protocol: only applies to rtmp:// and rtmps:// "
              "routes");
}

}  // namespace
}  // namespace rtmpgate::gateway
