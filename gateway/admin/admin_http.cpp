#include "gateway/admin/admin_http.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "gateway/admin/metrics.hpp"
#include "gateway/admin/status_page.hpp"
#include "gateway/admin/streams_json.hpp"
#include "gateway/net/log.hpp"

namespace rtmpgate::gateway::admin {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::string_view streams_prefix = "/streams/";
constexpr std::string_view drop_suffix = "/drop";

admin_reply make_reply(unsigned status, std::string content_type = {}, std::string body = {}) {
    admin_reply r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

admin_reply not_allowed(const char* allow) {
    auto r = make_reply(405);
    r.allow = allow;
    return r;
}

// The path without its query: a query means nothing here and is ignored.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 2.1 percent-decoding; nullopt for a '%' not followed by two hex digits, or for a
// decoded NUL (no RTMP stream name holds one).
std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        const int high = hex_value(in[i + 1]);
        const int low = hex_value(in[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        const char c = static_cast<char>(high * 16 + low);
        if (c == '\0') return std::nullopt;
        out += c;
        i += 2;
    }
    return out;
}

// A 403 for a requester admin_allow does not name; nullopt when it does.
std::optional<admin_reply> refuse_unless_allowed(std::string_view method, std::string_view target,
                                                 server_context& context,
                                                 const asio::ip::address& requester) {
    if (contains_any(context.cfg.admin_allow, requester)) return std::nullopt;
    // A client the listener lets in but admin_allow does not: once per address per interval.
    if (context.per_address.should_log(requester))
        log::warn("admin ", requester.to_string(), ": ", log::quoted{method}, " ",
                  log::quoted{path_of(target)}, " refused: not in admin_allow");
    return make_reply(403, "text/plain", "not in admin_allow\n");
}

admin_reply drop_stream(std::string_view target, server_context& context,
                        const asio::ip::address& requester) {
    if (auto refused = refuse_unless_allowed("POST", target, context, requester)) return *refused;
    const auto key = drop_target_key(target);
    if (!key)
        return make_reply(400, "text/plain",
                          "expected /streams/<app>/<name>/drop, percent-encoded\n");
    const auto dropped = context.streams.drop(*key);
    if (!dropped) return make_reply(404, "text/plain", "no such stream\n");
    ++context.stats.streams_dropped;
    log::info("admin ", requester.to_string(), ": dropped ", log::quoted{*key},
              ": publisher=", dropped->publisher ? 1 : 0, " players=", dropped->players);
    return make_reply(200, "text/plain",
                      "dropped publisher=" + std::to_string(dropped->publisher ? 1 : 0) +
                          " players=" + std::to_string(dropped->players) + "\n");
}

}  // namespace

bool is_drop_path(std::string_view target) {
    const auto path = path_of(target);
    return path.starts_with(streams_prefix) && path.ends_with(drop_suffix) &&
           path.size() >= streams_prefix.size() + drop_suffix.size();
}

std::optional<std::string> drop_target_key(std::string_view target) {
    if (!is_drop_path(target)) return std::nullopt;
    auto middle = path_of(target);
    middle.remove_prefix(streams_prefix.size());
    middle.remove_suffix(drop_suffix.size());
    // The first '/' of the path as sent parts app and name: an app holds none (an encoded one,
    // %2F, is the app's), a name may.
    const auto slash = middle.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto app = percent_decode(middle.substr(0, slash));
    auto name = percent_decode(middle.substr(slash + 1));
    if (!app || !name || app->empty() || name->empty()) return std::nullopt;
    return *app + "/" + *name;
}

admin_reply answer_admin(std::string_view method, std::string_view target, server_context& context,
                         bool draining, const asio::ip::address& requester) {
    if (is_drop_path(target)) {
        if (method != "POST") return not_allowed("POST");
        return drop_stream(target, context, requester);
    }
    if (method != "GET" && method != "HEAD") return not_allowed("GET, HEAD");
    if (target == "/healthz") {
        // A balancer's check reads the status; the body is for the operator who looks.
        if (draining) return make_reply(503, "text/plain", "draining\n");
        return make_reply(200, "text/plain", "ok\n");
    }
    if (target == "/metrics")
        return make_reply(200, "text/plain; version=0.0.4", render_metrics(context));
    // The streams name their publishers' addresses: for admin_allow only, as a drop is.
    const auto path = path_of(target);
    if (path == "/streams" || path == "/") {
        if (auto refused = refuse_unless_allowed(method, target, context, requester))
            return *refused;
        if (path == "/streams")
            return make_reply(200, "application/json", render_streams_json(context));
        return make_reply(200, "text/html; charset=utf-8", std::string(status_page_html));
    }
    return make_reply(404);
}

asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context,
                                  const std::atomic<bool>& draining) {
    error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    if (peer_ec) co_return;  // gone already
    beast::flat_buffer buffer(16 * 1024);
    for (;;) {
        // A drop's POST means nothing by its body: one is read (a few KiB at most) and ignored.
        http::request_parser<http::string_body> parser;
        parser.body_limit(4096);
        auto [ec, n] = co_await http::async_read(socket, buffer, parser, use_nothrow);
        if (ec) co_return;
        const auto& req = parser.get();
        // A web page the operator has open may POST to a loopback address too (a "simple"
        // request needs no CORS preflight), and a browser always names the page's origin on a
        // POST: a drop is for tools (curl), never for a page.
        auto reply = is_drop_path(req.target()) && req.count(http::field::origin) != 0
                         ? make_reply(403, "text/plain", "requests with an Origin are refused\n")
                         : answer_admin(req.method_string(), req.target(), context, draining.load(),
                                        peer.address());
        http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                              req.version()};
        res.set(http::field::server, "rtmpgate");
        if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
        if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
        res.body() = std::move(reply.body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, written] = co_await http::async_write(socket, res, use_nothrow);
        if (wec || !req.keep_alive()) co_return;
    }
}

}  // namespace rtmpgate::gateway::admin
