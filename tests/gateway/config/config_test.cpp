#include "gateway/config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "gateway/config/config_errors.hpp"

namespace rtmpgate::gateway {
namespace {

using namespace std::chrono_literals;

const std::string source_dir = RTMPGATE_SOURCE_DIR;

// Two lines every test document starts with: the one listener a configuration must have.
const std::string base =
    "listeners:\n"            // 1
    "  rtmp: 127.0.0.1:0\n";  // 2

config parse(const std::string& yaml) { return parse_config(yaml, "test.yaml"); }

// --- committed files ----------------------------------------------------------------------------

TEST(config_files, default_file_is_every_default_with_listeners_and_certificate) {
    const auto c = load_config(source_dir + "/config/rtmpgate.yaml");
    EXPECT_EQ(c.listeners.http.to_string(), "0.0.0.0:80");
    EXPECT_EQ(c.listeners.https.to_string(), "0.0.0.0:443");
    EXPECT_EQ(c.listeners.rtmp.to_string(), "0.0.0.0:1935");
    EXPECT_EQ(c.listeners.admin.to_string(), "127.0.0.1:8086");
    EXPECT_EQ(c.tls.certificate, "certs/dev/server.crt");
    EXPECT_EQ(c.tls.private_key, "certs/dev/server.key");
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].app, "*");
    EXPECT_TRUE(c.routes[0].to_engine);

    // Everything else the file writes out equals the built-in default, so the file documents them.
    const config d;
    EXPECT_TRUE(c.tls.sni.empty());
    EXPECT_EQ(c.tls.handshake_timeout, d.tls.handshake_timeout);
    EXPECT_EQ(c.threads, d.threads);
    EXPECT_EQ(c.limits.max_chunk_size, d.limits.max_chunk_size);
    EXPECT_EQ(c.limits.max_message_length, d.limits.max_message_length);
    EXPECT_EQ(c.limits.max_chunk_streams, d.limits.max_chunk_streams);
    EXPECT_EQ(c.limits.max_partial_message_bytes, d.limits.max_partial_message_bytes);
    EXPECT_EQ(c.limits.max_partial_message_bytes_total, d.limits.max_partial_message_bytes_total);
    EXPECT_EQ(c.limits.memory_trim_interval, d.limits.memory_trim_interval);
    EXPECT_EQ(c.limits.max_connections, d.limits.max_connections);
    EXPECT_EQ(c.limits.handshake_timeout, d.limits.handshake_timeout);
    EXPECT_EQ(c.limits.idle_timeout, d.limits.idle_timeout);
    EXPECT_EQ(c.limits.max_name_length, d.limits.max_name_length);
    EXPECT_EQ(c.limits.max_url_length, d.limits.max_url_length);
    EXPECT_EQ(c.limits.accept_pause, d.limits.accept_pause);
    EXPECT_EQ(c.engine.chunk_size, d.engine.chunk_size);
    EXPECT_EQ(c.engine.window_ack_size, d.engine.window_ack_size);
    EXPECT_EQ(c.engine.peer_bandwidth, d.engine.peer_bandwidth);
    EXPECT_EQ(c.engine.gop_cache, d.engine.gop_cache);
    EXPECT_EQ(c.engine.gop_cache_max_bytes, d.engine.gop_cache_max_bytes);
    EXPECT_EQ(c.engine.player_queue_bytes, d.engine.player_queue_bytes);
    EXPECT_EQ(c.rtmpt.idle_hold, d.rtmpt.idle_hold);
    EXPECT_EQ(c.rtmpt.idle_coalesce, d.rtmpt.idle_coalesce);
    EXPECT_EQ(c.rtmpt.session_timeout, d.rtmpt.session_timeout);
    EXPECT_EQ(c.rtmpt.max_sessions, d.rtmpt.max_sessions);
    EXPECT_EQ(c.rtmpt.max_body, d.rtmpt.max_body);
    EXPECT_EQ(c.rtmpt.max_pending_output, d.rtmpt.max_pending_output);
    EXPECT_EQ(c.rtmpt.gap_timeout, d.rtmpt.gap_timeout);
    EXPECT_EQ(c.rtmpt.node_id, d.rtmpt.node_id);
    EXPECT_EQ(c.rtmpt.connection_idle_timeout, d.rtmpt.connection_idle_timeout);
    EXPECT_EQ(c.rtmpt.sessionless_idle_timeout, d.rtmpt.sessionless_idle_timeout);
    EXPECT_EQ(c.rtmpt.request_header_timeout, d.rtmpt.request_header_timeout);
    EXPECT_EQ(c.rtmpt.request_body_timeout, d.rtmpt.request_body_timeout);
    EXPECT_EQ(c.rtmpt.write_timeout, d.rtmpt.write_timeout);
    EXPECT_EQ(c.rtmpt.quick_ack, d.rtmpt.quick_ack);
    EXPECT_EQ(c.backend.connect_timeout, d.backend.connect_timeout);
    EXPECT_EQ(c.backend.handshake_timeout, d.backend.handshake_timeout);
    EXPECT_EQ(c.backend.link_buffer_bytes, d.backend.link_buffer_bytes);
    EXPECT_EQ(c.backend.idle_timeout, d.backend.idle_timeout);
    EXPECT_EQ(c.backend.write_timeout, d.backend.write_timeout);
    EXPECT_EQ(c.shutdown_grace, d.shutdown_grace);
    EXPECT_EQ(c.drain_time, d.drain_time);
    EXPECT_EQ(c.log_level, d.log_level);
    EXPECT_EQ(c.limits.max_connections_per_address, d.limits.max_connections_per_address);
    EXPECT_EQ(c.rtmpt.max_sessions_per_address, d.rtmpt.max_sessions_per_address);
    EXPECT_EQ(c.rtmpt.max_opens_per_second_per_address, d.rtmpt.max_opens_per_second_per_address);
    EXPECT_EQ(c.admin_allow, d.admin_allow);
}

