#include "gateway/admin/admin_http.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "gateway/admin/metrics.hpp"

namespace rtmpgate::gateway::admin {

namespace beast = boost::beast;
namespace http = beast::http;

admin_reply answer_admin(std::string_view method, std::string_view target,
                         const server_context& context, bool draining) {
    if (method != "GET" && method != "HEAD") return {.status = 405, .content_type = {}, .body = {}};
    if (target == "/healthz") {
        // A balancer's check reads the status; the body is for the operator who looks.
        if (draining) return {.status = 503, .content_type = "text/plain", .body = "draining\n"};
        return {.status = 200, .content_type = "text/plain", .body = "ok\n"};
    }
    if (target == "/metrics")
        return {.status = 200,
                .content_type = "text/plain; version=0.0.4",
                .body = render_metrics(context)};
    return {.status = 404, .content_type = {}, .body = {}};
}

asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context,
                                  const std::atomic<bool>& draining) {
    beast::flat_buffer buffer(16 * 1024);
    for (;;) {
        http::request<http::empty_body> req;
        auto [ec, n] = co_await http::async_read(socket, buffer, req, use_nothrow);
        if (ec) co_return;
        auto reply = answer_admin(req.method_string(), req.target(), context, draining.load());
        http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                              req.version()};
        res.set(http::field::server, "rtmpgate");
        if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
        res.body() = std::move(reply.body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, written] = co_await http::async_write(socket, res, use_nothrow);
        if (wec || !req.keep_alive()) co_return;
    }
}

}  // namespace rtmpgate::gateway::admin
