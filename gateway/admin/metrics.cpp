#include "gateway/admin/metrics.hpp"

#include <array>
#include <cstddef>
#include <sstream>

#include "gateway/access/gate.hpp"

namespace rtmpgate::gateway::admin {

namespace {

void counter(std::ostringstream& out, const char* name, const char* help, std::uint64_t value,
             const char* type = "counter") {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
}

// A counter family with one label: `labels[i]` names enumerator i of E; an empty label is
// skipped (deadline_error has no enumerator 0).
template <typename E, std::size_t Size>
void labelled(std::ostringstream& out, const char* name, const char* help, const char* label,
              const counter_family<E, Size>& family, const std::array<const char*, Size>& labels) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n";
    for (std::size_t i = 0; i < Size; ++i) {
        if (*labels[i] == '\0') continue;
        out << name << '{' << label << "=\"" << labels[i] << "\"} " << family.get(static_cast<E>(i))
            << '\n';
    }
}

// Label values of rtmpgate_refusals_total, indexed by refusal.
constexpr std::array<const char*, static_cast<std::size_t>(refusal::count)> refusal_labels = {
    "max_connections",
    "max_sessions",
    "max_partial_message_bytes",
    "max_partial_message_bytes_total",
    "connect_string_too_long",
    "stream_name_too_long",
    "bad_request_framing",
    "bad_rtmpt_request",
    "unknown_session",
    "body_too_large",
    "no_route",
    "stream_busy",
    "proxy_header_untrusted",
    "proxy_header_missing",
    "proxy_header_invalid",
    "access_denied",
    "max_connections_per_address",
    "max_sessions_per_address",
    "max_opens_per_address",
    "dropped_by_admin",
    "web_not_found",
    "unknown_stream",
    "web_origin",
};

// Label values of rtmpgate_timeouts_total, indexed by deadline_error.
constexpr std::array<const char*, deadline_error_count> deadline_labels = {
    "",
    "handshake",
    "tls_handshake",
    "resolve",
    "connect",
    "first_bytes",
    "request_header",
    "request_body",
    "connect_command",
    "client_idle",
    "backend_idle",
    "client_write",
    "backend_write",
    "http_idle",
    "proxy_header",
};

}  // namespace

std::string render_metrics(const server_context& context) {
    const auto& s = context.stats;
    std::ostringstream out;
    counter(out, "rtmpgate_connections_accepted_total", "Client connections accepted.",
            s.connections_accepted);
    counter(out, "rtmpgate_connections_rejected_total",
            "Connections refused over limits.max_connections.",
            s.refusals.get(refusal::max_connections));
    counter(out, "rtmpgate_connections_failed_total", "Connections ended by bad input or an error.",
            s.connections_failed);
    counter(out, "rtmpgate_connections_open", "Client connections and tunnel sessions open now.",
            context.connections.size(), "gauge");
    counter(out, "rtmpgate_client_sockets_open",
            "Client TCP connections open now (RTMP, HTTP, TLS).", s.sockets_open, "gauge");
    counter(out, "rtmpgate_accept_pauses_total",
            "Pauses of a listener after accept failed for want of descriptors or memory.",
            s.accept_pauses);
    counter(out, "rtmpgate_http_connections_evicted_total",
            "Idle HTTP connections without a live session closed to make room at "
            "limits.max_connections.",
            s.http_evictions);
    counter(out, "rtmpgate_proxy_headers_total",
            "Connections whose client a PROXY protocol header from a trusted proxy named.",
            s.proxy_headers);
    counter(out, "rtmpgate_streams_dropped_total",
            "Engine streams ended from the admin listener (POST /streams/<app>/<name>/drop).",
            s.streams_dropped);
    // One pass over the engine's streams per scrape, nothing counted on the media path.
    const auto engine = context.streams.counts();
    counter(out, "rtmpgate_streams", "Live streams known to the engine.", engine.streams, "gauge");
    counter(out, "rtmpgate_publishers", "Engine streams with a publisher now.", engine.publishers,
            "gauge");
    counter(out, "rtmpgate_players", "Engine players on a stream with a publisher now.",
            engine.players, "gauge");
    counter(out, "rtmpgate_players_waiting",
            "Engine players on a stream without a publisher now (before or after it).",
            engine.players_waiting, "gauge");
    out << "# HELP rtmpgate_viewers Viewers of engine streams now (playing or waiting), by "
           "transport.\n# TYPE rtmpgate_viewers gauge\n";
    for (std::size_t i = 0; i < engine::viewer_transports.size(); ++i)
        out << "rtmpgate_viewers{transport=\"" << engine::viewer_transports[i] << "\"} "
            << engine.viewers[i] << '\n';
    counter(out, "rtmpgate_partial_message_bytes",
            "Bytes taken from limits.max_partial_message_bytes_total by messages received in part.",
            context.partial_messages.used(), "gauge");
    counter(out, "rtmpgate_memory_trims_total",
            "Times freed memory was given back to the system after a burst of connections.",
            context.trimmer ? context.trimmer->trims() : 0);
    counter(out, "rtmpgate_received_bytes_total", "Bytes received from clients.", s.bytes_in);
    counter(out, "rtmpgate_sent_bytes_total", "Bytes sent to clients.", s.bytes_out);
    counter(out, "rtmpgate_media_dropped_messages_total",
            "Media messages dropped for slow players.", s.media_dropped_messages);
    counter(out, "rtmpgate_media_dropped_bytes_total", "Media bytes dropped for slow players.",
            s.media_dropped_bytes);
    counter(out, "rtmpgate_rtmpt_requests_total", "RTMPT requests answered.", s.rtmpt_requests);
    counter(out, "rtmpgate_rtmpt_empty_idle_replies_total", "RTMPT /idle replies with no data.",
            s.rtmpt_empty_idle_replies);
    counter(out, "rtmpgate_rtmpt_sessions_open", "RTMPT sessions open now.", s.rtmpt_sessions,
            "gauge");
    counter(out, "rtmpgate_backend_links_total", "Client connections spliced to a backend.",
            s.backend_links);
    counter(out, "rtmpgate_backend_failures_total",
            "Backends that refused, timed out or failed the handshake.", s.backend_failures);
    counter(out, "rtmpgate_pushes_total",
            "Streams pushed to a server (routes[i].push) that it took for publishing.", s.pushes);
    counter(out, "rtmpgate_push_failures_total",
            "Pushes that could not reach their server, were refused or failed while sending.",
            s.push_failures);
    counter(out, "rtmpgate_pulls_open",
            "Upstream plays of backend streams for the gateway's viewers, open now.", s.pulls_open,
            "gauge");
    counter(out, "rtmpgate_pulls_total", "Upstream plays of backend streams started.", s.pulls);
    counter(out, "rtmpgate_pull_failures_total",
            "Upstream plays that could not reach their backend, were refused, went silent or "
            "were lost.",
            s.pull_failures);
    labelled(out, "rtmpgate_refusals_total", "Connections and requests refused, by reason.",
             "reason", s.refusals, refusal_labels);
    labelled(out, "rtmpgate_timeouts_total",
             "Deadlines that passed and ended what they bounded, by deadline.", "deadline",
             s.timeouts, deadline_labels);
    auto text = out.str();
    if (context.access) context.access->write_metrics(text);
    return text;
}

}  // namespace rtmpgate::gateway::admin