TEST(config_files, proxy_example) {
    const auto c = load_config(source_dir + "/config/examples/proxy.yaml");
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[0].app, "live");
    EXPECT_TRUE(c.routes[0].to_engine);
    EXPECT_EQ(c.routes[1].app, "relay");
    EXPECT_FALSE(c.routes[1].to_engine);
    EXPECT_EQ(c.routes[1].backend.host, "127.0.0.1");
    EXPECT_EQ(c.routes[1].backend.port, 1936);
    EXPECT_FALSE(c.routes[1].backend.tls);
    EXPECT_EQ(c.routes[2].app, "*");
    EXPECT_FALSE(c.routes[2].to_engine);
    EXPECT_EQ(c.routes[2].backend.host, "ingest.example.com");
    EXPECT_EQ(c.routes[2].backend.port, 443);
    EXPECT_TRUE(c.routes[2].backend.tls);
    EXPECT_TRUE(c.routes[2].backend.verify);
    EXPECT_EQ(c.routes[2].backend.server_name, "ingest.example.com");
    EXPECT_EQ(c.find_route("relay"), &c.routes[1]);
    EXPECT_EQ(c.find_route("other"), &c.routes[2]);
}

TEST(config_files, scale_out_example) {
    const auto c = load_config(source_dir + "/config/examples/scale-out.yaml");
    EXPECT_EQ(c.rtmpt.node_id, "gw1");
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_FALSE(c.routes[0].to_engine);
    EXPECT_EQ(c.routes[0].backend.host, "origin.internal");
    EXPECT_EQ(c.routes[0].backend.port, 1935);
    EXPECT_FALSE(c.routes[0].backend.tls);
    EXPECT_EQ(c.drain_time, 5s);
}

TEST(config_files, missing_file) {
    const std::string path = source_dir + "/config/no-such-file.yaml";
    try {
        load_config(path);
        FAIL() << "accepted a missing file";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
    }
}

TEST(config_files, directory_is_not_a_file) {
    const std::string path = source_dir + "/config";
    try {
        load_config(path);
        FAIL() << "accepted a directory";
    } catch (const config_error& e) {
        EXPECT_TRUE(std::string_view(e.what()).starts_with(path + ": cannot read: ")) << e.what();
    }
}

// --- defaults -----------------------------------------------------------------------------------

TEST(config_defaults, built_in) {
    const config c;
    EXPECT_FALSE(c.listeners.http.enabled);
    EXPECT_FALSE(c.listeners.https.enabled);
    EXPECT_FALSE(c.listeners.rtmp.enabled);
    EXPECT_FALSE(c.listeners.admin.enabled);
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].app, "*");
    EXPECT_TRUE(c.routes[0].to_engine);
    EXPECT_EQ(c.rtmpt.idle_hold, 200ms);
    EXPECT_EQ(c.rtmpt.idle_coalesce, 0ms);
    EXPECT_EQ(c.engine.chunk_size, 4096u);
    EXPECT_EQ(c.log_level, "info");
}

TEST(config_defaults, absent_keys_keep_defaults) {
    const auto c = parse(base);
    const config d;
    EXPECT_EQ(c.listeners.rtmp.to_string(), "127.0.0.1:0");
    EXPECT_FALSE(c.listeners.http.enabled);
    EXPECT_FALSE(c.listeners.https.enabled);
    EXPECT_FALSE(c.listeners.admin.enabled);
    EXPECT_TRUE(c.tls.certificate.empty());
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].app, "*");
    EXPECT_TRUE(c.routes[0].to_engine);
    EXPECT_EQ(c.limits.max_chunk_size, d.limits.max_chunk_size);
    EXPECT_EQ(c.rtmpt.session_timeout, d.rtmpt.session_timeout);
    EXPECT_EQ(c.backend.link_buffer_bytes, d.backend.link_buffer_bytes);
    EXPECT_EQ(c.shutdown_grace, d.shutdown_grace);
}

TEST(config_defaults, empty_section_is_all_defaults) {
    const auto c = parse(base + "engine:\nrtmpt:\n");
    EXPECT_EQ(c.engine.chunk_size, 4096u);
    EXPECT_EQ(c.rtmpt.max_body, std::size_t{4} << 20);
}

// --- endpoints ----------------------------------------------------------------------------------

