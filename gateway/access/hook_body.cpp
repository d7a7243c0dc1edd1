#include "gateway/access/hook_body.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "gateway/config/config_scalars.hpp"
#include "gateway/net/json_text.hpp"

namespace rtmpgate::gateway::access {

namespace {

namespace json = boost::json;

constexpr std::size_t reply_limit = 64 * 1024;  // what hook_client reads at most
constexpr std::size_t stream_name_limit = 1024;

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
        auto key = valid_utf8(name);
        if (!args.contains(key)) args.emplace(key, valid_utf8(value));
    }
    json::object body;
    body["action"] = valid_utf8(action_name);
    body["app"] = valid_utf8(r.app);
    body["stream"] = valid_utf8(r.stream);
    body["args"] = std::move(args);
    body["client"] = r.client.address().to_string();
    body["client_port"] = static_cast<std::uint64_t>(r.client.endpoint().port());
    body["transport"] = valid_utf8(r.transport);
    body["route"] = valid_utf8(r.route);
    body["connection"] = valid_utf8(r.connection_id);
    body["node"] = valid_utf8(node_id);
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
