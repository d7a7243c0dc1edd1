#include "gateway/web/web_front.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cerrno>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/access/gate.hpp"
#include "gateway/access/token.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/upstream/pull.hpp"
#include "gateway/web/flv_batch.hpp"
#include "gateway/web/flv_viewer.hpp"
#include "gateway/web/web_target.hpp"

namespace rtmpgate::gateway::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

using clock = asio::steady_timer::clock_type;

// One write to a viewer carries at most this much of its queue.
constexpr std::size_t max_batch_bytes = 256 * 1024;
// What a WebSocket viewer may send (it has nothing to say; pings and close are control frames).
constexpr std::size_t max_ws_message = 4096;
// The WebSocket close handshake, and the upgrade's reply.
constexpr auto ws_handshake_timeout = std::chrono::seconds(5);
// A viewer ended by a shutdown or a drop: how long a write (of a batch of up to max_batch_bytes,
// or the response's end) may still take, rather than the rest of http_flv.write_timeout. A
// client that keeps up with the stream gets its clean end within it.
constexpr auto forced_end_write_timeout = std::chrono::milliseconds(1000);
// Request headers copied into a reply (Origin, Access-Control-Request-Headers): longer ones are
// not copied.
constexpr std::size_t max_copied_header = 256;

tcp::socket& lowest_layer(tcp::socket& s) { return s; }
tcp::socket& lowest_layer(asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

// A header value safe to send back as it is: visible ASCII and spaces, bounded.
bool copyable(std::string_view value) {
    return !value.empty() && value.size() <= max_copied_header &&
           std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

// Whether http_flv.allowed_origins lets pages of `origin` read streams: "*" lets every one.
enum class origin_grant { none, every, listed };
origin_grant allowed_origin(const config& cfg, std::string_view origin) {
    const auto& allowed = cfg.http_flv.allowed_origins;
    if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) return origin_grant::every;
    if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end())
        return origin_grant::listed;
    return origin_grant::none;
}

// Access-Control-Allow-Origin for a request whose Origin http_flv.allowed_origins lists ("*"
// for every one); nothing otherwise.
std::string cors_headers(const config& cfg, const request& req) {
    const auto origin = std::string_view(req[http::field::origin]);
    if (!copyable(origin)) return {};
    switch (allowed_origin(cfg, origin)) {
        case origin_grant::every:
            return "Access-Control-Allow-Origin: *\r\n";
        case origin_grant::listed:
            return "Access-Control-Allow-Origin: " + std::string(origin) + "\r\nVary: Origin\r\n";
        case origin_grant::none:
            break;
    }
    return {};
}

// Whether a page of the request's Origin may open a WebSocket: one of the gateway's own pages
// (the Origin's host and port are the request's Host, as for the player page), or an origin
// http_flv.allowed_origins lists. A request without Origin is no browser's and may. Browsers
// enforce no CORS on WebSockets: without this, any site could play the streams in its visitors'
// browsers from inside their networks.
bool origin_may_open_websocket(const config& cfg, const request& req) {
    const auto found = req.find(http::field::origin);
    if (found == req.end()) return true;
    const auto origin = std::string_view(found->value());
    if (allowed_origin(cfg, origin) != origin_grant::none) return true;
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos) return false;  // "null", or not an origin
    const auto host = std::string_view(req[http::field::host]);
    return !host.empty() && beast::iequals(origin.substr(scheme_end + 3), host);
}

// RFC 6455 4.2.1: an opening handshake a server may accept. Beast's accept checks the same but
// answers a wrong version with 426; any bad upgrade is 400 here.
bool good_upgrade(const request& req) {
    if (req.method() != http::verb::get || req.version() != 11) return false;
    if (!beast::iequals(req[http::field::upgrade], "websocket")) return false;
    if (!http::token_list(req[http::field::connection]).exists("upgrade")) return false;
    if (req[http::field::sec_websocket_version] != "13") return false;
    // The key: 16 random octets in base64, 24 characters ending in "==".
    const auto key = std::string_view(req[http::field::sec_websocket_key]);
    if (key.size() != 24 || !key.ends_with("==")) return false;
    return std::all_of(key.begin(), key.end() - 2, [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
    });
}

