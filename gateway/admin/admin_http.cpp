#include "gateway/admin/admin_http.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "gateway/admin/metrics.hpp"

namespace rtmpgate::gateway::admin {

namespace beast = boost::beast;
namespace http = beast::http;

asio::awaitable<void> serve_admin(tcp::socket socket, server_context& context) {
    beast::flat_buffer buffer(16 * 1024);
    for (;;) {
        http::request<http::empty_body> req;
        auto [ec, n] = co_await http::async_read(socket, buffer, req, use_nothrow);
        if (ec) co_return;
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::server, "rtmpgate");
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
        } else if (req.target() == "/healthz") {
            res.set(http::field::content_type, "text/plain");
            res.body() = "ok\n";
        } else if (req.target() == "/metrics") {
            res.set(http::field::content_type, "text/plain; version=0.0.4");
            res.body() = render_metrics(context);
        } else {
            res.result(http::status::not_found);
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, written] = co_await http::async_write(socket, res, use_nothrow);
        if (wec || !req.keep_alive()) co_return;
    }
}

}  // namespace rtmpgate::gateway::admin
