#include "gateway/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include "gateway/access/hook_client.hpp"
#include "gateway/config/config_node.hpp"
#include "gateway/config/config_scalars.hpp"

namespace rtmpgate::gateway {

std::string endpoint::to_string() const {
    if (!enabled) return {};
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool route::matches(std::string_view name) const { return app == "*" || app == name; }

const route* config::find_route(std::string_view app) const {
    const auto it =
        std::find_if(routes.begin(), routes.end(), [&](const route& r) { return r.matches(app); });
    return it == routes.end() ? nullptr : &*it;
}

std::vector<cidr> config::default_admin_allow() {
    return {*cidr::parse("127.0.0.0/8"), *cidr::parse("::1")};
}

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t gib = 1024 * mib;

// Bounds on the document itself: it is read whole into memory, and aliases could otherwise make a
// small file describe huge lists.
constexpr std::size_t max_config_bytes = 1 << 20;
constexpr std::size_t max_routes = 1024;
constexpr std::size_t max_sni_entries = 256;
constexpr std::size_t max_server_names = 64;
constexpr std::size_t max_app_length = 256;
constexpr std::size_t max_trusted_proxies = 1024;
constexpr std::size_t max_allowed_origins = 64;  // http_flv.allowed_origins
constexpr std::size_t max_access_rules = 1024;
constexpr std::size_t max_secret_files = 64;
constexpr std::size_t max_pushes = 8;

// RTMP message lengths are 24-bit fields (RTMP spec 5.3.1.2.1), so no chunk or message is longer.
constexpr std::uint64_t max_rtmp_length = 0xFFFFFF;
// Chunk stream ids 2..65599 are the ones the 1-, 2- and 3-byte basic headers can name (5.3.1.1).
constexpr std::uint64_t max_chunk_stream_count = 65599 - 2 + 1;
// Window sizes are 4-byte fields; nginx-rtmp and librtmp read them as signed.
constexpr std::uint64_t max_window = 0x7FFFFFFF;

template <class T>
T narrow(std::uint64_t value) {
    return static_cast<T>(value);  // callers have range-checked value against T's bounds
}

void read_listeners(const config_node& node, config::listeners_t& listeners) {
    node.read_fields({
        {"http", [&](const config_node& n) { listeners.http = n.as_endpoint(); }},
        {"https", [&](const config_node& n) { listeners.https = n.as_endpoint(); }},
        {"rtmp", [&](const config_node& n) { listeners.rtmp = n.as_endpoint(); }},
        {"admin", [&](const config_node& n) { listeners.admin = n.as_endpoint(); }},
    });
}

std::string read_file_name(const config_node& node) {
    auto name = node.as_string();
    if (name.empty()) node.fail("must not be empty");
    return name;
}

void read_server_names(const config_node& node, std::vector<std::string>& names) {
    node.read_items(max_server_names, [&](const config_node& item) {
        auto name = item.as_string();
        if (!is_host_name(name, true))
            item.fail("expected a DNS name such as example.com or *.example.com (got " +
                      quote_value(name) + ")");
        names.push_back(std::move(name));
    });
    if (names.empty()) node.fail("needs at least one name");
}

void read_sni_entry(const config_node& node, tls_certificate& entry) {
    bool has_names = false;
    node.read_fields({
        {"certificate", [&](const config_node& n) { entry.certificate = read_file_name(n); }},
        {"private_key", [&](const config_node& n) { entry.private_key = read_file_name(n); }},
        {"server_names",
         [&](const config_node& n) {
             read_server_names(n, entry.server_names);
             has_names = true;
         }},
    });
    const auto missing = [&](std::string_view key) {
        node.fail("missing " + std::string(key) +
                  " (each entry needs certificate, private_key and server_names)");
    };
    if (entry.certificate.empty()) missing("certificate");
    if (entry.private_key.empty()) missing("private_key");
    if (!has_names) missing("server_names");
}

void read_tls(const config_node& node, config::tls_t& tls) {
    node.read_fields({
        {"certificate", [&](const config_node& n) { tls.certificate = n.as_string(); }},
        {"private_key", [&](const config_node& n) { tls.private_key = n.as_string(); }},
        {"sni",
         [&](const config_node& n) {
             n.read_items(max_sni_entries, [&](const config_node& item) {
                 read_sni_entry(item, tls.sni.emplace_back());
             });
         }},
        {"handshake_timeout",
         [&](const config_node& n) { tls.handshake_timeout = n.as_duration(100ms, 5min); }},
    });
}

void check_app_name(const config_node& node, const std::string& app) {
    if (app.empty()) node.fail("must not be empty (\"*\" matches any application)");
    if (app.size() > max_app_length)
        node.fail("longer than " + std::to_string(max_app_length) + " characters");
    const bool printable = std::all_of(app.begin(), app.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != 0x7F;
    });
    if (!printable) node.fail("must not contain spaces or control characters");
    if (app != "*" && app.find('*') != std::string::npos) {
        node.fail("\"*\" alone matches any application; patterns are not supported (got " +
                  quote_value(app) + ")");
    }
}

void read_send_proxy_protocol(const config_node& node, route& r) {
    if (r.to_engine) node.fail("only applies to rtmp:// and rtmps:// routes");
    const auto version = node.as_string();
    using proxy_protocol = backend_target::proxy_protocol;
    if (version == "v1")
        r.backend.send_proxy_protocol = proxy_protocol::v1;
    else if (version == "v2")
        r.backend.send_proxy_protocol = proxy_protocol::v2;
    else
        node.fail("expected v1 or v2 (got " + quote_value(version) + ")");
}

// "allow 10.0.0.0/8", "deny ::1", "allow all": a word, one space, a network.
void read_ip_rule(const config_node& node, access::ip_rule& rule) {
    const auto text = node.as_string();
    const auto space = text.find(' ');
    const auto verb = text.substr(0, space);
    const auto target = space == std::string::npos ? std::string() : text.substr(space + 1);
    const auto bad = [&] {
        node.fail(
            "expected \"allow\" or \"deny\", one space and all, an address or a network, such as "
            "\"allow 10.0.0.0/8\" or \"deny all\" (got " +
            quote_value(text) + "; no bit may be set after the prefix)");
    };
    if (verb != "allow" && verb != "deny") bad();
    rule.allow = verb == "allow";
    if (target == "all") {
        rule.any = true;
        return;
    }
    rule.network = cidr::parse(target);
    if (!rule.network) bad();
}

void read_ip_rules(const config_node& node, std::vector<access::ip_rule>& rules) {
    rules.clear();  // the list replaces the one it overrides, it does not extend it
    node.read_items(max_access_rules, [&](const config_node& item) {
        // A rule after "all" never decides anything: most likely a misordered list.
        if (!rules.empty() && rules.back().any) {
            item.fail("never used: the rule before it (\"" +
                      std::string(rules.back().allow ? "allow" : "deny") +
                      " all\") decides every address");
        }
        read_ip_rule(item, rules.emplace_back());
    });
}

void read_action_policy(const config_node& node, access::action_policy& p) {
    node.read_fields({
        {"rules", [&](const config_node& n) { read_ip_rules(n, p.rules); }},
        {"default",
         [&](const config_node& n) {
             const auto word = n.as_string();
             if (word != "allow" && word != "deny")
                 n.fail("expected allow or deny (got " + quote_value(word) + ")");
             p.default_allow = word == "allow";
         }},
        {"token", [&](const config_node& n) { p.token = n.as_bool(); }},
    });
}

void read_hook_url(const config_node& node, std::string& url) {
    url = node.as_string();
    if (!url.empty() && !access::hook_url::parse(url)) {
        node.fail(
            "expected \"\" (none) or an http:// or https:// URL: a host name, IPv4 address or "
            "[IPv6 address], an optional port 1..65535, a path and query, no user@ and no "
            "#fragment "
            "(got " +
            quote_value(url) + ")");
    }
}

void read_hooks(const config_node& node, access::hook_settings& hooks) {
    node.read_fields({
        {"on_connect", [&](const config_node& n) { read_hook_url(n, hooks.on_connect); }},
        {"on_publish", [&](const config_node& n) { read_hook_url(n, hooks.on_publish); }},
        {"on_play", [&](const config_node& n) { read_hook_url(n, hooks.on_play); }},
        {"on_publish_done", [&](const config_node& n) { read_hook_url(n, hooks.on_publish_done); }},
        {"on_play_done", [&](const config_node& n) { read_hook_url(n, hooks.on_play_done); }},
        {"timeout", [&](const config_node& n) { hooks.timeout = n.as_duration(100ms, 60s); }},
        {"on_failure",
         [&](const config_node& n) {
             const auto word = n.as_string();
             if (word != "refuse" && word != "allow")
                 n.fail("expected refuse or allow (got " + quote_value(word) + ")");
             hooks.allow_on_failure = word == "allow";
         }},
        {"max_concurrent",
         [&](const config_node& n) {
             hooks.max_concurrent = narrow<std::size_t>(n.as_unsigned(1, 10000));
         }},
        {"max_idle_connections",
         [&](const config_node& n) {
             hooks.max_idle_connections = narrow<std::size_t>(n.as_unsigned(0, 1000));
         }},
        {"verify", [&](const config_node& n) { hooks.verify = n.as_bool(); }},
        {"ca_file", [&](const config_node& n) { hooks.ca_file = n.as_string(); }},
    });
}

// Writes the keys `node` has over `p`, one by one: a route's access starts as the top-level one,
// and publish.rules written in a route replaces the top-level publish.rules but keeps its
// publish.default and publish.token.
void read_access(const config_node& node, access::policy& p) {
    node.read_fields({
        {"publish", [&](const config_node& n) { read_action_policy(n, p.publish); }},
        {"play", [&](const config_node& n) { read_action_policy(n, p.play); }},
        {"secret_files",
         [&](const config_node& n) {
             p.secret_files.clear();
             n.read_items(max_secret_files, [&](const config_node& item) {
                 p.secret_files.push_back(read_file_name(item));
             });
         }},
        {"hooks", [&](const config_node& n) { read_hooks(n, p.hooks); }},
    });
}

// The TLS keys of an rtmps:// target (a route's or a push entry's), each optional: verify,
// ca_file, server_name (SNI and the name verified; the host unless given). `applies_to` names
// what they are for in the error when the target is not rtmps://.
void read_tls_options(backend_target& t, const std::optional<config_node>& verify,
                      const std::optional<config_node>& ca_file,
                      const std::optional<config_node>& server_name, std::string_view applies_to) {
    for (const auto* option : {&verify, &ca_file, &server_name}) {
        if (*option && !t.tls) (*option)->fail("only applies to " + std::string(applies_to));
    }
    if (verify) t.verify = verify->as_bool();
    if (ca_file) {
        t.ca_file = read_file_name(*ca_file);
        if (!t.verify) ca_file->fail("has no effect with verify: false");
    }
    if (server_name) {
        t.server_name = server_name->as_string();
        if (!is_host_name(t.server_name))
            server_name->fail("expected a DNS name such as ingest.example.com");
    } else if (t.tls) {
        t.server_name = t.host;
    }
}

// A push entry: the URL alone, or a mapping of url and the TLS keys of an rtmps:// route.
void read_push(const config_node& node, push_target& p) {
    std::optional<config_node> url, verify, ca_file, server_name;
    if (node.is_map()) {
        node.read_fields({
            {"url", [&](const config_node& n) { url = n; }},
            {"verify", [&](const config_node& n) { verify = n; }},
            {"ca_file", [&](const config_node& n) { ca_file = n; }},
            {"server_name", [&](const config_node& n) { server_name = n; }},
        });
        if (!url) node.fail("missing url (rtmp://host[:port]/app[/name])");
    } else {
        url = node;
    }
    auto target = parse_push_target(url->as_string());
    if (!target) url->fail(target.error());
    p = std::move(*target);
    read_tls_options(p.backend, verify, ca_file, server_name, "rtmps:// URLs");
}

// A route's keys depend on each other (verify only means something for rtmps://), and YAML does
// not order them, so they are collected first and checked together. `earlier` are the routes
// written before this one.
// `access` is left to the caller: the route's keys go over the top-level access section, which
// may come after routes in the file.
void read_route(const config_node& node, std::span<const route> earlier, route& r,
                std::optional<config_node>& access) {
    std::optional<config_node> app, to, verify, ca_file, server_name, send_proxy_protocol, push;
    node.read_fields({
        {"app", [&](const config_node& n) { app = n; }},
        {"to", [&](const config_node& n) { to = n; }},
        {"verify", [&](const config_node& n) { verify = n; }},
        {"ca_file", [&](const config_node& n) { ca_file = n; }},
        {"server_name", [&](const config_node& n) { server_name = n; }},
        {"send_proxy_protocol", [&](const config_node& n) { send_proxy_protocol = n; }},
        {"access", [&](const config_node& n) { access = n; }},
        {"push", [&](const config_node& n) { push = n; }},
    });
    if (!app) node.fail("missing app (each route needs app and to)");
    if (!to) node.fail("missing to (each route needs app and to)");

    r.app = app->as_string();
    check_app_name(*app, r.app);
    // A route after one that already takes its app is dead configuration, most likely a
    // misordered list ("*" first).
    for (std::size_t i = 0; i < earlier.size(); ++i) {
        if (earlier[i].matches(r.app)) {
            app->fail("never used: routes[" + std::to_string(i) + "] (app \"" + earlier[i].app +
                      "\") comes first and takes every connection this one would");
        }
    }

    const auto target = parse_route_target(to->as_string());
    if (!target) to->fail(target.error());
    r.to_engine = target->to_engine;
    r.backend = target->backend;

    read_tls_options(r.backend, verify, ca_file, server_name, "rtmps:// routes");
    if (send_proxy_protocol) read_send_proxy_protocol(*send_proxy_protocol, r);
    if (push) {
        if (!r.to_engine) push->fail("only applies to engine routes");
        push->read_items(max_pushes,
                         [&](const config_node& item) { read_push(item, r.push.emplace_back()); });
    }
}

void read_routes(const config_node& node, std::vector<route>& routes,
                 std::vector<std::optional<config_node>>& access) {
    routes.clear();  // replaces the default "*" -> engine
    access.clear();
    node.read_items(max_routes, [&](const config_node& item) {
        route r;
        read_route(item, routes, r, access.emplace_back());
        routes.push_back(std::move(r));
    });
    if (routes.empty()) node.fail("needs at least one route (e.g. app: \"*\", to: engine)");
}

void read_limits(const config_node& node, config::limits_t& limits) {
    node.read_fields({
        {"max_chunk_size",
         [&](const config_node& n) {
             limits.max_chunk_size = narrow<std::uint32_t>(n.as_size(128, max_rtmp_length));
         }},
        {"max_message_length",
         [&](const config_node& n) {
             limits.max_message_length = narrow<std::uint32_t>(n.as_size(4 * kib, max_rtmp_length));
         }},
        {"max_chunk_streams",
         [&](const config_node& n) {
             limits.max_chunk_streams =
                 narrow<std::size_t>(n.as_unsigned(8, max_chunk_stream_count));
         }},
        {"max_partial_message_bytes",
         [&](const config_node& n) {
             limits.max_partial_message_bytes = n.as_size(64 * kib, 4 * gib);
         }},
        {"max_partial_message_bytes_total",
         [&](const config_node& n) {
             limits.max_partial_message_bytes_total = n.as_size(mib, 256 * gib);
         }},
        {"memory_trim_interval",
         [&](const config_node& n) { limits.memory_trim_interval = n.as_duration(0ms, 1h); }},
        {"max_connections",
         [&](const config_node& n) {
             limits.max_connections = narrow<std::size_t>(n.as_unsigned(1, 1'000'000));
         }},
        {"max_connections_per_address",
         [&](const config_node& n) {
             limits.max_connections_per_address = narrow<std::size_t>(n.as_unsigned(0, 1'000'000));
         }},
        {"handshake_timeout",
         [&](const config_node& n) { limits.handshake_timeout = n.as_duration(100ms, 10min); }},
        {"idle_timeout",
         [&](const config_node& n) { limits.idle_timeout = n.as_duration(1s, 24h); }},
        // AMF0 strings hold at most 65535 octets; below 64 a real client's names do not fit.
        {"max_name_length",
         [&](const config_node& n) {
             limits.max_name_length = narrow<std::size_t>(n.as_size(64, 65535));
         }},
        {"max_url_length",
         [&](const config_node& n) {
             limits.max_url_length = narrow<std::size_t>(n.as_size(64, 65535));
         }},
        {"accept_pause",
         [&](const config_node& n) { limits.accept_pause = n.as_duration(10ms, 1min); }},
    });
}

void read_engine(const config_node& node, config::engine_t& engine) {
    node.read_fields({
        {"chunk_size",
         [&](const config_node& n) {
             engine.chunk_size = narrow<std::uint32_t>(n.as_size(128, max_rtmp_length));
         }},
        {"window_ack_size",
         [&](const config_node& n) {
             engine.window_ack_size = narrow<std::uint32_t>(n.as_size(kib, max_window));
         }},
        {"peer_bandwidth",
         [&](const config_node& n) {
             engine.peer_bandwidth = narrow<std::uint32_t>(n.as_size(kib, max_window));
         }},
        {"gop_cache", [&](const config_node& n) { engine.gop_cache = n.as_bool(); }},
        {"gop_cache_max_bytes",
         [&](const config_node& n) {
             engine.gop_cache_max_bytes = narrow<std::size_t>(n.as_size(64 * kib, gib));
         }},
        {"player_queue_bytes",
         [&](const config_node& n) {
             engine.player_queue_bytes = narrow<std::size_t>(n.as_size(64 * kib, gib));
         }},
    });
}

void read_rtmpt(const config_node& node, config::rtmpt_t& rtmpt) {
    node.read_fields({
        // librtmp re-polls the moment an empty reply arrives, so the hold must be long
        // enough to matter and short enough that a client's next /send is not delayed by it.
        {"idle_hold", [&](const config_node& n) { rtmpt.idle_hold = n.as_duration(10ms, 30s); }},
        // Every millisecond of it is added to the delay of the output that wakes a held reply.
        {"idle_coalesce",
         [&](const config_node& n) { rtmpt.idle_coalesce = n.as_duration(0ms, 100ms); }},
        {"session_timeout",
         [&](const config_node& n) { rtmpt.session_timeout = n.as_duration(1s, 10min); }},
        {"max_sessions",
         [&](const config_node& n) {
             rtmpt.max_sessions = narrow<std::size_t>(n.as_unsigned(1, 1'000'000));
         }},
        {"max_sessions_per_address",
         [&](const config_node& n) {
             rtmpt.max_sessions_per_address = narrow<std::size_t>(n.as_unsigned(0, 1'000'000));
         }},
        {"max_opens_per_second_per_address",
         [&](const config_node& n) {
             rtmpt.max_opens_per_second_per_address =
                 narrow<std::size_t>(n.as_unsigned(0, 1'000'000));
         }},
        {"max_body",
         [&](const config_node& n) {
             rtmpt.max_body = narrow<std::size_t>(n.as_size(64 * kib, 256 * mib));
         }},
        {"max_pending_output",
         [&](const config_node& n) {
             rtmpt.max_pending_output = narrow<std::size_t>(n.as_size(64 * kib, gib));
         }},
        {"gap_timeout",
         [&](const config_node& n) { rtmpt.gap_timeout = n.as_duration(100ms, 5min); }},
        {"node_id",
         [&](const config_node& n) {
             rtmpt.node_id = n.as_string();
             // Session ids are read by ffmpeg into 64 bytes and matched by HAProxy on this prefix.
             const bool alnum = std::all_of(rtmpt.node_id.begin(), rtmpt.node_id.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
             });
             if (!alnum || rtmpt.node_id.size() > 16) {
                 n.fail("must be at most 16 letters and digits (got " + quote_value(rtmpt.node_id) +
                        ")");
             }
         }},
        {"connection_idle_timeout",
         [&](const config_node& n) { rtmpt.connection_idle_timeout = n.as_duration(1s, 24h); }},
        {"sessionless_idle_timeout",
         [&](const config_node& n) {
             rtmpt.sessionless_idle_timeout = n.as_duration(100ms, 10min);
         }},
        {"request_header_timeout",
         [&](const config_node& n) { rtmpt.request_header_timeout = n.as_duration(100ms, 10min); }},
        {"request_body_timeout",
         [&](const config_node& n) { rtmpt.request_body_timeout = n.as_duration(100ms, 10min); }},
        {"write_timeout",
         [&](const config_node& n) { rtmpt.write_timeout = n.as_duration(100ms, 10min); }},
        {"quick_ack", [&](const config_node& n) { rtmpt.quick_ack = n.as_bool(); }},
        {"forwarded_header",
         [&](const config_node& n) {
             const auto name = n.as_string();
             if (name == "x-forwarded-for")
                 rtmpt.forwarded = forwarded_header::x_forwarded_for;
             else if (name == "forwarded")
                 rtmpt.forwarded = forwarded_header::forwarded;
             else if (name == "none")
                 rtmpt.forwarded = forwarded_header::none;
             else
                 n.fail("expected x-forwarded-for, forwarded or none (got " + quote_value(name) +
                        ")");
         }},
    });
}

