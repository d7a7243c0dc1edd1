// The access section: at the top level and per route, its rules, tokens, secret files and hooks.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "gateway/config/config.hpp"
#include "gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;

const std::string base =
    "listeners:\n"            // 1
    "  rtmp: 127.0.0.1:0\n";  // 2

config parse(const std::string& yaml) { return parse_config(yaml, "test.yaml"); }

void expect_default(const access::policy& p) {
    const access::policy d;
    EXPECT_TRUE(p.publish.rules.empty());
    EXPECT_TRUE(p.play.rules.empty());
    EXPECT_EQ(p.publish.default_allow, d.publish.default_allow);
    EXPECT_EQ(p.publish.token, d.publish.token);
    EXPECT_EQ(p.play.default_allow, d.play.default_allow);
    EXPECT_EQ(p.play.token, d.play.token);
    EXPECT_EQ(p.secret_files, d.secret_files);
    EXPECT_EQ(p.hooks.on_connect, d.hooks.on_connect);
    EXPECT_EQ(p.hooks.on_publish, d.hooks.on_publish);
    EXPECT_EQ(p.hooks.on_play, d.hooks.on_play);
    EXPECT_EQ(p.hooks.on_publish_done, d.hooks.on_publish_done);
    EXPECT_EQ(p.hooks.on_play_done, d.hooks.on_play_done);
    EXPECT_EQ(p.hooks.timeout, d.hooks.timeout);
    EXPECT_EQ(p.hooks.allow_on_failure, d.hooks.allow_on_failure);
    EXPECT_EQ(p.hooks.max_concurrent, d.hooks.max_concurrent);
    EXPECT_EQ(p.hooks.max_idle_connections, d.hooks.max_idle_connections);
    EXPECT_EQ(p.hooks.verify, d.hooks.verify);
    EXPECT_EQ(p.hooks.ca_file, d.hooks.ca_file);
    EXPECT_TRUE(p.open_publish());
}

TEST(config_access, defaults) {
    const access::policy d;
    EXPECT_TRUE(d.publish.default_allow);
    EXPECT_FALSE(d.publish.token);
    EXPECT_TRUE(d.play.default_allow);
    EXPECT_FALSE(d.play.token);
    EXPECT_EQ(d.hooks.timeout, 3s);
    EXPECT_FALSE(d.hooks.allow_on_failure);
    EXPECT_EQ(d.hooks.max_concurrent, 64u);
    EXPECT_EQ(d.hooks.max_idle_connections, 8u);
    EXPECT_TRUE(d.hooks.verify);
    const auto c = parse(base);
    expect_default(c.access);
    ASSERT_EQ(c.routes.size(), 1u);
    expect_default(c.routes[0].access);
}

TEST(config_access, the_default_file_writes_every_default_and_is_open) {
    const auto c = load_config(std::string(RTMPGATE_SOURCE_DIR) + "/config/rtmpgate.yaml");
    expect_default(c.access);
    for (const auto& r : c.routes) expect_default(r.access);
}

TEST(config_access, locked_down_example) {
    const auto c =
        load_config(std::string(RTMPGATE_SOURCE_DIR) + "/config/examples/locked-down.yaml");
    EXPECT_TRUE(c.access.publish.token);
    EXPECT_FALSE(c.access.play.token);
    EXPECT_TRUE(c.access.play.default_allow);
    EXPECT_EQ(c.access.secret_files, std::vector<std::string>{"secrets/publish-1.key"});
    EXPECT_EQ(c.access.hooks.on_publish, "https://auth.example.com/rtmp/on_publish");
    EXPECT_EQ(c.access.hooks.on_publish_done, "https://auth.example.com/rtmp/on_publish_done");
    EXPECT_FALSE(c.access.open_publish());
    ASSERT_EQ(c.routes.size(), 2u);
    const auto& studio = c.routes[0].access;
    ASSERT_EQ(studio.publish.rules.size(), 3u);
    EXPECT_TRUE(studio.publish.rules[2].any);
    EXPECT_FALSE(studio.publish.rules[2].allow);
    EXPECT_TRUE(studio.publish.token);  // from the top level
    EXPECT_TRUE(studio.play.token);     // its own
    EXPECT_EQ(studio.hooks.on_publish, c.access.hooks.on_publish);
    EXPECT_EQ(studio.secret_files, c.access.secret_files);
    EXPECT_TRUE(c.routes[1].access.publish.rules.empty());
    EXPECT_FALSE(c.routes[1].access.play.token);
}