TEST(config_listeners, forms) {
    const auto c = parse(
        "listeners:\n"
        "  http: \"\"\n"
        "  https:\n"
        "  rtmp: \"[::1]:1935\"\n"
        "  admin: 127.0.0.1:0\n");
    EXPECT_FALSE(c.listeners.http.enabled);   // ""
    EXPECT_FALSE(c.listeners.https.enabled);  // nothing
    EXPECT_TRUE(c.listeners.rtmp.enabled);
    EXPECT_EQ(c.listeners.rtmp.host, "::1");
    EXPECT_EQ(c.listeners.rtmp.port, 1935);
    EXPECT_EQ(c.listeners.rtmp.to_string(), "[::1]:1935");
    EXPECT_TRUE(c.listeners.admin.enabled);
    EXPECT_EQ(c.listeners.admin.port, 0);
}

TEST(config_listeners, bad_address) {
    expect_error(
        "listeners:\n"
        "  http: 0.0.0.0:65536\n",
        "test.yaml:2: listeners.http: port must be a number from 0 to 65535");
    expect_error(
        "listeners:\n"
        "  rtmp: 0.0.0.0:1935\n"
        "  admin: localhost:8086\n",
        "test.yaml:3: listeners.admin: not an IPv4 address");
    expect_error(
        "listeners:\n"
        "  rtmp: 0.0.0.0\n",
        "test.yaml:2: listeners.rtmp: missing :port");
    expect_error(
        "listeners:\n"
        "  rtmp: ::1:1935\n",
        "test.yaml:2: listeners.rtmp: not an address and port");
    // Unquoted, "[::1]" is a YAML list.
    expect_error(
        "listeners:\n"
        "  rtmp: [::1]\n",
        "test.yaml:2: listeners.rtmp: expected an address", "quote IPv6");
    expect_error(
        "listeners:\n"
        "  rtmp: {host: 0.0.0.0}\n",
        "test.yaml:2: listeners.rtmp: expected an address such as 0.0.0.0:1935 (got a mapping)");
}

TEST(config_listeners, same_address_twice) {
    expect_error(
        "listeners:\n"
        "  http: 0.0.0.0:8080\n"
        "  rtmp: 0.0.0.0:8080\n",
        "test.yaml:3: listeners.rtmp: same address as listeners.http (0.0.0.0:8080)");
    // Port 0 is a different system-chosen port each time.
    EXPECT_NO_THROW(parse("listeners:\n  http: 127.0.0.1:0\n  rtmp: 127.0.0.1:0\n"));
}

TEST(config_listeners, needs_a_client_listener) {
    expect_error(
        "listeners:\n"
        "  admin: 127.0.0.1:8086\n",
        "test.yaml:1: listeners: no client listener");
    expect_error("threads: 2\n", "test.yaml:1: listeners: no client listener");
}

// --- routes -------------------------------------------------------------------------------------

TEST(config_routes, find_route_first_match_and_star) {
    const auto c = parse(base +
                         "routes:\n"
                         "  - app: live\n"
                         "    to: engine\n"
                         "  - app: relay\n"
                         "    to: rtmp://127.0.0.1:1936\n"
                         "  - app: \"*\"\n"
                         "    to: rtmps://ingest.example.com:8443\n"
                         "    verify: false\n");
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.find_route("live"), &c.routes[0]);
    EXPECT_EQ(c.find_route("relay"), &c.routes[1]);
    EXPECT_EQ(c.find_route("Live"), &c.routes[2]);  // exact, case-sensitive
    EXPECT_EQ(c.find_route(""), &c.routes[2]);
    EXPECT_EQ(c.routes[2].backend.port, 8443);
    EXPECT_FALSE(c.routes[2].backend.verify);
    EXPECT_TRUE(c.routes[0].matches("live"));
    EXPECT_FALSE(c.routes[0].matches("live2"));
    EXPECT_TRUE(c.routes[2].matches("anything"));
}

TEST(config_routes, no_match_is_null) {
    const auto c = parse(base +
                         "routes:\n"
                         "  - app: live\n"
                         "    to: engine\n");
    EXPECT_EQ(c.find_route("live"), &c.routes[0]);
    EXPECT_EQ(c.find_route("vod"), nullptr);
}

TEST(config_routes, rtmps_options) {
    const auto c = parse(base +
                         "routes:\n"
                         "  - app: a\n"
                         "    to: rtmps://[::1]\n"
                         "    ca_file: ca.pem\n"
                         "    server_name: backend.test\n"
                         "  - app: b\n"
                         "    to: rtmps://10.0.0.2\n");
    EXPECT_EQ(c.routes[0].backend.host, "::1");
    EXPECT_EQ(c.routes[0].backend.port, 443);
    EXPECT_TRUE(c.routes[0].backend.verify);
    EXPECT_EQ(c.routes[0].backend.ca_file, "ca.pem");
    EXPECT_EQ(c.routes[0].backend.server_name, "backend.test");
    EXPECT_EQ(c.routes[1].backend.server_name, "10.0.0.2");  // defaults to the host
    EXPECT_TRUE(c.routes[1].backend.ca_file.empty());
}

TEST(config_routes, bad_to) {
    const auto route_to = [](const std::string& to) {
        return base +
               "routes:\n"         // 3
               "  - app: live\n"   // 4
               "    to: engine\n"  // 5
               "  - app: other\n"  // 6
               "    to: " +
               to + "\n";  // 7
    };
    expect_error(route_to("http://x"), "test.yaml:7: routes[1].to: unknown target");
    expect_error(route_to("rtmp://origin/live"),
                 "test.yaml:7: routes[1].to: must be only a scheme, host and port");
    expect_error(route_to("rtmp://origin:0"),
                 "test.yaml:7: routes[1].to: port must be a number from 1 to 65535");
    expect_error(route_to("[engine]"), "test.yaml:7: routes[1].to: expected a string (got a list)");
}