// trusted_proxies, admin_allow: lists of networks (at most max_trusted_proxies each).
void read_networks(const config_node& node, std::vector<cidr>& networks) {
    node.read_items(max_trusted_proxies, [&](const config_node& item) {
        const auto text = item.as_string();
        auto network = cidr::parse(text);
        if (!network)
            item.fail(
                "expected an IPv4 or IPv6 address or network such as 10.0.0.0/8 or ::1 (got " +
                quote_value(text) + "; no bit may be set after the prefix)");
        networks.push_back(*network);
    });
}

void read_proxy_protocol(const config_node& node, config::proxy_protocol_t& proxy) {
    node.read_fields({
        {"http", [&](const config_node& n) { proxy.http = n.as_bool(); }},
        {"https", [&](const config_node& n) { proxy.https = n.as_bool(); }},
        {"rtmp", [&](const config_node& n) { proxy.rtmp = n.as_bool(); }},
        {"header_timeout",
         [&](const config_node& n) { proxy.header_timeout = n.as_duration(100ms, 5min); }},
    });
}

void read_backend(const config_node& node, config::backend_t& backend) {
    node.read_fields({
        {"connect_timeout",
         [&](const config_node& n) { backend.connect_timeout = n.as_duration(100ms, 5min); }},
        {"handshake_timeout",
         [&](const config_node& n) { backend.handshake_timeout = n.as_duration(100ms, 5min); }},
        {"link_buffer_bytes",
         [&](const config_node& n) {
             backend.link_buffer_bytes = narrow<std::size_t>(n.as_size(4 * kib, gib));
         }},
        {"idle_timeout",
         [&](const config_node& n) { backend.idle_timeout = n.as_duration(1s, 24h); }},
        {"write_timeout",
         [&](const config_node& n) { backend.write_timeout = n.as_duration(1s, 1h); }},
    });
}