TEST(config_access, every_key) {
    const auto c = parse(base +
                         "access:\n"
                         "  publish:\n"
                         "    rules: [\"allow 10.0.0.0/8\", \"deny ::1\", \"allow 192.0.2.7\","
                         " \"deny all\"]\n"
                         "    default: deny\n"
                         "    token: true\n"
                         "  play: {rules: [\"allow 2001:db8::/32\"], default: deny, token: false}\n"
                         "  secret_files: [a.key, /etc/b.key]\n"
                         "  hooks:\n"
                         "    on_connect: http://127.0.0.1:8080/c\n"
                         "    on_publish: https://auth.example.com/p?x=1\n"
                         "    on_play: \"http://[::1]:9/p\"\n"
                         "    on_publish_done: http://h/pd\n"
                         "    on_play_done: http://h/qd\n"
                         "    timeout: 250ms\n"
                         "    on_failure: allow\n"
                         "    max_concurrent: 10000\n"
                         "    max_idle_connections: 0\n"
                         "    verify: false\n"
                         "    ca_file: ca.pem\n");
    const auto& p = c.access;
    ASSERT_EQ(p.publish.rules.size(), 4u);
    EXPECT_TRUE(p.publish.rules[0].allow);
    EXPECT_EQ(p.publish.rules[0].network->to_string(), "10.0.0.0/8");
    EXPECT_FALSE(p.publish.rules[1].allow);
    EXPECT_EQ(p.publish.rules[1].network->to_string(), "::1/128");
    EXPECT_EQ(p.publish.rules[2].network->to_string(), "192.0.2.7/32");
    EXPECT_TRUE(p.publish.rules[3].any);
    EXPECT_FALSE(p.publish.rules[3].network);
    EXPECT_FALSE(p.publish.default_allow);
    EXPECT_TRUE(p.publish.token);
    ASSERT_EQ(p.play.rules.size(), 1u);
    EXPECT_FALSE(p.play.default_allow);
    EXPECT_EQ(p.secret_files, (std::vector<std::string>{"a.key", "/etc/b.key"}));
    EXPECT_EQ(p.hooks.on_connect, "http://127.0.0.1:8080/c");
    EXPECT_EQ(p.hooks.on_publish, "https://auth.example.com/p?x=1");
    EXPECT_EQ(p.hooks.on_play, "http://[::1]:9/p");
    EXPECT_EQ(p.hooks.on_publish_done, "http://h/pd");
    EXPECT_EQ(p.hooks.on_play_done, "http://h/qd");
    EXPECT_EQ(p.hooks.timeout, 250ms);
    EXPECT_TRUE(p.hooks.allow_on_failure);
    EXPECT_EQ(p.hooks.max_concurrent, 10000u);
    EXPECT_EQ(p.hooks.max_idle_connections, 0u);
    EXPECT_FALSE(p.hooks.verify);
    EXPECT_EQ(p.hooks.ca_file, "ca.pem");
    // The default route takes the top level as it is.
    EXPECT_EQ(c.routes[0].access.publish.rules.size(), 4u);
    EXPECT_EQ(c.routes[0].access.hooks.on_play, "http://[::1]:9/p");
}