TEST(config_routes, empty_list) {
    expect_error(base + "routes: []\n", "test.yaml:3: routes: needs at least one route");
    expect_error(base + "routes:\n", "test.yaml:3: routes: needs at least one route");
    expect_error(base + "routes: {app: x}\n",
                 "test.yaml:3: routes: expected a list (got a mapping)");
}

TEST(config_routes, incomplete_or_misplaced_keys) {
    expect_error(base +
                     "routes:\n"
                     "  - to: engine\n",
                 "test.yaml:4: routes[0]: missing app");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n",
                 "test.yaml:4: routes[0]: missing to");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: rtmp://origin\n"
                     "    verify: false\n",
                 "test.yaml:6: routes[0].verify: only applies to rtmps:// routes");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    server_name: x.test\n"
                     "    to: engine\n",
                 "test.yaml:5: routes[0].server_name: only applies to rtmps:// routes");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: rtmps://origin\n"
                     "    verify: false\n"
                     "    ca_file: ca.pem\n",
                 "test.yaml:7: routes[0].ca_file: has no effect with verify: false");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: rtmps://origin\n"
                     "    verify: no\n",
                 "test.yaml:6: routes[0].verify: expected true or false (got \"no\")");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: rtmps://origin\n"
                     "    server_name: \"bad name\"\n",
                 "test.yaml:6: routes[0].server_name: expected a DNS name");
}

TEST(config_routes, bad_app) {
    expect_error(base +
                     "routes:\n"
                     "  - app: \"\"\n"
                     "    to: engine\n",
                 "test.yaml:4: routes[0].app: must not be empty");
    expect_error(base +
                     "routes:\n"
                     "  - app: \"live*\"\n"
                     "    to: engine\n",
                 "test.yaml:4: routes[0].app: \"*\" alone matches any application");
    expect_error(base +
                     "routes:\n"
                     "  - app: \"my app\"\n"
                     "    to: engine\n",
                 "test.yaml:4: routes[0].app: must not contain spaces");
}

TEST(config_routes, unreachable_route) {
    expect_error(base +
                     "routes:\n"
                     "  - app: \"*\"\n"
                     "    to: engine\n"
                     "  - app: live\n"
                     "    to: rtmp://origin\n",
                 "test.yaml:6: routes[1].app: never used: routes[0] (app \"*\")");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: engine\n"
                     "  - app: vod\n"
                     "    to: engine\n"
                     "  - to: rtmp://origin\n"
                     "    app: live\n",
                 "test.yaml:9: routes[2].app: never used: routes[0] (app \"live\")");
}

// --- tls ----------------------------------------------------------------------------------------

TEST(config_tls, https_needs_certificate) {
    expect_error(
        "listeners:\n"
        "  https: 0.0.0.0:443\n",
        "test.yaml:2: listeners.https: needs tls.certificate and tls.private_key");
    expect_error(
        "listeners:\n"
        "  https: 0.0.0.0:443\n"
        "tls:\n"
        "  certificate: \"\"\n"
        "  private_key: \"\"\n",
        "test.yaml:2: listeners.https: needs tls.certificate and tls.private_key");
    const auto c = parse(
        "listeners:\n"
        "  https: 0.0.0.0:443\n"
        "tls:\n"
        "  certificate: a.crt\n"
        "  private_key: a.key\n");
    EXPECT_EQ(c.tls.certificate, "a.crt");
    EXPECT_EQ(c.tls.private_key, "a.key");
}

TEST(config_tls, certificate_and_key_go_together) {
    expect_error(base +
                     "tls:\n"
                     "  certificate: a.crt\n",
                 "test.yaml:4: tls.certificate: set without tls.private_key");
    expect_error(base +
                     "tls:\n"
                     "  handshake_timeout: 5s\n"
                     "  private_key: a.key\n",
                 "test.yaml:5: tls.private_key: set without tls.certificate");
}

TEST(config_tls, sni_entries) {
    const auto c = parse(base +
                         "tls:\n"
                         "  certificate: a.crt\n"
                         "  private_key: a.key\n"
                         "  sni:\n"
                         "    - certificate: b.crt\n"
                         "      private_key: b.key\n"
                         "      server_names: [b.example, \"*.b.example\"]\n");
    ASSERT_EQ(c.tls.sni.size(), 1u);
    EXPECT_EQ(c.tls.sni[0].certificate, "b.crt");
    EXPECT_EQ(c.tls.sni[0].private_key, "b.key");
    ASSERT_EQ(c.tls.sni[0].server_names.size(), 2u);
    EXPECT_EQ(c.tls.sni[0].server_names[1], "*.b.example");
}