// http_flv.allowed_origins: "*" or an origin as a browser sends it (RFC 6454: scheme, host and
// port, no path), compared as written.
void read_http_flv(const config_node& node, config::http_flv_t& flv) {
    node.read_fields({
        {"allowed_origins",
         [&](const config_node& n) {
             n.read_items(max_allowed_origins, [&](const config_node& item) {
                 auto origin = item.as_string();
                 const auto scheme_end = origin.find("://");
                 const bool web_scheme =
                     origin.starts_with("http://") || origin.starts_with("https://");
                 const bool no_path = scheme_end != std::string::npos &&
                                      origin.find('/', scheme_end + 3) == std::string::npos &&
                                      origin.size() > scheme_end + 3;
                 if (origin != "*" && (!web_scheme || !no_path || origin.size() > 256))
                     item.fail(
                         "expected \"*\" or an origin such as https://example.com or "
                         "http://host:8080, without a path (got " +
                         quote_value(origin) + ")");
                 flv.allowed_origins.push_back(std::move(origin));
             });
         }},
        {"write_timeout",
         [&](const config_node& n) { flv.write_timeout = n.as_duration(100ms, 10min); }},
        {"idle_timeout", [&](const config_node& n) { flv.idle_timeout = n.as_duration(1s, 1h); }},
    });
}