template <typename Stream>
class handler {
public:
    handler(Stream& stream, request& req, const client_address& client, web_context& context)
        : stream_(stream),
          req_(req),
          client_(client),
          context_(context),
          cfg_(context.server.cfg),
          websocket_(req.find(http::field::upgrade) != req.end()),
          log_id_(std::string(websocket_ ? "ws-flv " : "http ") + client.to_string()) {}

    asio::awaitable<bool> run() {
        executor_ = co_await asio::this_coro::executor;
        const auto t = parse_web_target(std::string_view(req_.target()));
        if (req_.method() == http::verb::options) co_return co_await preflight();
        switch (t.what) {
            case web_target::kind::flv:
                co_return co_await play(t);
            case web_target::kind::page:
                co_return co_await file(context_.player.page, "text/html; charset=utf-8");
            case web_target::kind::script:
                co_return co_await file(context_.player.mpegts_js,
                                        "application/javascript; charset=utf-8");
            case web_target::kind::none:
                break;
        }
        co_return co_await not_found("no such path");
    }

private:
    // A reply with a body (none for HEAD); keep-alive as the request asks.
    asio::awaitable<bool> reply(unsigned status, std::string_view reason,
                                std::string_view content_type, std::string_view body,
                                std::string_view extra = {}) {
        const bool keep_alive = req_.keep_alive() && !closing_;
        // A 204 has no body, and says nothing of one (RFC 9110 8.6).
        const std::string about_body =
            status == 204 ? std::string()
                          : "Content-Type: " + std::string(content_type) +
                                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
        std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                           "\r\n" + about_body + "Cache-Control: no-cache\r\n" +
                           std::string(extra) + cors_headers(cfg_, req_) +
                           (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
        std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
        if (req_.method() == http::verb::head) buffers[1] = {};
        const auto ec = co_await write_all(buffers);
        co_return !ec && keep_alive;
    }

    asio::awaitable<bool> not_found(std::string_view why) {
        context_.server.stats.refusals.add(refusal::web_not_found);
        log::debug(log_id_, ": ", req_.method_string(), " ",
                   log::quoted(std::string_view(req_.target())), ": 404, ", why);
        co_return co_await reply(404, "Not Found", "text/plain; charset=utf-8",
                                 std::string(why) + "\n");
    }

    asio::awaitable<bool> file(const std::string& content, std::string_view type) {
        if (!context_.player.enabled) co_return co_await not_found("the player page is off");
        if (req_.method() != http::verb::get && req_.method() != http::verb::head)
            co_return co_await reply(405, "Method Not Allowed", "text/plain", "",
                                     "Allow: GET, HEAD, OPTIONS\r\n");
        co_return co_await reply(200, "OK", type, content);
    }

    // A CORS preflight: the origin's permission (cors_headers) and what it may send.
    asio::awaitable<bool> preflight() {
        std::string extra = "Allow: GET, HEAD, OPTIONS\r\n";
        if (!cors_headers(cfg_, req_).empty()) {
            extra += "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n";
            const auto asked = std::string_view(req_["Access-Control-Request-Headers"]);
            if (copyable(asked))
                extra += "Access-Control-Allow-Headers: " + std::string(asked) + "\r\n";
            extra += "Access-Control-Max-Age: 600\r\n";
        }
        co_return co_await reply(204, "No Content", "text/plain", "", extra);
    }

    asio::awaitable<error_code> write_all(std::span<const asio::const_buffer> buffers) {
        std::vector<asio::const_buffer> b(buffers.begin(), buffers.end());
        auto [ec, n] =
            co_await with_deadline(asio::async_write(stream_, b, use_nothrow),
                                   cfg_.http_flv.write_timeout, deadline_error::client_write);
        context_.server.stats.count_timeout(ec);
        co_return ec;
    }

    // The access settings of `via` for a play of `t` (a connect first, when the route decides
    // connects: a browser has no other). False, after a 403, when refused.
    asio::awaitable<bool> decide(const route& via, const web_target& t, std::string& name) {
        auto& gate = context_.server.access;
        if (!gate) co_return true;
        access::request r;
        r.app = t.app;
        if (auto args = access::parse_query(t.query)) r.args = std::move(*args);
        r.client = client_;
        r.transport = websocket_ ? "ws-flv" : "http-flv";
        r.route = via.app;
        r.connection_id = log_id_;
        for (const auto what : {access::action::connect, access::action::play}) {
            if (!access::decides(via.access, what)) continue;
            r.what = what;
            r.stream = what == access::action::play ? name : std::string();
            r.stream_args = what == access::action::play ? r.args.size() : 0;
            const auto d = co_await gate->decide(r, via);
            std::string why = d.detail.empty() ? access::reason_name(d.why) : d.detail;
            if (d.allowed && d.backend) {
                // Only the engine's streams are served here; a hook's backend is for an RTMP
                // client's connect.
                why = "the hook named a backend, which serves RTMP clients only";
            } else if (d.allowed && d.rename.size() > cfg_.limits.max_name_length) {
                why = "the hook renamed the stream to a name over limits.max_name_length";
            } else if (d.allowed) {
                if (what == access::action::play && !d.rename.empty()) name = d.rename;
                continue;
            }
            context_.server.stats.refusals.add(refusal::access_denied);
            log::info(log_id_, ": ", access::action_name(what), " ",
                      log::quoted(t.app + "/" + name), " refused: ", why, ": 403");
            co_await reply(403, "Forbidden", "text/plain; charset=utf-8", "access denied\n");
            co_return false;
        }
        if (access::notifies(via.access, access::action::play)) {
            r.what = access::action::play;
            r.stream = name;
            r.stream_args = r.args.size();
            grant_ = std::move(r);
            grant_route_ = &via;
        }
        co_return true;
    }

    asio::awaitable<bool> play(const web_target& t) {
        if (websocket_ && !good_upgrade(req_)) {
            context_.server.stats.refusals.add(refusal::web_not_found);
            log::debug(log_id_, ": ", log::quoted(std::string_view(req_.target())),
                       ": bad WebSocket upgrade: 400");
            co_return co_await reply(400, "Bad Request", "text/plain; charset=utf-8",
                                     "bad WebSocket upgrade\n", "Sec-WebSocket-Version: 13\r\n");
        }
        if (websocket_ && !origin_may_open_websocket(cfg_, req_)) {
            context_.server.stats.refusals.add(refusal::web_origin);
            log::debug(log_id_, ": WebSocket from the page of ",
                       log::quoted(std::string_view(req_[http::field::origin])),
                       ", not in http_flv.allowed_origins: 403");
            co_return co_await reply(403, "Forbidden", "text/plain; charset=utf-8",
                                     "origin not allowed\n");
        }
        if (req_.method() != http::verb::get)
            co_return co_await reply(405, "Method Not Allowed", "text/plain", "",
                                     "Allow: GET, OPTIONS\r\n");
        const auto& limits = cfg_.limits;
        if (t.app.size() > limits.max_name_length || t.stream.size() > limits.max_name_length)
            co_return co_await not_found("a name over limits.max_name_length");
        const route* via = cfg_.find_route(t.app);
        if (!via) co_return co_await not_found("no route for the app");
        std::string name = t.stream;
        if (!co_await decide(*via, t, name)) co_return false;
        const auto key = t.app + "/" + name;
        if (!via->to_engine) {
            // A backend route's stream is played from the backend by upstream::pulls, one
            // upstream play per stream shared by all its viewers, and published into the engine
            // under the same key: the viewer holds its lease while it plays, and waits for the
            // pull's first message as an RTMP player of nginx-rtmp waits for its stream, within
            // the time a pull may take to start.
            auto* pulls = context_.server.pulls;
            if (!pulls) co_return co_await not_found("no pulls of backend streams");
            // The query goes to the backend with the play (an nginx-rtmp on_play may read it),
            // less the gateway's own token, and is part of the pull's key: viewers share a pull
            // only when they ask the backend the same. A '?' inside the name (%3F) would be
            // taken for the query's start.
            if (name.find('?') != std::string::npos)
                co_return co_await not_found("a backend stream's name with '?'");
            std::string upstream_name = name;
            if (const auto query = access::without_token_args(t.query); !query.empty())
                upstream_name += "?" + query;
            // A pull that fails before its stream starts says so, and the viewer answers then
            // rather than at the wait's end: 502 when the backend failed, 404 when it has no
            // such stream.
            viewer_ = new_viewer();
            auto told = [viewer = std::weak_ptr(viewer_),
                         backend_failed = backend_failed_](const upstream::pulls::not_started& n) {
                backend_failed->store(n.backend_failed);
                if (auto v = viewer.lock())
                    v->end_if_waiting("the backend stream did not start: " + n.reason);
            };
            auto lease = pulls->hold(*via, t.app, upstream_name, std::move(told));
            co_return co_await play_stream(t.app + "/" + upstream_name, std::move(lease),
                                           pulls->start_wait(*via));
        }
        viewer_ = new_viewer();
        co_return co_await play_stream(key);
    }

    std::shared_ptr<flv_viewer> new_viewer() {
        return std::make_shared<flv_viewer>(executor_, cfg_.engine.player_queue_bytes, websocket_,
                                            context_.server.stats);
    }

    // Plays the stream `key` of the engine's registry to viewer_ until it or the viewer ends.
    // False: the connection closes. `lease` is held meanwhile (a backend stream's upstream play);
    // `wait`: how long a stream without a publisher may take to get one (0: 404 at once, as for
    // an engine stream nobody publishes; a backend stream's first viewer comes before its media).
    asio::awaitable<bool> play_stream(const std::string& key,
                                      [[maybe_unused]] std::shared_ptr<void> lease = {},
                                      std::chrono::milliseconds wait = {}) {
        auto& server = context_.server;
        std::vector<protocol::message> initial;
        bool playing = false;
        auto stream = server.streams.subscribe(key, viewer_, initial, playing);
        // Whatever the way out: leave the stream, and let the engine forget it if unused.
        struct leave {
            server_context& server;
            std::shared_ptr<engine::stream> stream;
            flv_viewer* viewer;
            ~leave() {
                stream->unsubscribe(viewer);
                server.streams.release(stream->key());
            }
        } leave_stream{server, stream, viewer_.get()};
        const auto flags = flv_flags(initial);
        viewer_->start(std::move(initial), playing);
        if (!playing && wait.count() > 0) {
            // A client that leaves meanwhile ends the wait, and lets its lease on the pull go.
            using namespace asio::experimental::awaitable_operators;
            auto first =
                co_await (viewer_->wait_for_publisher(clock::now() + wait) || until_closed());
            if (first.index() == 1) {
                log::debug(log_id_, ": ", log::quoted(key), ": the client left while waiting");
                co_return false;
            }
            playing = std::get<0>(first);
        }
        if (!playing && backend_failed_->load()) {
            // Counted in rtmpgate_pull_failures_total and logged by the pull.
            log::debug(log_id_, ": ", log::quoted(key), ": ", viewer_->reason(), ": 502");
            closing_ = true;
            co_return co_await reply(502, "Bad Gateway", "text/plain; charset=utf-8",
                                     "the backend failed\n");
        }
        if (!playing) {
            context_.server.stats.refusals.add(refusal::unknown_stream);
            log::debug(log_id_, ": ", log::quoted(key), " is not published: 404");
            // And the connection closes: a stream's name is asked for, and the access rules
            // decide (hooks called), once per connection, as an RTMP client's play is bounded per
            // connection. A play not served owes no done hook.
            closing_ = true;
            co_return co_await reply(404, "Not Found", "text/plain; charset=utf-8",
                                     "stream not published\n");
        }
        // Ended by a shutdown (rtmpgate_viewers counts it among the stream's subscribers).
        struct registered {
            connection_set& set;
            std::uint64_t id;
            ~registered() { set.remove(id); }
        } in_connections{server.connections, server.connections.add(viewer_)};
        // A shutdown or a drop leaves a write stuck on a client that reads nothing a second.
        viewer_->on_forced_end([this] { hurry_writes(); });
        struct unhook {
            flv_viewer& viewer;
            ~unhook() { viewer.on_forced_end({}); }
        } forced_end_unhooked{*viewer_};
        const auto started = clock::now();
        log::info(log_id_, ": playing ", log::quoted(key), " as ", viewer_->transport());
        if (websocket_)
            co_await run_websocket(flags);
        else
            co_await run_http(flags);
        const auto seconds =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count() /
            1000.0;
        log::info(log_id_, ": stopped playing ", log::quoted(key), ": ", viewer_->reason(), "; ",
                  bytes_, " bytes in ", seconds, "s, ", viewer_->dropped_messages(),
                  " messages dropped");
        if (grant_) server.access->ended(*grant_, *grant_route_);
        co_return false;
    }

    // HTTP-FLV: a chunked response (HTTP/1.0: delimited by the close), then the stream.
    asio::awaitable<void> run_http(protocol::flv_header flags) {
        chunked_ = req_.version() >= 11;
        const std::string head = std::string("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n") +
                                 (chunked_ ? "Transfer-Encoding: chunked\r\n" : "") +
                                 "Cache-Control: no-cache\r\nConnection: close\r\n" +
                                 cors_headers(cfg_, req_) + "\r\n";
        const std::array<asio::const_buffer, 1> buffers{asio::buffer(head)};
        if (co_await write_all(buffers)) {
            viewer_->end("the response could not be written");
            co_return;
        }
        using namespace asio::experimental::awaitable_operators;
        auto write = [this](std::vector<asio::const_buffer>& b) -> asio::awaitable<error_code> {
            auto [ec, n] = co_await asio::async_write(stream_, b, use_nothrow);
            co_return ec;
        };
        // The last chunk: a client reading to the end sees the stream end cleanly.
        auto finish = [this]() -> asio::awaitable<void> {
            if (!chunked_) co_return;
            static constexpr std::string_view last_chunk = "0\r\n\r\n";
            co_await asio::async_write(stream_, asio::buffer(last_chunk), use_nothrow);
        };
        co_await (write_media(flags, write, finish) || read_http() || watchdog());
    }

    // WebSocket-FLV: the upgrade, then the stream in binary messages.
    asio::awaitable<void> run_websocket(protocol::flv_header flags) {
        websocket::stream<Stream&> ws(stream_);
        websocket::stream_base::timeout timeouts{};
        timeouts.handshake_timeout = ws_handshake_timeout;
        timeouts.idle_timeout = websocket::stream_base::none();  // http_flv.idle_timeout's
        timeouts.keep_alive_pings = false;
        ws.set_option(timeouts);
        ws.read_message_max(max_ws_message);
        ws.auto_fragment(false);
        ws.binary(true);
        auto [accept_ec] = co_await ws.async_accept(req_, use_nothrow);
        if (accept_ec) {
            viewer_->end("WebSocket upgrade failed: " + accept_ec.message());
            co_return;
        }
        using namespace asio::experimental::awaitable_operators;
        auto write = [&ws](std::vector<asio::const_buffer>& b) -> asio::awaitable<error_code> {
            auto [ec, n] = co_await ws.async_write(b, use_nothrow);
            co_return ec;
        };
        // A close frame; the pending read hears the client's answer.
        auto finish = [&ws]() -> asio::awaitable<void> {
            co_await ws.async_close(websocket::close_code::going_away, use_nothrow);
        };
        co_await (write_media(flags, write, finish) || read_websocket(ws) || watchdog());
    }

    // Writes the FLV header, then the viewer's messages as tags, until the viewer ends; then,
    // unless a write failed or the viewer fell too far behind, `finish` ends the response
    // cleanly. The watchdog bounds each write and the finish.
    template <typename Write, typename Finish>
    asio::awaitable<void> write_media(protocol::flv_header flags, Write& write, Finish& finish) {
        flv_batch batch;
        bool first = true;
        bool clean = false;
        std::vector<protocol::message> messages;
        for (;;) {
            messages.clear();
            const auto until = clock::now() + cfg_.http_flv.idle_timeout;
            const auto got = co_await viewer_->next(messages, max_batch_bytes, until);
            if (got == flv_viewer::wait_result::ended) {
                clean = !viewer_->overflowed();
                break;
            }
            if (got == flv_viewer::wait_result::idle) {
                viewer_->end("sent nothing for http_flv.idle_timeout");
                clean = true;
                break;
            }
            batch.build(messages, first ? std::optional(flags) : std::nullopt, chunked_);
            if (batch.size() == 0) continue;
            first = false;
            writing_since_ = clock::now();
            const auto ec = co_await write(batch.buffers());
            writing_since_ = clock::time_point::max();
            if (ec) {
                viewer_->end("write failed: " + ec.message());  // unless the watchdog ended it
                break;
            }
            bytes_ += batch.size();
            context_.server.stats.bytes_out += batch.size();
        }
        const auto state = co_await asio::this_coro::cancellation_state;
        if (clean && state.cancelled() == asio::cancellation_type::none) {
            writing_since_ = clock::now();
            co_await finish();
            writing_since_ = clock::time_point::max();
        }
        stop_io();
    }

    // Reads what the client sends (nothing is expected) until it closes.
    asio::awaitable<void> read_http() {
        std::array<char, 512> scratch;
        error_code ec;
        while (!ec)
            std::tie(ec, std::ignore) =
                co_await stream_.async_read_some(asio::buffer(scratch), use_nothrow);
        client_closed(ec);
    }

    asio::awaitable<void> read_websocket(websocket::stream<Stream&>& ws) {
        beast::flat_buffer buffer(max_ws_message);
        error_code ec;
        while (!ec) {
            std::tie(ec, std::ignore) = co_await ws.async_read(buffer, use_nothrow);
            buffer.consume(buffer.size());
        }
        client_closed(ec);
    }

    // Completes when the client's connection is closed (FIN or reset) while it sends nothing;
    // once it sends something, only when cancelled. Nothing is read: the socket is waited on and
    // peeked at, so the stream (TLS among them) is as it was.
    asio::awaitable<void> until_closed() {
        auto& socket = lowest_layer(stream_);
        for (;;) {
            auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
            if (ec) co_return;
            char octet = 0;
            const auto n = ::recv(socket.native_handle(), &octet, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n > 0) break;  // the client sent something: not this wait's to read
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) co_return;
        }
        asio::steady_timer never(executor_, clock::time_point::max());
        co_await never.async_wait(use_nothrow);
    }