TEST(config_tls, bad_sni_entries) {
    const std::string head = base +
                             "tls:\n"     // 3
                             "  sni:\n";  // 4
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      server_names: [b.example]\n",
                 "test.yaml:5: tls.sni[0]: missing private_key");
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      private_key: b.key\n",
                 "test.yaml:5: tls.sni[0]: missing server_names");
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      private_key: b.key\n"
                     "      server_names: []\n",
                 "test.yaml:7: tls.sni[0].server_names: needs at least one name");
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      private_key: b.key\n"
                     "      server_names: b.example\n",
                 "test.yaml:7: tls.sni[0].server_names: expected a list (got \"b.example\")");
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      private_key: b.key\n"
                     "      server_names:\n"
                     "        - b.example\n"
                     "        - \"b example\"\n",
                 "test.yaml:9: tls.sni[0].server_names[1]: expected a DNS name");
    expect_error(
        head +
            "    - certificate: b.crt\n"
            "      private_key: b.key\n"
            "      server_names: [b.example]\n"
            "    - certificate: c.crt\n"
            "      private_key: c.key\n"
            "      server_names: [c.example, b.example]\n",
        "test.yaml:10: tls.sni[1].server_names[1]: \"b.example\" is already served by tls.sni[0]");
    expect_error(head +
                     "    - certificate: b.crt\n"
                     "      private_key: b.key\n"
                     "      server_names: [b.example]\n"
                     "      sever_names: [c.example]\n",
                 "test.yaml:8: tls.sni[0].sever_names: unknown key");
}

// --- keys, types and ranges ---------------------------------------------------------------------

TEST(config_keys, unknown_at_every_level) {
    expect_error(base + "thread: 4\n",
                 "test.yaml:3: thread: unknown key (known here: listeners, tls, routes,");
    expect_error(base +
                     "limits:\n"
                     "  max_chunk_sizes: 4096\n",
                 "test.yaml:4: limits.max_chunk_sizes: unknown key (known here: max_chunk_size,");
    expect_error(
        "listeners:\n"
        "  rtmp: 127.0.0.1:0\n"
        "  rtmps: 127.0.0.1:0\n",
        "test.yaml:3: listeners.rtmps: unknown key");
    expect_error(base +
                     "routes:\n"
                     "  - app: live\n"
                     "    to: rtmps://x.test\n"
                     "    verfy: true\n",
                 "test.yaml:6: routes[0].verfy: unknown key");
}

TEST(config_keys, repeated_key) {
    expect_error(base +
                     "threads: 2\n"
                     "log_level: debug\n"
                     "threads: 4\n",
                 "test.yaml:5: threads: repeated key (first at line 3)");
}

TEST(config_keys, wrong_types) {
    expect_error(base + "threads: [1]\n",
                 "test.yaml:3: threads: expected a whole number (got a list)");
    expect_error(base + "threads: four\n",
                 "test.yaml:3: threads: expected a whole number (got \"four\")");
    expect_error(base + "limits: 5\n",
                 "test.yaml:3: limits: expected a mapping of keys (got \"5\")");
    expect_error(base + "tls: [a.crt]\n",
                 "test.yaml:3: tls: expected a mapping of keys (got a list)");
    expect_error(base +
                     "engine:\n"
                     "  gop_cache: yes\n",
                 "test.yaml:4: engine.gop_cache: expected true or false (got \"yes\")");
    expect_error(base +
                     "engine:\n"
                     "  gop_cache:\n",
                 "test.yaml:4: engine.gop_cache: expected true or false (got nothing)");
    expect_error(base + "log_level: {a: b}\n",
                 "test.yaml:3: log_level: expected a string (got a mapping)");
    expect_error(base +
                     "rtmpt:\n"
                     "  node_id:\n"
                     "    - a\n",
                 "test.yaml:4: rtmpt.node_id: expected a string (got a list)");
}

TEST(config_keys, out_of_range) {
    expect_error(base +
                     "engine:\n"
                     "  chunk_size: 64\n",
                 "test.yaml:4: engine.chunk_size: must be between 128 and 16777215 (got 64)");
    expect_error(
        base +
            "limits:\n"
            "  max_chunk_size: 16777216\n",
        "test.yaml:4: limits.max_chunk_size: must be between 128 and 16777215 (got 16777216)");
    expect_error(base + "threads: 257\n",
                 "test.yaml:3: threads: must be between 0 and 256 (got 257)");
    expect_error(base + "threads: -1\n", "test.yaml:3: threads: must not be negative");
    expect_error(base +
                     "rtmpt:\n"
                     "  idle_hold: 5ms\n",
                 "test.yaml:4: rtmpt.idle_hold: must be between 10ms and 30s (got 5ms)");
    expect_error(base +
                     "rtmpt:\n"
                     "  idle_hold: 31s\n",
                 "test.yaml:4: rtmpt.idle_hold: must be between 10ms and 30s (got 31s)");
    expect_error(base +
                     "rtmpt:\n"
                     "  idle_coalesce: 101ms\n",
                 "test.yaml:4: rtmpt.idle_coalesce: must be between 0ms and 100ms (got 101ms)");
    expect_error(base +
                     "rtmpt:\n"
                     "  max_body: 1GiB\n",
                 "test.yaml:4: rtmpt.max_body: must be between 64KiB and 256MiB (got 1GiB)");
    expect_error(base +
                     "limits:\n"
                     "  max_chunk_streams: 70000\n",
                 "test.yaml:4: limits.max_chunk_streams: must be between 8 and 65598 (got 70000)");
    expect_error(
        base +
            "rtmpt:\n"
            "  node_id: gw-1\n",
        "test.yaml:4: rtmpt.node_id: must be at most 16 letters and digits (got \"gw-1\")");
    expect_error(base +
                     "rtmpt:\n"
                     "  node_id: abcdefghijklmnopq\n",
                 "test.yaml:4: rtmpt.node_id: must be at most 16 letters and digits");
    expect_error(base + "log_level: verbose\n",
                 "test.yaml:3: log_level: expected error, warn, info or debug (got \"verbose\")");
    expect_error(base +
                     "backend:\n"
                     "  idle_timeout: 500ms\n",
                 "test.yaml:4: backend.idle_timeout: must be between 1s and 24h (got 500ms)");
    expect_error(base +
                     "backend:\n"
                     "  write_timeout: 2h\n",
                 "test.yaml:4: backend.write_timeout: must be between 1s and 1h (got 2h)");
    expect_error(base + "shutdown_grace: 11m\n",
                 "test.yaml:3: shutdown_grace: must be between 0ms and 10m (got 11m)");
}