void read_player(const config_node& node, config::player_t& player) {
    node.read_fields({
        {"enabled", [&](const config_node& n) { player.enabled = n.as_bool(); }},
        {"dir",
         [&](const config_node& n) {
             player.dir = n.as_string();
             if (player.dir.empty()) n.fail("expected a directory (got \"\")");
         }},
    });
}

void read_log_level(const config_node& node, std::string& level) {
    level = node.as_string();
    if (level != "error" && level != "warn" && level != "info" && level != "debug") {
        node.fail("expected error, warn, info or debug (got " + quote_value(level) + ")");
    }
}

// Settings that are each valid alone but not together. Reported at the line of the key the
// operator has to change.
void check_agreement(const config& c, const config_source& source) {
    const auto fail = [&](std::string_view path, std::string_view what) {
        source.fail(path, source.line_of(path), what);
    };

    if (!c.tls.certificate.empty() && c.tls.private_key.empty()) {
        fail("tls.certificate", "set without tls.private_key");
    }
    if (c.tls.certificate.empty() && !c.tls.private_key.empty()) {
        fail("tls.private_key", "set without tls.certificate");
    }
    if (c.listeners.https.enabled && c.tls.certificate.empty()) {
        fail("listeners.https", "needs tls.certificate and tls.private_key");
    }
    for (std::size_t i = 0; i < c.tls.sni.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            for (std::size_t n = 0; n < c.tls.sni[i].server_names.size(); ++n) {
                const auto& name = c.tls.sni[i].server_names[n];
                const auto& earlier = c.tls.sni[j].server_names;
                if (std::find(earlier.begin(), earlier.end(), name) != earlier.end()) {
                    fail(
                        "tls.sni[" + std::to_string(i) + "].server_names[" + std::to_string(n) +
                            "]",
                        "\"" + name + "\" is already served by tls.sni[" + std::to_string(j) + "]");
                }
            }
        }
    }

    const std::pair<std::string_view, const endpoint*> listeners[] = {
        {"listeners.http", &c.listeners.http},
        {"listeners.https", &c.listeners.https},
        {"listeners.rtmp", &c.listeners.rtmp},
        {"listeners.admin", &c.listeners.admin}};
    for (std::size_t i = 0; i < std::size(listeners); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const auto& a = *listeners[i].second;
            const auto& b = *listeners[j].second;
            if (a.enabled && b.enabled && a.port != 0 && a.port == b.port && a.host == b.host) {
                fail(listeners[i].first, "same address as " + std::string(listeners[j].first) +
                                             " (" + a.to_string() + ")");
            }
        }
    }
    if (!c.listeners.http.enabled && !c.listeners.https.enabled && !c.listeners.rtmp.enabled) {
        fail("listeners", "no client listener: enable at least one of http, https, rtmp");
    }

    if (c.engine.chunk_size > c.limits.max_chunk_size) {
        fail(source.lines.contains("engine.chunk_size") ? "engine.chunk_size"
                                                        : "limits.max_chunk_size",
             "engine.chunk_size (" + std::to_string(c.engine.chunk_size) +
                 ") is above limits.max_chunk_size (" + std::to_string(c.limits.max_chunk_size) +
                 ")");
    }
    // A message of max_message_length must be able to arrive, on one connection and in the
    // process; point at the key that was written when only one of the two was.
    const auto& l = c.limits;
    if (l.max_partial_message_bytes < l.max_message_length) {
        fail(source.lines.contains("limits.max_partial_message_bytes")
                 ? "limits.max_partial_message_bytes"
                 : "limits.max_message_length",
             "limits.max_partial_message_bytes (" + std::to_string(l.max_partial_message_bytes) +
                 ") is below limits.max_message_length (" + std::to_string(l.max_message_length) +
                 ")");
    }
    if (l.max_partial_message_bytes_total < l.max_partial_message_bytes) {
        fail(source.lines.contains("limits.max_partial_message_bytes_total")
                 ? "limits.max_partial_message_bytes_total"
                 : "limits.max_partial_message_bytes",
             "limits.max_partial_message_bytes_total (" +
                 std::to_string(l.max_partial_message_bytes_total) +
                 ") is below limits.max_partial_message_bytes (" +
                 std::to_string(l.max_partial_message_bytes) + ")");
    }
    // A listener that reads PROXY headers from no one would refuse every header and serve
    // everybody as the balancer: a configuration that cannot be what was meant.
    for (const auto& [key, on] : {std::pair{"proxy_protocol.http", c.proxy_protocol.http},
                                  std::pair{"proxy_protocol.https", c.proxy_protocol.https},
                                  std::pair{"proxy_protocol.rtmp", c.proxy_protocol.rtmp}}) {
        if (on && c.trusted_proxies.empty())
            fail(key, "true needs trusted_proxies: the addresses allowed to send the header");
    }
    if (c.rtmpt.session_timeout <= c.rtmpt.idle_hold) {
        fail(source.lines.contains("rtmpt.session_timeout") ? "rtmpt.session_timeout"
                                                            : "rtmpt.idle_hold",
             "rtmpt.session_timeout (" + format_duration(c.rtmpt.session_timeout) +
                 ") must be longer than rtmpt.idle_hold (" + format_duration(c.rtmpt.idle_hold) +
                 "), or held polls expire their session");
    }
}

