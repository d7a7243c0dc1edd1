#include "gateway/admin/streams_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <ctime>

#include "gateway/net/json_text.hpp"

namespace rtmpgate::gateway::admin {

namespace {

namespace json = boost::json;

json::value listener_json(const endpoint& configured, std::uint16_t bound) {
    if (!configured.enabled) return nullptr;
    json::object out;
    out["host"] = configured.host;
    out["port"] = bound != 0 ? bound : configured.port;
    return out;
}

// "2026-12-03T01:02:03Z" (RFC 3339, UTC).
std::string utc_text(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[32];
    const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return std::string(text, n);
}

json::value text_or_null(const std::string& s) {
    if (s.empty()) return nullptr;
    return valid_utf8(s);
}

json::value route_json(const config& cfg, std::string_view app) {
    const route* r = cfg.find_route(app);
    if (!r) return nullptr;
    json::object out;
    out["index"] = static_cast<std::uint64_t>(r - cfg.routes.data());
    out["app"] = valid_utf8(r->app);
    if (r->to_engine) {
        out["to"] = "engine";
    } else {
        out["to"] = (r->backend.tls ? "rtmps://" : "rtmp://") + r->backend.host + ":" +
                    std::to_string(r->backend.port);
    }
    return out;
}

json::object stream_json(const engine::stream_info& s, const config& cfg) {
    json::object out;
    const auto slash = s.key.find('/');
    const std::string_view key = s.key;
    const auto app = key.substr(0, slash);
    const auto name = slash == std::string_view::npos ? std::string_view{} : key.substr(slash + 1);
    out["key"] = valid_utf8(key);
    out["app"] = valid_utf8(app);
    out["name"] = valid_utf8(name);
    out["route"] = route_json(cfg, app);
    out["published"] = s.published;
    if (s.published) {
        json::object publisher;
        publisher["transport"] = text_or_null(s.publisher.transport);
        publisher["address"] = text_or_null(s.publisher.address);
        out["publisher"] = std::move(publisher);
        out["since"] = utc_text(s.since);
    } else {
        out["publisher"] = nullptr;
        out["since"] = nullptr;
    }
    out["uptime_seconds"] = std::chrono::duration<double>(s.uptime).count();
    json::object codecs;
    codecs["video"] = text_or_null(s.video_codec);
    codecs["audio"] = text_or_null(s.audio_codec);
    out["codecs"] = std::move(codecs);
    out["bytes_in"] = s.bytes_in;
    out["bytes_out"] = s.bytes_out;
    out["bitrate_in"] = s.bitrate_in;
    out["bitrate_out"] = s.bitrate_out;
    json::object players;
    std::uint64_t viewers = 0, pushes = 0;
    for (const auto& [transport, n] : s.players) {
        if (transport == engine::push_transport) {
            pushes += n;
            continue;
        }
        players[valid_utf8(transport)] = static_cast<std::uint64_t>(n);
        viewers += n;
    }
    out["players"] = std::move(players);
    out["viewers"] = viewers;
    out["pushes"] = pushes;
    return out;
}

}  // namespace

std::string render_streams_json(const server_context& context) {
    const auto& cfg = context.cfg;
    json::object listeners;
    listeners["http"] = listener_json(cfg.listeners.http, context.http_port.load());
    listeners["https"] = listener_json(cfg.listeners.https, context.https_port.load());
    json::array streams;
    for (const auto& s : context.streams.info()) streams.push_back(stream_json(s, cfg));
    json::object out;
    out["listeners"] = std::move(listeners);
    // Off only when the configuration says so (absent, it is served when its files are there).
    out["player_page"] = cfg.player.enabled.value_or(true);
    out["streams"] = std::move(streams);
    return json::serialize(out) + "\n";
}

}  // namespace rtmpgate::gateway::admin
