// The gateway's configuration: what rtmpgate.yaml says, checked once at start-up.
//
// parse_config() reads the YAML text strictly: every key must be known (at any depth), every value
// must have the right type and lie in its range, and the settings must agree with each other
// (a certificate needs its key, https needs a certificate, engine.chunk_size <=
// limits.max_chunk_size). Anything else throws config_error with ONE line:
//
//     <file>:<line>: <full.key.path>: <what is wrong>        e.g.
//     config/rtmpgate.yaml:12: engine.chunk_size: must be between 128 and 16777215 (got 64)
//
// List elements are numbered from 0 in key paths ("routes[1].to", "tls.sni[0].server_names[2]").
// Value forms (see config_scalars.hpp): durations are an integer with a unit ms, s, m or h
// ("200ms", "45s", "2m"), a plain integer meaning milliseconds; sizes are an integer with a unit
// KiB, MiB or GiB ("64KiB", "4MiB"), a plain integer meaning bytes. A key that is absent keeps the
// default written below; a section written with nothing under it ("tls:") is all defaults.
//
// Whether certificate files exist, are readable and match their keys is checked later by the TLS
// code, not here. Relative paths are kept as written (relative to the working directory).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/access/policy.hpp"
#include "gateway/net/cidr.hpp"

namespace rtmpgate::gateway {

using std::chrono::milliseconds;

// A listening address: "0.0.0.0:80", "[::1]:1935", "127.0.0.1:0" (port chosen by the system).
// "" or absent means the listener is disabled. The host is an IP address, not a name.
struct endpoint {
    std::string host;  // as written, brackets removed for IPv6
    std::uint16_t port = 0;
    bool enabled = false;

    // "0.0.0.0:80", "[::1]:1935"; "" when disabled (the form that disables it in YAML).
    std::string to_string() const;
};

// Where a proxied route connects: "rtmp://host[:port]" (TCP) or "rtmps://host[:port]" (TLS).
struct backend_target {
    std::string host;           // a name or an IP address; brackets removed for IPv6
    std::uint16_t port = 1935;  // default 1935 for rtmp://, 443 for rtmps://
    bool tls = false;           // rtmps://
    bool verify = true;         // rtmps: verify the backend's certificate chain and name
    std::string ca_file;        // rtmps: trusted CAs (PEM); empty: the system's default store
    std::string server_name;    // rtmps: SNI and the name verified; set to host unless given
    // send_proxy_protocol: a PROXY protocol header (HAProxy's, v1 text or v2 binary) written
    // first on the backend connection, before TLS, naming the client; none by default.
    enum class proxy_protocol : std::uint8_t {
        none,
        v1,
        v2
    } send_proxy_protocol = proxy_protocol::none;
};

// Where an engine route publishes again every stream published on it (routes[i].push):
// "rtmp://host[:port]/app[/name]" or "rtmps://..." (upstream/push.hpp).
struct push_target {
    backend_target backend;
    std::string app;   // the connect's app on that server
    std::string name;  // the publish's name there; "": the stream's own name
};

struct route {
    std::string app;        // exact application name, or "*" for any
    bool to_engine = true;  // "engine"
    backend_target
        backend;  // for "rtmp://host[:port]" (default 1935) / "rtmps://host[:port]" (default 443)
    // Who may publish and play through this route: the top-level `access:` with the keys of
    // `routes[i].access:` written over it (access/policy.hpp).
    access::policy access;
    // Engine routes only: where every stream published on the route is pushed too; at most 8.
    std::vector<push_target> push;

    // True if this route takes connections to `app` (the application of the client's connect).
    bool matches(std::string_view app) const;
};

// An extra certificate chosen by the TLS server name (SNI) the client asks for.
struct tls_certificate {
    std::string certificate;                // PEM chain file
    std::string private_key;                // PEM key file
    std::vector<std::string> server_names;  // "example.com", "*.example.com"; at least one
};

// The request header an RTMPT /open from a trusted proxy may name its client with.
enum class forwarded_header { x_forwarded_for, forwarded, none };

struct config {
    struct listeners_t {
        endpoint http, https, rtmp, admin;
    } listeners;

    struct tls_t {
        std::string certificate,
            private_key;                   // default pair (PEM files); required if https is enabled
        std::vector<tls_certificate> sni;  // extra pairs chosen by server name
        milliseconds handshake_timeout{10000};
    } tls;

    std::vector<route> routes{
        route{"*", true, {}, {}, {}}};  // first match wins; default: one "*" -> engine
    unsigned threads = 0;               // 0: one per core

    struct limits_t {
        std::uint32_t max_chunk_size = 1 << 20;      // largest Set Chunk Size a peer may ask for
        std::uint32_t max_message_length = 8 << 20;  // largest RTMP message accepted
        std::size_t max_chunk_streams = 64;          // chunk streams open at once per connection
        // Bytes of partly received messages (counted as they arrive), per connection and over
        // the whole process; a connection that goes past either is closed.
        std::uint64_t max_partial_message_bytes = 10 << 20;
        std::uint64_t max_partial_message_bytes_total = 256 << 20;
        // How often to check whether a burst of connections has ended, to give the memory it
        // freed back to the system (net/memory_trimmer.hpp); 0: never.
        milliseconds memory_trim_interval{5000};
        std::size_t max_connections = 10000;  // client connections at once (all listeners)
        // Client connections at once from one client address (net/address_limits.hpp); 0: no
        // limit.
        std::size_t max_connections_per_address = 0;
        milliseconds handshake_timeout{10000};  // RTMP handshake + connect must complete in this
        milliseconds idle_timeout{60000};       // no byte received from a client for this long
        std::size_t max_name_length = 1024;     // app, stream names (with query): longer refused
        std::size_t max_url_length = 2048;      // tcUrl, swfUrl, pageUrl, flashVer: longer refused
        // accept() failed for want of descriptors or memory: no accept on that listener for this
        milliseconds accept_pause{500};
    } limits;