TEST(config_keys, front_timeouts_and_accept_pause) {
    // Values written are read in durations_with_each_unit; here the defaults and the ranges.
    const config d;
    EXPECT_EQ(d.limits.accept_pause, 500ms);
    EXPECT_EQ(d.rtmpt.sessionless_idle_timeout, 10s);
    EXPECT_EQ(d.rtmpt.request_header_timeout, 10s);
    EXPECT_EQ(d.rtmpt.request_body_timeout, 10s);
    EXPECT_EQ(d.rtmpt.write_timeout, 30s);
    expect_error(base + "limits:\n  accept_pause: 5ms\n",
                 "test.yaml:4: limits.accept_pause: must be between 10ms and 1m (got 5ms)");
    expect_error(base + "limits:\n  accept_pause: 2m\n",
                 "test.yaml:4: limits.accept_pause: must be between 10ms and 1m (got 2m)");
    for (const std::string key : {"sessionless_idle_timeout", "request_header_timeout",
                                  "request_body_timeout", "write_timeout"}) {
        expect_error(base + "rtmpt:\n  " + key + ": 50ms\n",
                     "test.yaml:4: rtmpt." + key + ": must be between 100ms and 10m (got 50ms)");
        expect_error(base + "rtmpt:\n  " + key + ": 11m\n",
                     "test.yaml:4: rtmpt." + key + ": must be between 100ms and 10m (got 11m)");
    }
}

TEST(config_keys, chunk_size_above_max_chunk_size) {
    expect_error(base +
                     "engine:\n"
                     "  chunk_size: 8192\n"
                     "limits:\n"
                     "  max_chunk_size: 4096\n",
                 "test.yaml:4: engine.chunk_size: engine.chunk_size (8192) is above "
                 "limits.max_chunk_size (4096)");
    // engine.chunk_size left at its default: point at the key that was written.
    expect_error(base +
                     "limits:\n"
                     "  max_chunk_size: 1024\n",
                 "test.yaml:4: limits.max_chunk_size: engine.chunk_size (4096) is above "
                 "limits.max_chunk_size (1024)");
}

TEST(config_keys, partial_message_bytes) {
    const auto c = parse(base +
                         "limits:\n"
                         "  max_message_length: 1MiB\n"
                         "  max_partial_message_bytes: 2MiB\n"
                         "  max_partial_message_bytes_total: 64MiB\n"
                         "  memory_trim_interval: 0ms\n");
    EXPECT_EQ(c.limits.memory_trim_interval, milliseconds(0));
    EXPECT_EQ(c.limits.max_partial_message_bytes, 2u << 20);
    EXPECT_EQ(c.limits.max_partial_message_bytes_total, 64u << 20);
    expect_error(base +
                     "limits:\n"
                     "  max_partial_message_bytes: 32KiB\n",
                 "test.yaml:4: limits.max_partial_message_bytes: must be between 64KiB and 4GiB "
                 "(got 32KiB)");
    expect_error(base +
                     "limits:\n"
                     "  max_partial_message_bytes_total: 512KiB\n",
                 "test.yaml:4: limits.max_partial_message_bytes_total: must be between 1MiB and "
                 "256GiB (got 512KiB)");
    expect_error(base +
                     "limits:\n"
                     "  memory_trim_interval: 2h\n",
                 "test.yaml:4: limits.memory_trim_interval: must be between 0ms and 1h (got 2h)");
    // max_message_length stays at 8MiB: such a message could never arrive.
    expect_error(base +
                     "limits:\n"
                     "  max_partial_message_bytes: 4MiB\n",
                 "test.yaml:4: limits.max_partial_message_bytes: limits.max_partial_message_bytes "
                 "(4194304) is below limits.max_message_length (8388608)");
    expect_error(base +
                     "limits:\n"
                     "  max_message_length: 12MiB\n",
                 "test.yaml:4: limits.max_message_length: limits.max_partial_message_bytes "
                 "(10485760) is below limits.max_message_length");
    expect_error(base +
                     "limits:\n"
                     "  max_partial_message_bytes_total: 8MiB\n",
                 "test.yaml:4: limits.max_partial_message_bytes_total: "
                 "limits.max_partial_message_bytes_total (8388608) is below "
                 "limits.max_partial_message_bytes (10485760)");
}