// A token can only be checked against a secret. Reported at the token key that asks for one when
// the same section wrote it, else at the secret_files that emptied the list. A decide hook must
// answer (or time out) within the client's idle deadline.
void check_access(const config& c, const config_source& source) {
    const auto check = [&](const access::policy& p, const std::string& prefix) {
        // A client is not read while its request waits for a decide hook: the hook's deadline
        // must come before the client's idle deadline, or the wait ends the connection instead.
        const auto& h = p.hooks;
        const bool decides = !h.on_connect.empty() || !h.on_publish.empty() || !h.on_play.empty();
        if (decides && h.timeout >= c.limits.idle_timeout) {
            const auto timeout_key = prefix + "access.hooks.timeout";
            const auto key = source.lines.contains(timeout_key) ? timeout_key
                             : source.lines.contains("access.hooks.timeout")
                                 ? std::string("access.hooks.timeout")
                                 : std::string("limits.idle_timeout");
            source.fail(key, source.line_of(key),
                        "a decide hook's timeout (" + format_duration(h.timeout) +
                            ") must be shorter than limits.idle_timeout (" +
                            format_duration(c.limits.idle_timeout) +
                            "): a client waiting for a hook sends nothing meanwhile");
        }
        if (!p.secret_files.empty()) return;
        for (const auto* action : {"publish", "play"}) {
            const bool token =
                std::string_view(action) == "publish" ? p.publish.token : p.play.token;
            if (!token) continue;
            const auto token_key = prefix + "access." + action + ".token";
            const auto key =
                source.lines.contains(token_key) ? token_key : prefix + "access.secret_files";
            source.fail(key, source.line_of(key),
                        std::string(action) + ".token: true needs " + prefix +
                            "access.secret_files: at least one file holding a secret");
        }
    };
    check(c.access, "");
    for (std::size_t i = 0; i < c.routes.size(); ++i)
        check(c.routes[i].access, "routes[" + std::to_string(i) + "].");
}