    // A read ended with `ec`: the client closed or broke the connection, unless the read was
    // cancelled because the viewer had ended otherwise.
    void client_closed(const error_code& ec) {
        if (ec != asio::error::operation_aborted)
            viewer_->end(ec == asio::error::eof || ec == websocket::error::closed
                             ? std::string("the client closed")
                             : "the client's connection failed: " + ec.message());
        stop_io();
    }

    // Ends a write that makes no progress for http_flv.write_timeout (looked at every half of
    // it, so within 1.5 times it): the viewer reads nothing, and its queue is full.
    asio::awaitable<void> watchdog() {
        asio::steady_timer timer(executor_);
        watchdog_timer_ = &timer;
        struct forget {
            asio::steady_timer*& timer;
            ~forget() { timer = nullptr; }
        } forget_timer{watchdog_timer_};
        for (;;) {
            const auto timeout = write_deadline_;
            timer.expires_after(timeout / 2);
            co_await timer.async_wait(use_nothrow);  // expired, or woken by hurry_writes()
            const auto state = co_await asio::this_coro::cancellation_state;
            if (state.cancelled() != asio::cancellation_type::none) co_return;
            if (writing_since_ != clock::time_point::max() &&
                clock::now() - writing_since_ >= timeout) {
                if (!hurried_) {
                    context_.server.stats.count_timeout(
                        make_error_code(deadline_error::client_write));
                    viewer_->end("a write made no progress for http_flv.write_timeout (" +
                                 std::to_string(timeout.count()) + "ms)");
                }
                stop_io();
                co_return;
            }
        }
    }

