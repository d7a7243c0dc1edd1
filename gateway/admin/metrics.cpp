#include "gateway/admin/metrics.hpp"

#include <sstream>

namespace rtmpgate::gateway::admin {

namespace {

void counter(std::ostringstream& out, const char* name, const char* help, std::uint64_t value,
             const char* type = "counter") {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
}

}  // namespace

std::string render_metrics(const server_context& context) {
    const auto& s = context.stats;
    std::ostringstream out;
    counter(out, "rtmpgate_connections_accepted_total", "Client connections accepted.",
            s.connections_accepted);
    counter(out, "rtmpgate_connections_rejected_total",
            "Connections refused over limits.max_connections.", s.connections_rejected);
    counter(out, "rtmpgate_connections_failed_total", "Connections ended by bad input or an error.",
            s.connections_failed);
    counter(out, "rtmpgate_connections_open", "Client connections and tunnel sessions open now.",
            context.connections.size(), "gauge");
    counter(out, "rtmpgate_client_sockets_open",
            "Client TCP connections open now (RTMP, HTTP, TLS).", s.sockets_open, "gauge");
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
    counter(out, "rtmpgate_received_bytes_total", "Bytes received from clients.", s.bytes_in);
    counter(out, "rtmpgate_sent_bytes_total", "Bytes sent to clients.", s.bytes_out);
    counter(out, "rtmpgate_media_dropped_messages_total",
            "Media messages dropped for slow players.", s.media_dropped_messages);
    counter(out, "rtmpgate_media_dropped_bytes_total", "Media bytes dropped for slow players.",
            s.media_dropped_bytes);
    counter(out, "rtmpgate_rtmpt_requests_total", "RTMPT requests answered.", s.rtmpt_requests);
    counter(out, "rtmpgate_rtmpt_sessions_open", "RTMPT sessions open now.", s.rtmpt_sessions,
            "gauge");
    counter(out, "rtmpgate_backend_links_total", "Client connections spliced to a backend.",
            s.backend_links);
    counter(out, "rtmpgate_backend_failures_total",
            "Backends that refused, timed out or failed the handshake.", s.backend_failures);
    return out.str();
}

}  // namespace rtmpgate::gateway::admin