TEST(config_keys, name_and_url_lengths) {
    const auto c = parse(base +
                         "limits:\n"
                         "  max_name_length: 64\n"
                         "  max_url_length: 1KiB\n");
    EXPECT_EQ(c.limits.max_name_length, 64u);
    EXPECT_EQ(c.limits.max_url_length, 1024u);
    const config d;
    EXPECT_EQ(d.limits.max_name_length, 1024u);
    EXPECT_EQ(d.limits.max_url_length, 2048u);
    expect_error(base +
                     "limits:\n"
                     "  max_name_length: 63\n",
                 "test.yaml:4: limits.max_name_length: must be between 64 and 65535 (got 63)");
    expect_error(base +
                     "limits:\n"
                     "  max_url_length: 65536\n",
                 "test.yaml:4: limits.max_url_length: must be between 64 and 65535 (got 65536)");
    expect_error(base +
                     "limits:\n"
                     "  max_name_length: long\n",
                 "test.yaml:4: limits.max_name_length: ", "a whole number");
}

TEST(config_keys, session_timeout_must_exceed_idle_hold) {
    expect_error(base +
                     "rtmpt:\n"
                     "  idle_hold: 2s\n"
                     "  session_timeout: 2s\n",
                 "test.yaml:5: rtmpt.session_timeout: rtmpt.session_timeout (2s) must be longer "
                 "than rtmpt.idle_hold (2s)");
}

TEST(config_keys, values_round_trip) {
    const auto c = parse(base +
                         "threads: 8\n"
                         "limits:\n"
                         "  max_connections: 5\n"
                         "engine:\n"
                         "  gop_cache: False\n"
                         "  window_ack_size: 5000000\n"
                         "rtmpt:\n"
                         "  node_id: gw7\n"
                         "  quick_ack: false\n"
                         "log_level: debug\n");
    EXPECT_EQ(c.threads, 8u);
    EXPECT_EQ(c.limits.max_connections, 5u);
    EXPECT_FALSE(c.engine.gop_cache);
    EXPECT_EQ(c.engine.window_ack_size, 5000000u);
    EXPECT_EQ(c.rtmpt.node_id, "gw7");
    EXPECT_FALSE(c.rtmpt.quick_ack);
    EXPECT_EQ(c.log_level, "debug");
}

TEST(config_keys, limits_per_address_and_admin_allow) {
    const config d;
    EXPECT_EQ(d.limits.max_connections_per_address, 0u);  // 0: no limit
    EXPECT_EQ(d.rtmpt.max_sessions_per_address, 0u);
    EXPECT_EQ(d.rtmpt.max_opens_per_second_per_address, 0u);
    ASSERT_EQ(d.admin_allow.size(), 2u);
    EXPECT_EQ(d.admin_allow[0].to_string(), "127.0.0.0/8");
    EXPECT_EQ(d.admin_allow[1].to_string(), "::1/128");

    const auto c = parse(base +
                         "limits:\n"
                         "  max_connections_per_address: 3\n"
                         "rtmpt:\n"
                         "  max_sessions_per_address: 2\n"
                         "  max_opens_per_second_per_address: 5\n"
                         "admin_allow: [10.0.0.0/8, \"fd00::/8\"]\n");
    EXPECT_EQ(c.limits.max_connections_per_address, 3u);
    EXPECT_EQ(c.rtmpt.max_sessions_per_address, 2u);
    EXPECT_EQ(c.rtmpt.max_opens_per_second_per_address, 5u);
    ASSERT_EQ(c.admin_allow.size(), 2u);
    EXPECT_EQ(c.admin_allow[0].to_string(), "10.0.0.0/8");
    EXPECT_EQ(parse(base + "admin_allow: []\n").admin_allow.size(), 0u);

    expect_error(base + "limits:\n  max_connections_per_address: -1\n",
                 "test.yaml:4: limits.max_connections_per_address: ");
    expect_error(base + "rtmpt:\n  max_sessions_per_address: 1000001\n",
                 "test.yaml:4: rtmpt.max_sessions_per_address: ");
    expect_error(base + "rtmpt:\n  max_opens_per_second_per_address: many\n",
                 "test.yaml:4: rtmpt.max_opens_per_second_per_address: ");
    expect_error(base + "admin_allow: [10.0.0.1/8]\n", "test.yaml:3: admin_allow[0]: ");
    expect_error(base + "admin_allow: 127.0.0.1\n", "test.yaml:3: admin_allow: ");
}

// --- durations and sizes in YAML ----------------------------------------------------------------

