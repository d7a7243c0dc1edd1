// What the process counts, for /metrics (admin/metrics.cpp renders them). Updated from every
// strand with relaxed atomic increments.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gateway/net/deadline.hpp"

namespace rtmpgate::gateway {

// Why the gateway refused a client's connection or request: rtmpgate_refusals_total{reason=...}
// (admin/metrics.cpp names each). Add a reason at the end, before `count`, with its name there.
enum class refusal : std::uint8_t {
    max_connections,  // limits.max_connections reached: a new socket is closed at once
    max_sessions,     // rtmpt.max_sessions reached: /open gets 503
    // A connection's partly received messages went past limits.max_partial_message_bytes, or
    // past what is left of limits.max_partial_message_bytes_total: the connection is closed.
    max_partial_message_bytes,
    max_partial_message_bytes_total,
    // connect with an app over limits.max_name_length or a tcUrl, swfUrl, pageUrl or flashVer
    // over limits.max_url_length: _error NetConnection.Connect.Rejected, then closed
    connect_string_too_long,
    // publish or play (play2) of a stream name over limits.max_name_length: onStatus
    // NetStream.Publish.BadName or NetStream.Play.Failed, then closed
    stream_name_too_long,
    bad_request_framing,  // an HTTP request header unreadable, or framed otherwise than by one
                          // Content-Length: 400 and the connection closes
    bad_rtmpt_request,    // a request that is no RTMPT command: 400, 404 or 405
    unknown_session,      // /send, /idle or /close naming no live session (or a refused number)
    body_too_large,       // a /send body over rtmpt.max_body: 413 and the connection closes
    no_route,             // connect to an app no route matches: _error, then closed
    stream_busy,          // publish of a name already published: onStatus BadName
    // On a listener that reads the PROXY protocol (proxy_protocol.*), a connection closed because
    // it began with a header but is not from trusted_proxies, because it is from trusted_proxies
    // but began without one, or because its header was malformed.
    proxy_header_untrusted,
    proxy_header_missing,
    proxy_header_invalid,
    // connect, publish or play refused by the route's access settings (access/gate.hpp counts
    // them by action and reason): _error NetConnection.Connect.Rejected or an error onStatus,
    // then closed
    access_denied,
    // limits.max_connections_per_address reached by the client's address: the new socket (or,
    // behind a PROXY header, the connection once the header names the client) is closed at once
    max_connections_per_address,
    // rtmpt.max_sessions_per_address or rtmpt.max_opens_per_second_per_address reached by the
    // session's client: /open gets 503
    max_sessions_per_address,
    max_opens_per_address,
    // A connection of a stream ended by POST /streams/<app>/<name>/drop on the admin listener
    // (its publisher and each player count once)
    dropped_by_admin,
    // A browser's request (GET, HEAD or OPTIONS that is no RTMPT command, web/web_front.hpp) for
    // a path served by nothing (404) or with a bad WebSocket upgrade (400)
    web_not_found,
    unknown_stream,  // HTTP-FLV or WebSocket-FLV of an engine stream with no publisher: 404
    // A WebSocket upgrade from a page of another origin than the gateway's that
    // http_flv.allowed_origins does not list: 403 (browsers apply no CORS to WebSockets)
    web_origin,
    count
};

// One counter per enumerator of E (which ends in `count`), bumped with relaxed increments.
template <typename E, std::size_t Size = static_cast<std::size_t>(E::count)>
class counter_family {
public:
    void add(E which) noexcept { values_[static_cast<std::size_t>(which)].fetch_add(1); }
    std::uint64_t get(E which) const noexcept { return values_[static_cast<std::size_t>(which)]; }

private:
    std::array<std::atomic<std::uint64_t>, Size> values_{};
};

struct counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> sockets_open{0};  // client sockets now, every listener but admin
    std::atomic<std::uint64_t> connections_failed{0};  // ended by bad input or an error
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
    std::atomic<std::uint64_t> media_dropped_messages{0};
    std::atomic<std::uint64_t> media_dropped_bytes{0};
    std::atomic<std::uint64_t> rtmpt_requests{0};
    // /idle replies that carried no output: held until idle_hold passed, the client's next
    // request came or the session ended, or not held at all (a request already behind it).
    std::atomic<std::uint64_t> rtmpt_empty_idle_replies{0};
    std::atomic<std::uint64_t> rtmpt_sessions{0};  // open now
    std::atomic<std::uint64_t> backend_links{0};   // spliced to a backend
    std::atomic<std::uint64_t> backend_failures{
        0};  // backend refused, timed out, broke the handshake
    // Pushes (routes[i].push) that reached NetStream.Publish.Start, and that their server ended
    // (unreachable, refused, failed while sending) rather than their publisher.
    std::atomic<std::uint64_t> pushes{0};
    std::atomic<std::uint64_t> push_failures{0};
    // Pulls of backend streams for the gateway's viewers (upstream/pull.hpp): running now, plays
    // started, and those that failed (unreachable, refused, silent, lost) rather than ended.
    std::atomic<std::uint64_t> pulls_open{0};
    std::atomic<std::uint64_t> pulls{0};
    std::atomic<std::uint64_t> pull_failures{0};
    std::atomic<std::uint64_t> accept_pauses{0};  // accept failed (EMFILE...): listener paused
    // Idle HTTP connections without a live session closed to make room for a new socket at
    // limits.max_connections.
    std::atomic<std::uint64_t> http_evictions{0};
    // Connections whose client a PROXY protocol header from a trusted proxy declared.
    std::atomic<std::uint64_t> proxy_headers{0};
    // Engine streams ended by POST /streams/<app>/<name>/drop on the admin listener.
    std::atomic<std::uint64_t> streams_dropped{0};
    counter_family<refusal> refusals;
    // Deadlines that passed and ended what they bounded: rtmpgate_timeouts_total{deadline=...}.
    counter_family<deadline_error, deadline_error_count> timeouts;

    // Counts `ec` in `timeouts` when it is a deadline_error; false otherwise.
    bool count_timeout(const error_code& ec) noexcept {
        if (!is_deadline(ec)) return false;
        timeouts.add(static_cast<deadline_error>(ec.value()));
        return true;
    }
};

}  // namespace rtmpgate::gateway