TEST(config_access, a_route_overrides_key_by_key) {
    const std::string top =
        "access:\n"
        "  publish: {rules: [\"allow 10.0.0.0/8\", \"deny all\"], default: deny}\n"
        "  play: {default: deny}\n"
        "  secret_files: [top.key]\n"
        "  hooks: {on_publish: \"http://h/p\", timeout: 5s}\n";
    const std::string routes =
        "routes:\n"
        "  - app: live\n"
        "    to: engine\n"
        "    access:\n"
        "      publish: {token: true}\n"
        "      hooks: {timeout: 1s, on_play: \"http://h/q\"}\n"
        "  - app: open\n"
        "    to: engine\n"
        "    access:\n"
        "      publish: {rules: [], default: allow}\n"
        "      hooks: {on_publish: \"\"}\n"
        "      secret_files: [route.key, route2.key]\n"
        "  - app: \"*\"\n"
        "    to: engine\n";
    // Whichever of access and routes comes first in the file.
    for (const auto& text : {base + top + routes, base + routes + top}) {
        const auto c = parse(text);
        ASSERT_EQ(c.routes.size(), 3u);
        const auto& live = c.routes[0].access;
        EXPECT_EQ(live.publish.rules.size(), 2u);  // kept
        EXPECT_FALSE(live.publish.default_allow);  // kept
        EXPECT_TRUE(live.publish.token);           // written
        EXPECT_FALSE(live.play.default_allow);
        EXPECT_EQ(live.secret_files, std::vector<std::string>{"top.key"});
        EXPECT_EQ(live.hooks.on_publish, "http://h/p");
        EXPECT_EQ(live.hooks.on_play, "http://h/q");
        EXPECT_EQ(live.hooks.timeout, 1s);

        const auto& open = c.routes[1].access;
        EXPECT_TRUE(open.publish.rules.empty());
        EXPECT_TRUE(open.publish.default_allow);
        EXPECT_FALSE(open.publish.token);
        EXPECT_FALSE(open.play.default_allow);
        EXPECT_EQ(open.secret_files, (std::vector<std::string>{"route.key", "route2.key"}));
        EXPECT_EQ(open.hooks.on_publish, "");
        EXPECT_EQ(open.hooks.timeout, 5s);
        EXPECT_TRUE(open.open_publish());

        const auto& rest = c.routes[2].access;
        EXPECT_EQ(rest.publish.rules.size(), 2u);
        EXPECT_FALSE(rest.publish.token);
        EXPECT_EQ(rest.hooks.timeout, 5s);
        EXPECT_FALSE(rest.open_publish());
        EXPECT_TRUE(c.access.hooks.on_play.empty());
    }
}

TEST(config_access, bad_rules_name_their_index) {
    const std::string routes =
        "routes:\n"
        "  - app: a\n"
        "    to: engine\n"
        "  - app: b\n"
        "    to: engine\n"
        "    access:\n"
        "      publish:\n"
        "        rules:\n"
        "          - allow 10.0.0.0/8\n"
        "          - deny ::1\n";
    for (const char* bad : {"permit 10.0.0.0/8", "allow", "allow ", "allow  10.0.0.0/8",
                            "Allow all", "deny 10.0.0.1/8", "deny 10.0.0.0/33", "deny every",
                            "allow all ", "deny fe80::1%eth0", "deny example.com"}) {
        expect_error(base + routes + "          - \"" + bad + "\"\n",
                     "test.yaml:13: routes[1].access.publish.rules[2]: ", "expected \"allow\"");
    }
    expect_error(base + "access:\n  play:\n    rules: [\"deny all\", \"allow ::1\"]\n",
                 "test.yaml:5: access.play.rules[1]: never used");
    expect_error(base + "access:\n  play:\n    rules: [7]\n",
                 "test.yaml:5: access.play.rules[0]: ");
    expect_error(base + "access:\n  play:\n    rules: allow all\n",
                 "test.yaml:5: access.play.rules: expected a list");
}