TEST(config_values, durations_with_each_unit) {
    const auto c = parse(base +
                         "rtmpt:\n"
                         "  idle_hold: 250\n"  // plain: milliseconds
                         "  gap_timeout: 1500ms\n"
                         "  session_timeout: 2m\n"
                         "  connection_idle_timeout: 1h\n"
                         "  sessionless_idle_timeout: 3s\n"
                         "  request_header_timeout: 1500ms\n"
                         "  request_body_timeout: 2s\n"
                         "  write_timeout: 750ms\n"
                         "limits:\n"
                         "  idle_timeout: 90s\n"
                         "  accept_pause: 250ms\n"
                         "backend:\n"
                         "  idle_timeout: 3m\n"
                         "  write_timeout: 10s\n"
                         "shutdown_grace: 0\n");
    EXPECT_EQ(c.rtmpt.idle_hold, 250ms);
    EXPECT_EQ(c.rtmpt.gap_timeout, 1500ms);
    EXPECT_EQ(c.rtmpt.session_timeout, 2min);
    EXPECT_EQ(c.rtmpt.connection_idle_timeout, 1h);
    EXPECT_EQ(c.rtmpt.sessionless_idle_timeout, 3s);
    EXPECT_EQ(c.rtmpt.request_header_timeout, 1500ms);
    EXPECT_EQ(c.rtmpt.request_body_timeout, 2s);
    EXPECT_EQ(c.rtmpt.write_timeout, 750ms);
    EXPECT_EQ(c.limits.idle_timeout, 90s);
    EXPECT_EQ(c.backend.idle_timeout, 3min);
    EXPECT_EQ(c.backend.write_timeout, 10s);
    EXPECT_EQ(c.limits.accept_pause, 250ms);
    EXPECT_EQ(c.shutdown_grace, 0ms);
}

TEST(config_values, duration_rejects) {
    expect_error(base + "shutdown_grace: 5 parsecs\n",
                 "test.yaml:3: shutdown_grace: expected a whole number with a unit ms, s, m or h",
                 "(got \"5 parsecs\")");
    expect_error(base + "shutdown_grace: -1s\n",
                 "test.yaml:3: shutdown_grace: must not be negative (got \"-1s\")");
    expect_error(base + "shutdown_grace: 1.5s\n",
                 "test.yaml:3: shutdown_grace: expected a whole number");
    expect_error(base + "shutdown_grace: \"\"\n",
                 "test.yaml:3: shutdown_grace: expected a whole number");
    expect_error(
        base + "shutdown_grace: [5s]\n",
        "test.yaml:3: shutdown_grace: expected a duration such as 200ms or 45s (got a list)");
}

TEST(config_values, sizes_with_each_unit) {
    const auto c = parse(base +
                         "engine:\n"
                         "  chunk_size: 8192\n"  // plain: bytes
                         "  gop_cache_max_bytes: 512KiB\n"
                         "  player_queue_bytes: 1GiB\n"
                         "rtmpt:\n"
                         "  max_body: 16MiB\n");
    EXPECT_EQ(c.engine.chunk_size, 8192u);
    EXPECT_EQ(c.engine.gop_cache_max_bytes, 512u * 1024);
    EXPECT_EQ(c.engine.player_queue_bytes, std::size_t{1} << 30);
    EXPECT_EQ(c.rtmpt.max_body, std::size_t{16} << 20);
}

TEST(config_values, size_rejects) {
    expect_error(base +
                     "rtmpt:\n"
                     "  max_body: 4MB\n",
                 "test.yaml:4: rtmpt.max_body: expected a whole number with a unit KiB, MiB or GiB",
                 "(got \"4MB\")");
    expect_error(base +
                     "rtmpt:\n"
                     "  max_body: -1\n",
                 "test.yaml:4: rtmpt.max_body: must not be negative (got \"-1\")");
    expect_error(base +
                     "rtmpt:\n"
                     "  max_body: 99999999999999999999\n",
                 "test.yaml:4: rtmpt.max_body: too large");
}

// --- the document -------------------------------------------------------------------------------

TEST(config_document, syntax_error_names_line) {
    expect_error(base +
                     "limits:\n"
                     "  idle_timeout: 5s\n"
                     " bad indentation: x\n",
                 "test.yaml:5: YAML syntax error: ");
    expect_error(base + "log_level: info: debug\n", "test.yaml:3: YAML syntax error: ");
}

TEST(config_document, not_one_mapping) {
    expect_error("", "test.yaml:1: empty configuration");
    expect_error("# only a comment\n", "test.yaml:1: empty configuration");
    expect_error("- a\n- b\n", "test.yaml:1: expected a mapping of keys (got a list)");
    expect_error(base + "---\nthreads: 2\n", "test.yaml:4: a second YAML document starts here");
}

TEST(config_document, long_values_are_cut_in_messages) {
    const auto message = error_of(base + "log_level: " + std::string(5000, 'x') + "\n");
    EXPECT_TRUE(message.starts_with("test.yaml:3: log_level: expected error, warn, info or debug"))
        << message;
    EXPECT_LT(message.size(), 200u) << message;
}

TEST(config_document, too_big) {
    expect_error(base + "# " + std::string(1 << 20, 'x') + "\n", "test.yaml:1: larger than 1MiB");
}

TEST(config_keys, drain_time) {
    // Off unless asked for: without a balancer nothing reads /healthz.
    EXPECT_EQ(config{}.drain_time, 0ms);
    EXPECT_EQ(parse(base + "drain_time: 8s\n").drain_time, 8s);
    EXPECT_EQ(parse(base + "drain_time: 0\n").drain_time, 0ms);
    expect_error(base + "drain_time: 11m\n",
                 "test.yaml:3: drain_time: must be between 0ms and 10m (got 11m)");
    expect_error(base + "drain_time: -1s\n",
                 "test.yaml:3: drain_time: must not be negative (got \"-1s\")");
}

}  // namespace
}  // namespace rtmpgate::gateway