int mark_line(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 1; }

}  // namespace

config parse_config(std::string_view yaml_text, std::string_view source_name) {
    config_source source{std::string(source_name), {}};
    if (yaml_text.size() > max_config_bytes)
        source.fail("", 1, "larger than 1MiB: not a configuration file?");

    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        source.fail("", mark_line(e.mark), "YAML syntax error: " + e.msg);
    }
    if (documents.empty() || documents.front().IsNull()) {
        source.fail("", 1, "empty configuration (config/rtmpgate.yaml shows every setting)");
    }
    if (documents.size() > 1) {
        source.fail("", mark_line(documents[1].Mark()),
                    "a second YAML document starts here; write one mapping of settings");
    }

    config c;
    // Each route's access: section, applied over the top-level one once the whole file is read.
    std::vector<std::optional<config_node>> route_access;
    try {
        const config_node root(documents.front(), "", mark_line(documents.front().Mark()), source);
        root.read_fields({
            {"listeners", [&](const config_node& n) { read_listeners(n, c.listeners); }},
            {"tls", [&](const config_node& n) { read_tls(n, c.tls); }},
            {"routes", [&](const config_node& n) { read_routes(n, c.routes, route_access); }},
            {"threads",
             [&](const config_node& n) { c.threads = narrow<unsigned>(n.as_unsigned(0, 256)); }},
            {"limits", [&](const config_node& n) { read_limits(n, c.limits); }},
            {"engine", [&](const config_node& n) { read_engine(n, c.engine); }},
            {"rtmpt", [&](const config_node& n) { read_rtmpt(n, c.rtmpt); }},
            {"backend", [&](const config_node& n) { read_backend(n, c.backend); }},
            {"http_flv", [&](const config_node& n) { read_http_flv(n, c.http_flv); }},
            {"player", [&](const config_node& n) { read_player(n, c.player); }},
            {"shutdown_grace",
             [&](const config_node& n) { c.shutdown_grace = n.as_duration(0ms, 10min); }},
            {"drain_time", [&](const config_node& n) { c.drain_time = n.as_duration(0ms, 10min); }},
            {"log_level", [&](const config_node& n) { read_log_level(n, c.log_level); }},
            {"trusted_proxies", [&](const config_node& n) { read_networks(n, c.trusted_proxies); }},
            {"admin_allow",
             [&](const config_node& n) {
                 c.admin_allow.clear();
                 read_networks(n, c.admin_allow);
             }},
            {"proxy_protocol",
             [&](const config_node& n) { read_proxy_protocol(n, c.proxy_protocol); }},
            {"access", [&](const config_node& n) { read_access(n, c.access); }},
        });
        for (std::size_t i = 0; i < c.routes.size(); ++i) {
            c.routes[i].access = c.access;
            if (i < route_access.size() && route_access[i])
                read_access(*route_access[i], c.routes[i].access);
        }
    } catch (const YAML::Exception& e) {
        // yaml-cpp parses lazily in places (aliases); whatever it reports still gets file and line.
        source.fail("", mark_line(e.mark), "YAML error: " + e.msg);
    }
    check_agreement(c, source);
    check_access(c, source);
    return c;
}

config load_config(const std::string& path) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    const auto cannot_read = [&] {
        throw config_error(path + ": cannot read: " + std::strerror(errno));
    };
    if (!file) cannot_read();

    std::string text;
    char buffer[16 * 1024];
    while (true) {
        const auto n = std::fread(buffer, 1, sizeof buffer, file.get());
        text.append(buffer, n);
        if (text.size() > max_config_bytes)
            throw config_error(path + ": larger than 1MiB: not a configuration file?");
        if (n < sizeof buffer) break;
    }
    if (std::ferror(file.get()))
        cannot_read();  // e.g. EISDIR: fopen opens a directory, fread fails
    return parse_config(text, path);
}

}  // namespace rtmpgate::gateway