TEST(config_access, bad_values_name_their_key) {
    const auto in_access = [](const std::string& lines) { return base + "access:\n" + lines; };
    expect_error(in_access("  publish:\n    default: maybe\n"),
                 "test.yaml:5: access.publish.default:", "expected allow or deny");
    expect_error(in_access("  play:\n    token: yes\n"), "test.yaml:5: access.play.token:");
    expect_error(in_access("  plays: {}\n"), "test.yaml:4: access.plays:");
    expect_error(in_access("  publish: {token: false, tokens: true}\n"),
                 "test.yaml:4: access.publish.tokens:");
    expect_error(in_access("  secret_files: [\"\"]\n"),
                 "test.yaml:4: access.secret_files[0]:", "must not be empty");
    expect_error(in_access("  hooks:\n    timeout: 99ms\n"), "test.yaml:5: access.hooks.timeout:");
    expect_error(in_access("  hooks:\n    timeout: 61s\n"), "test.yaml:5: access.hooks.timeout:");
    expect_error(in_access("  hooks:\n    on_failure: ignore\n"),
                 "test.yaml:5: access.hooks.on_failure:", "expected refuse or allow");
    expect_error(in_access("  hooks:\n    max_concurrent: 0\n"),
                 "test.yaml:5: access.hooks.max_concurrent:");
    expect_error(in_access("  hooks:\n    max_concurrent: 10001\n"),
                 "test.yaml:5: access.hooks.max_concurrent:");
    expect_error(in_access("  hooks:\n    max_idle_connections: 1001\n"),
                 "test.yaml:5: access.hooks.max_idle_connections:");
    expect_error(in_access("  hooks:\n    verify: 1\n"), "test.yaml:5: access.hooks.verify:");
    expect_error(in_access("  hooks:\n    on_pubish: http://h/\n"),
                 "test.yaml:5: access.hooks.on_pubish:");
    for (const char* key :
         {"on_connect", "on_publish", "on_play", "on_publish_done", "on_play_done"}) {
        for (const char* url : {"ftp://h/x", "http://u@h/x", "http://h/x#f", "http://h:0/",
                                "hooks.example.com/p", "http://h/a b"}) {
            expect_error(in_access("  hooks:\n    " + std::string(key) + ": \"" + url + "\"\n"),
                         "test.yaml:5: access.hooks." + std::string(key) + ":",
                         "expected \"\" (none) or an http:// or https:// URL");
        }
    }
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: engine\n"
                     "    access:\n"
                     "      hooks: {on_play: \"gopher://h/\"}\n",
                 "test.yaml:7: routes[0].access.hooks.on_play:");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: engine\n"
                     "    access: {publish: {default: nope}}\n",
                 "test.yaml:6: routes[0].access.publish.default:");
}

TEST(config_access, a_token_needs_a_secret_file) {
    expect_error(base + "access:\n  publish:\n    token: true\n",
                 "test.yaml:5: access.publish.token: ", "needs access.secret_files");
    expect_error(base + "access:\n  play: {token: true}\n  secret_files: []\n",
                 "test.yaml:4: access.play.token: ", "play.token: true needs access.secret_files");
    EXPECT_EQ(error_of(base + "access:\n  play: {token: true}\n  secret_files: [k]\n"),
              "(accepted)");
    // In a route: at its token key, or at its secret_files when it emptied the list.
    expect_error(
        base +
            "routes:\n"
            "  - app: live\n"
            "    to: engine\n"
            "    access:\n"
            "      play:\n"
            "        token: true\n",
        "test.yaml:8: routes[0].access.play.token: ", "needs routes[0].access.secret_files");
    expect_error(base +
                     "access:\n"
                     "  publish: {token: true}\n"
                     "  secret_files: [k]\n"
                     "routes:\n"
                     "  - app: live\n"
                     "    to: engine\n"
                     "  - app: other\n"
                     "    to: engine\n"
                     "    access:\n"
                     "      secret_files: []\n",
                 "test.yaml:12: routes[1].access.secret_files: ");
    // A route that turns tokens off needs none.
    EXPECT_EQ(error_of(base + "routes:\n"
                              "  - app: live\n"
                              "    to: engine\n"
                              "    access: {publish: {token: true}, secret_files: [k]}\n"
                              "  - app: other\n"
                              "    to: engine\n"),
              "(accepted)");
}

TEST(config_access, a_decide_hook_answers_before_the_client_idles) {
    // The client is not read while a hook decides: 60s (limits.idle_timeout's default) or
    // more would end the connection before the hook's answer could.
    expect_error(base + "access:\n  hooks: {on_publish: http://127.0.0.1:9/p, timeout: 60s}\n",
                 "test.yaml:4: access.hooks.timeout: ",
                 "a decide hook's timeout (1m) must be shorter than limits.idle_timeout (1m)");
    expect_error(base +
                     "limits: {idle_timeout: 2s}\n"
                     "routes:\n"
                     "  - app: live\n"
                     "    to: engine\n"
                     "    access: {hooks: {on_connect: http://127.0.0.1:9/c}}\n",
                 "test.yaml:3: limits.idle_timeout: ", "(3s) must be shorter");
    // Notify hooks wait for nothing; a timeout under the idle deadline is fine.
    EXPECT_EQ(error_of(base + "access:\n  hooks: {on_play_done: http://127.0.0.1:9/d, "
                              "timeout: 60s}\n"),
              "(accepted)");
    EXPECT_EQ(error_of(base + "access:\n  hooks: {on_play: http://127.0.0.1:9/d, timeout: 59s}\n"),
              "(accepted)");
}

}  // namespace
}  // namespace rtmpgate::gateway