    struct engine_t {
        std::uint32_t chunk_size = 4096;  // outgoing
        std::uint32_t window_ack_size = 2500000;
        std::uint32_t peer_bandwidth = 2500000;
        bool gop_cache = true;
        std::size_t gop_cache_max_bytes = 16 << 20;
        std::size_t player_queue_bytes = 8 << 20;  // per player; beyond: drop to next keyframe
    } engine;

    struct rtmpt_t {
        milliseconds idle_hold{200};    // long-poll bound for empty /idle replies
        milliseconds idle_coalesce{0};  // a held /idle reply waits this long for more output
        milliseconds session_timeout{45000};
        std::size_t max_sessions = 10000;
        // Per session client address (net/address_limits.hpp): live sessions at once, and /open
        // requests per second; 0: no limit.
        std::size_t max_sessions_per_address = 0;
        std::size_t max_opens_per_second_per_address = 0;
        std::size_t max_body = 4 << 20;  // bigger /send body -> 413
        std::size_t max_pending_output = 8 << 20;
        milliseconds gap_timeout{5000};
        std::string node_id;  // prefix "<node>-" of session ids; [A-Za-z0-9]{0,16}
        milliseconds connection_idle_timeout{120000};  // between requests of a live session
        milliseconds sessionless_idle_timeout{10000};  // between requests, no live session
        milliseconds request_header_timeout{10000};    // a request's first byte to its header's end
        milliseconds request_body_timeout{10000};      // a body with no byte for this long
        milliseconds write_timeout{30000};  // a reply whose write makes no progress for this long
        bool quick_ack = true;              // TCP_QUICKACK after every read on RTMPT connections
        // From a trusted proxy (trusted_proxies), this header of /open names the session's client.
        forwarded_header forwarded = forwarded_header::x_forwarded_for;
    } rtmpt;

    struct backend_t {
        milliseconds connect_timeout{5000};
        milliseconds handshake_timeout{5000};
        std::size_t link_buffer_bytes = 64 << 10;
        // A spliced link ends when the backend sends nothing for this long (pinged at half).
        milliseconds idle_timeout{60000};
        // A spliced link ends when a write to either side makes no progress for this long.
        milliseconds write_timeout{30000};
    } backend;

    // Browsers (web/): GET /<app>/<stream>.flv on the http and https listeners, as HTTP-FLV or,
    // upgraded, as WebSocket-FLV.
    struct http_flv_t {
        // Origins ("https://example.com", "http://host:8080") whose pages may read streams across
        // origins: their requests get Access-Control-Allow-Origin. "*" allows every origin.
        // Empty (the default): none; the player page the gateway serves itself needs none.
        std::vector<std::string> allowed_origins;
        // A write to a viewer that makes no progress for this long ends it (a viewer that stops
        // reading is first dropped to keyframes by engine.player_queue_bytes).
        milliseconds write_timeout{10000};
        // A viewer that is sent nothing for this long (a publisher that sends no media) is ended.
        milliseconds idle_timeout{30000};
    } http_flv;

    // The player page: GET /play/<app>/<stream> serves <dir>/player.html, GET /play/mpegts.js
    // serves <dir>/node_modules/mpegts.js/dist/mpegts.js, both read once at start-up.
    struct player_t {
        // Absent: served when the files are there, off (one log line) when they are not.
        // true: missing files stop the start-up; false: never served.
        std::optional<bool> enabled;
        std::string dir = "web";  // relative to the working directory
    } player;

    milliseconds shutdown_grace{5000};
    // On SIGINT/SIGTERM, /healthz answers 503 for this long while everything else goes on as
    // before (accepting too), so that a load balancer's health check takes the gateway out before
    // it stops accepting; shutdown_grace follows. 0: stop accepting at once.
    milliseconds drain_time{0};
    std::string log_level = "info";  // error, warn, info, debug

    // Proxies and load balancers whose word about the client is taken: a PROXY protocol header
    // on a listener that reads it, X-Forwarded-For / Forwarded on an RTMPT /open. Empty: none.
    std::vector<cidr> trusted_proxies;
    // Who may use the admin listener's endpoints that change something (POST
    // /streams/<app>/<name>/drop) or name clients (GET /streams, the status page GET /);
    // /healthz and /metrics answer anyone who reaches the listener.
    std::vector<cidr> admin_allow = default_admin_allow();
    // The default access settings of every route (access/policy.hpp).
    access::policy access;

    // Which listeners read a PROXY protocol header (v1 or v2) first (see front/proxy_header.hpp).
    struct proxy_protocol_t {
        bool http = false, https = false, rtmp = false;
        milliseconds header_timeout{5000};  // the header whole within this of the accept
    } proxy_protocol;

    // 127.0.0.0/8 and ::1.
    static std::vector<cidr> default_admin_allow();

    // The first route that matches `app`; nullptr: no route.
    const route* find_route(std::string_view app) const;
};

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parses and checks a whole configuration. `source_name` names the text in error messages
// (the file path). Throws config_error.
config parse_config(std::string_view yaml_text, std::string_view source_name);

// Reads the file at `path` (at most 1 MiB) and parses it. Throws config_error, also when the file
// cannot be read ("<path>: cannot read: No such file or directory").
config load_config(const std::string& path);

}  // namespace rtmpgate::gateway
