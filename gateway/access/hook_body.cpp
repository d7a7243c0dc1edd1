#include "gateway/access/hook_body.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "gateway/config/config_scalars.hpp"

namespace rtmpgate::gateway::access {

namespace {

namespace json = boost::json;

constexpr std::size_t reply_limit = 64 * 1024;  // what hook_client reads at most
constexpr std::size_t stream_name_limit = 1024;

// The length of the valid UTF-8 sequence at the start of `s`, or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto tail = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return tail(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!tail(1) || !tail(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(1) >= 0xA0) return 0;  // a surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!tail(1) || !tail(2) || !tail(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

// `s` with every octet that does not start a valid UTF-8 sequence replaced by U+FFFD.
json::string utf8(std::string_view s) {
    json::string out;
    out.reserve(s.size());
    while (!s.empty()) {
        const auto n = utf8_sequence(s);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");
            s.remove_prefix(1);
        } else {
            out.append(s.substr(0, n));
            s.remove_prefix(n);
        }
    }
    return out;
}

boost::system::result<hook_reply, std::string> refuse(std::string why) {
    return {boost::system::in_place_error, std::move(why)};
}

std::optional<std::string> check_stream_name(std::string_view name) {
    if (name.empty()) return "must not be empty";
    if (name.size() > stream_name_limit) return "longer than 1024 octets";
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) return "must not hold control characters";
        if (c == '/' || c == '?') return "must not hold '/' or '?'";
    }
    return std::nullopt;
}

}  // namespace

std::string make_hook_body(const request& r, std::string_view action_name,
                           std::string_view node_id) {
    json::object args;
    for (const auto& [name, value] : r.args) {
        auto key = utf8(name);
        if (!args.contains(key)) args.emplace(key, utf8(value));
    }
    json::object body;
    body["action"] = utf8(action_name);
    body["app"] = utf8(r.app);
    body["stream"] = utf8(r.stream);
    body["args"] = std::move(args);
    body["client"] = r.client.address().to_string();
    body["client_port"] = static_cast<std::uint64_t>(r.client.endpoint().port());
    body["transport"] = utf8(r.transport);
    body["route"] = utf8(r.route);
    body["connection"] = utf8(r.connection_id);
    body["node"] = utf8(node_id);
    return json::serialize(body);
}

boost::system::result<hook_reply, std::string> parse_hook_reply(std::string_view body) {
    if (body.size() > reply_limit) return refuse("over 64 KiB");
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return hook_reply{};
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec) return refuse("not JSON: " + ec.message());
    const auto* object = v.if_object();
    if (!object) return refuse("not a JSON object");
    hook_reply reply;
    if (const auto* stream = object->if_contains("stream"); stream && !stream->is_null()) {
        const auto* name = stream->if_string();
        if (!name) return refuse("\"stream\": not a string");
        if (auto why = check_stream_name(*name)) return refuse("\"stream\": " + *why);
        reply.rename = std::string(*name);
    }
    if (const auto* backend = object->if_contains("backend"); backend && !backend->is_null()) {
        const auto* url = backend->if_string();
        if (!url) return refuse("\"backend\": not a string");
        auto target = parse_route_target(*url);
        if (!target) return refuse("\"backend\": " + target.error());
        if (target->to_engine) return refuse("\"backend\": must be rtmp:// or rtmps://");
        reply.backend = std::move(target->backend);
        reply.backend->server_name = reply.backend->host;
    }
    return reply;
}

}  // namespace rtmpgate::gateway::access