    // The viewer was ended from outside (forced_end_write_timeout): what is left to write, the
    // end of the response among it, gets that long.
    void hurry_writes() {
        hurried_ = true;
        write_deadline_ = std::min(write_deadline_, forced_end_write_timeout);
        if (watchdog_timer_) watchdog_timer_->cancel();
    }

    void stop_io() {
        error_code ignored;
        lowest_layer(stream_).cancel(ignored);
    }

    // The FLV header's flags from what the player gets first: both when it holds neither (the
    // publisher has just started), else those it holds.
    static protocol::flv_header flv_flags(const std::vector<protocol::message>& initial) {
        protocol::flv_header h{false, false};
        for (const auto& m : initial) {
            if (m.type() == protocol::message_type::audio) h.has_audio = true;
            if (m.type() == protocol::message_type::video) h.has_video = true;
        }
        if (!h.has_audio && !h.has_video) h = {true, true};
        return h;
    }

    Stream& stream_;
    request& req_;
    const client_address& client_;
    web_context& context_;
    const config& cfg_;
    const bool websocket_;
    const std::string log_id_;
    asio::any_io_executor executor_;
    std::shared_ptr<flv_viewer> viewer_;
    // Set by a pull that failed before its stream started (on the pull's strand), read when the
    // wait for it ends.
    std::shared_ptr<std::atomic<bool>> backend_failed_ = std::make_shared<std::atomic<bool>>(false);
    bool closing_ = false;  // the reply says Connection: close, and the connection closes
    std::optional<access::request> grant_;  // a play whose end the done hook is told
    const route* grant_route_ = nullptr;
    bool chunked_ = false;
    clock::time_point writing_since_ = clock::time_point::max();
    std::chrono::milliseconds write_deadline_ = cfg_.http_flv.write_timeout;  // the watchdog's
    bool hurried_ = false;                          // hurry_writes() was called
    asio::steady_timer* watchdog_timer_ = nullptr;  // while the watchdog runs
    std::uint64_t bytes_ = 0;
};

}  // namespace

bool serves_method(std::string_view method) noexcept {
    return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

asio::awaitable<bool> serve(tcp::socket& stream, request& req, const client_address& client,
                            web_context& context) {
    handler<tcp::socket> h(stream, req, client, context);
    co_return co_await h.run();
}

asio::awaitable<bool> serve(asio::ssl::stream<tcp::socket>& stream, request& req,
                            const client_address& client, web_context& context) {
    handler<asio::ssl::stream<tcp::socket>> h(stream, req, client, context);
    co_return co_await h.run();
}

}  // namespace rtmpgate::gateway::web
