#include "gateway/front/http_front.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>

#include "gateway/front/forwarded_for.hpp"
#include "gateway/front/request_framing.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/read_scratch.hpp"
#include "gateway/web/web_front.hpp"
#include "protocol/rtmpt.hpp"

namespace rtmpgate::gateway::front {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using protocol::rtmpt_status;
using request_parser = http::request_parser<http::vector_body<std::uint8_t>>;

// A reply as it goes out, in one gathered write: `head`, then `body`, then `output`. A /send or
// /idle reply ends its head with the poll byte (make_rtmpt_poll_reply_head) and carries the
// session's output as slices of the blocks it was written in, so no reply copies it.
struct response {
    std::string head;
    std::vector<std::uint8_t> body;
    std::vector<tunnel::output_slice> output;
    bool keep_alive = true;
};

constexpr std::size_t header_limit = 8 * 1024;
constexpr std::uint64_t body_read_size = 16 * 1024;
// What a connection's buffer may keep while it waits for a request after a small one (a poll):
// a few request headers.
constexpr std::size_t idle_buffer_keep = 1024;
// One reply carries at most this much of a session's pending output; the rest goes with the
// client's next request.
constexpr std::size_t max_reply_output = 1 << 20;

tcp::socket& lowest_layer(tcp::socket& s) { return s; }
tcp::socket& lowest_layer(asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

// Request bytes already read off the socket but not yet handed to us: a pipelined request that
// a wait for the socket to become readable would not see.
bool has_buffered_input(tcp::socket&) { return false; }
bool has_buffered_input(asio::ssl::stream<tcp::socket>& s) {
    return SSL_pending(s.native_handle()) > 0;
}

// The reply every RTMPT client accepts (protocol::make_rtmpt_reply_head): neither librtmp nor
// ffmpeg reconnects, so the connection stays open.
response make_reply(rtmpt_status status, std::vector<std::uint8_t> body = {}) {
    auto head = protocol::make_rtmpt_reply_head(status, body.size());
    return {std::move(head), std::move(body), {}, true};
}

// A reply after which the connection ends (a request that cannot be read on).
response make_closing_reply(rtmpt_status status) {
    return {protocol::make_rtmpt_reply_head(status, 0, false), {}, {}, false};
}

template <typename Stream>
class http_connection {
public:
    http_connection(Stream& stream, client_address client, const char* transport,
                    http_front_context& context)
        : stream_(stream),
          client_(std::move(client)),
          transport_(transport),
          context_(context),
          settings_(context.server.cfg.rtmpt) {
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            error_code ec;
            stream_.non_blocking(true, ec);  // for read_in_place's read; no other op minds
            reads_in_place_ = !ec;
        }
    }

    asio::awaitable<void> run(std::span<const std::uint8_t> received) {
        if (!received.empty()) {
            auto space = buffer_.prepare(received.size());
            std::memcpy(space.data(), received.data(), received.size());
            buffer_.commit(received.size());
        }
        executor_ = co_await asio::this_coro::executor;
        // Two statements, not `co_await a() && co_await b()`: GCC 12 went on to serve_one()
        // after wait_for_request() had given false (a silent connection was never closed).
        for (;;) {
            if (!co_await wait_for_request()) break;
            if (!co_await serve_one()) break;
        }
    }

    ~http_connection() {
        // A deadline handler still queued finds the connection gone (see watch_deadline).
        watch_->open = false;
    }

private:
    using clock = asio::steady_timer::clock_type;

    // One timer bounds the connection's reads and writes (bound_io, io_finished), rather than a
    // timer raced against each (with_deadline): a request then costs no timer, parallel group or
    // coroutine frame of its own. Reads move the deadline (watch_->due) later without touching the
    // timer, which, when it fires early, sleeps again until the deadline as it stands; it is moved
    // only when a deadline comes earlier than its expiry. So it fires about once per timeout, not
    // once per request. When the deadline of a read or write in progress passes, it is marked late
    // and the socket's operations are cancelled.
    struct read_watch {
        clock::time_point due = clock::time_point::max();  // max: no read or write in progress
        bool late = false;
        bool waiting = false;  // a wait of the timer's is pending
        bool open = true;      // false once the connection is gone
    };

    void watch_deadline() {
        read_timer_.expires_at(watch_->due);  // a pending wait ends with operation_aborted
        watch_->waiting = true;
        read_timer_.async_wait(
            asio::bind_executor(executor_, [this, watch = watch_](const error_code& ec) {
                if (ec || !watch->open) return;  // superseded, or the connection is gone
                watch->waiting = false;
                if (watch->due == clock::time_point::max()) return;  // nothing in progress
                if (clock::now() < watch->due) {
                    watch_deadline();
                    return;
                }
                watch->late = true;
                watch->due = clock::time_point::max();
                error_code ignored;
                lowest_layer(stream_).cancel(ignored);
            }));
    }

    // Bounds the read or write about to begin by `due` (see watch_deadline); io_finished() after
    // it. One at a time: a held /idle's wait for the next request (hold) is not bounded by it, and
    // is cancelled with the write when the write's deadline passes (the connection then ends).
    // Plain functions around the read, not a coroutine wrapping it: no frame per read.
    void bound_io(clock::time_point due) {
        watch_->late = false;
        watch_->due = due;
        if (!watch_->waiting || due < read_timer_.expiry()) watch_deadline();
    }

    // The read's or write's outcome: `which` when its deadline passed and ended it. One that
    // completed as the deadline passed keeps what it did.
    error_code io_finished(error_code ec, deadline_error which) {
        watch_->due = clock::time_point::max();
        const bool late = std::exchange(watch_->late, false);
        return ec && late ? error_code(which) : ec;
    }

    // Serves one request; false when the connection is to end.
    asio::awaitable<bool> serve_one() {
        request_parser parser;
        parser.header_limit(header_limit);
        parser.body_limit(settings_.max_body);
        if (!co_await read_header(parser)) co_return false;
        // ffmpeg sends a request's header and body in two send()s with Nagle's algorithm on:
        // its body waits for our ACK of the header. A body that is all here needs none (the
        // reply carries the ACK), and TCP_QUICKACK would then send an ACK segment of its own.
        if (!body_buffered(parser)) quick_ack();
        auto& req = parser.get();
        const auto target = std::string(req.target());
        auto parsed = protocol::parse_rtmpt_request(std::string_view(req.method_string()), target);

        if (beast::iequals(req[http::field::expect], "100-continue")) {
            static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
            bound_io(clock::now() + settings_.write_timeout);
            auto [write_ec, n] =
                co_await asio::async_write(stream_, asio::buffer(continue_line), use_nothrow);
            if (const auto ec = io_finished(write_ec, deadline_error::client_write)) {
                write_failed(ec);
                co_return false;
            }
        }
        if (!co_await read_body(parser)) co_return false;
        last_body_size_ = parser.get().body().size();
        // What is no RTMPT command may be a browser's: HTTP-FLV, WebSocket-FLV, the player page.
        if (!parsed && parsed.error() == protocol::error::rtmpt_unknown_command &&
            web::serves_method(std::string_view(req.method_string())))
            co_return co_await web::serve(stream_, parser.get(), client_, web_);
        ++context_.server.stats.rtmpt_requests;
        if (!parsed) {
            const auto status = parsed.error() == protocol::error::rtmpt_bad_method
                                    ? rtmpt_status::method_not_allowed
                                : parsed.error() == protocol::error::rtmpt_unknown_command
                                    ? rtmpt_status::not_found
                                    : rtmpt_status::bad_request;
            context_.server.stats.refusals.add(refusal::bad_rtmpt_request);
            co_return co_await write_reply(make_reply(status));
        }
        auto reply = co_await dispatch(*parsed, parser.get(), parser.get().body());
        co_return co_await write_reply(std::move(reply));
    }

    // Waits for the first byte of the next request, in run() and not in serve_one(): serve_one's
    // frame, with the request parser, exists only while a request is being served. False when
    // the connection is to end.
    //
    // Deadlines: connection_idle_timeout while a live session has used this connection,
    // sessionless_idle_timeout otherwise (and the connection may be evicted meanwhile to make
    // room at limits.max_connections).
    asio::awaitable<bool> wait_for_request() {
        // Room grown for a large request (a handshake's /send) is not kept for a wait after a
        // small one; after a large one it is, so a publisher's connection does not allocate it
        // again for each of its requests.
        // (A stream that does not read in place prepares 16 KiB for every wait: it keeps them.)
        if (reads_in_place_ && buffer_.size() == 0 && buffer_.capacity() > idle_buffer_keep &&
            last_body_size_ <= idle_buffer_keep)
            buffer_.shrink_to_fit();
        const auto waiting_since = clock::now();
        // The bound as it stands: a session that expires meanwhile ends the wait early (see
        // session_expired), and the connection is kept from then on as one without a session.
        const auto bound = [&](bool live) {
            return waiting_since +
                   (live ? settings_.connection_idle_timeout : settings_.sessionless_idle_timeout);
        };
        while (buffer_.size() == 0) {
            const bool live = has_live_session();  // a registry lookup: once per wait
            waiting_for_request_ = true;
            auto [ec, n] = co_await read_some(bound(live), deadline_error::http_idle, !live);
            waiting_for_request_ = false;
            if (ec == deadline_error::http_idle && clock::now() < bound(has_live_session()))
                continue;
            if (is_deadline(ec)) {
                context_.server.stats.count_timeout(ec);
                log::debug("http ", client_, ": ", ec.message(), ", closing");
                co_return false;
            }
            if (ec) co_return false;  // closed, reset, evicted
            buffer_.commit(n);
        }
        co_return true;
    }

    // Reads the header of a request whose first bytes are in buffer_ into `parser`, checking
    // its framing (check_request_framing) before Beast parses it. False when the connection is
    // to end; a reply, if any, is written then. The header must be complete within
    // request_header_timeout of serve_one's start, or 408.
    asio::awaitable<bool> read_header(request_parser& parser) {
        const auto header_due = clock::now() + settings_.request_header_timeout;
        for (;;) {
            const std::string_view data(static_cast<const char*>(buffer_.data().data()),
                                        buffer_.size());
            const auto end = data.find("\r\n\r\n");
            if (end == std::string_view::npos ? data.size() > header_limit
                                              : end + 4 > header_limit) {
                co_await refuse_framing("a header over 8 KiB");
                co_return false;
            }
            if (end != std::string_view::npos)
                co_return co_await parse_header(parser, data.substr(0, end + 4));
            auto [ec, n] = co_await read_some(header_due, deadline_error::request_header, false);
            if (ec == deadline_error::request_header) {
                co_await refuse_late(ec, settings_.request_header_timeout);
                co_return false;
            }
            if (ec) co_return false;  // closed, reset
            buffer_.commit(n);
        }
    }

    // Beast parses the header block `header` (at the front of buffer_) once its framing is
    // checked; the body, if any, is left in buffer_.
    asio::awaitable<bool> parse_header(request_parser& parser, std::string_view header) {
        const auto framing = check_request_framing(header);
        if (framing != framing_error::none) {
            co_await refuse_framing(framing_error_message(framing));
            co_return false;
        }
        error_code ec;
        buffer_.consume(parser.put(buffer_.data(), ec));
        if (ec == http::error::body_limit) {
            // Beast checks Content-Length against the bound as soon as the header is in.
            co_await refuse_too_large(parser.get());
            co_return false;
        }
        if (ec || !parser.is_header_done()) {
            // Named, not a temporary in the co_await: GCC 12 destroyed such a temporary string
            // twice (found by ASan).
            const std::string why = ec ? ec.message() : "an incomplete header";
            co_await refuse_framing(why);
            co_return false;
        }
        co_return true;
    }

    // True when the whole body of the request whose header `parser` has read is in buffer_.
    bool body_buffered(const request_parser& parser) const {
        if (parser.is_done()) return true;
        const auto length = parser.content_length();
        return length && *length <= buffer_.size();
    }

    // Reads the rest of the body into `parser`; false when the connection is to end. Each wait
    // for more of it is bounded by request_body_timeout (as nginx's client_body_timeout: between
    // two reads, not for the whole body, which max_body bounds).
    asio::awaitable<bool> read_body(request_parser& parser) {
        bool first = true;
        while (!parser.is_done()) {
            // A body larger than a segment: the client's last, partial segment waits for the
            // ACK of those before it (Nagle).
            if (!first && !body_buffered(parser)) quick_ack();
            first = false;
            // Beast reads into what buffer_ has free (at least 512 octets): room for what is left
            // of the body, up to the 16 KiB a read took before read_in_place, taken once.
            const auto left = parser.content_length_remaining().value_or(body_read_size);
            buffer_.reserve(std::min<std::uint64_t>(
                buffer_.max_size(), buffer_.size() + std::min(left, body_read_size)));
            bound_io(clock::now() + settings_.request_body_timeout);
            auto [read_ec, n] =
                co_await http::async_read_some(stream_, buffer_, parser, use_nothrow);
            const auto ec = io_finished(read_ec, deadline_error::request_body);
            if (ec == deadline_error::request_body) {
                co_await refuse_late(ec, settings_.request_body_timeout);
                co_return false;
            }
            if (ec == http::error::body_limit) {
                co_await refuse_too_large(parser.get());
                co_return false;
            }
            if (ec) co_return false;
        }
        co_return true;
    }

    // One read into buffer_ (its octets prepared, not committed), bounded by `due`. `evictable`:
    // the connection waits with no live session and may be closed meanwhile for a new socket (it
    // then answers operation_aborted). May read nothing, without an error.
    asio::awaitable<std::tuple<error_code, std::size_t>> read_some(clock::time_point due,
                                                                   deadline_error which,
                                                                   bool evictable) {
        // Never more than the buffer can take: header_limit is far below its bound.
        const auto space = std::min<std::size_t>(buffer_.max_size() - buffer_.size(), 16 * 1024);
        std::shared_ptr<idle_connections::entry> waiting;
        if (evictable) waiting = context_.idle.enter(lowest_layer(stream_), executor_);
        std::tuple<error_code, std::size_t> got;
        bound_io(due);
        if (reads_in_place_ && buffer_.size() == 0) {
            // Between requests on a plain socket the wait holds no buffer (a 16 KiB one prepared
            // for it was most of an idle RTMPT session's memory): it waits for the socket to be
            // readable, under the connection's one deadline timer, then reads what is there.
            auto [wait_ec] =
                co_await lowest_layer(stream_).async_wait(tcp::socket::wait_read, use_nothrow);
            const auto ec = io_finished(wait_ec, which);
            got = ec ? std::make_tuple(ec, std::size_t{0}) : read_ready(space);
        } else {
            auto [read_ec, n] =
                co_await stream_.async_read_some(buffer_.prepare(space), use_nothrow);
            got = std::make_tuple(io_finished(read_ec, which), n);
        }
        if (waiting && context_.idle.leave(*waiting)) {
            log::debug("http ", client_, ": idle without a session, closed to make room for a new ",
                       "connection (limits.max_connections)");
            co_return std::make_tuple(error_code(asio::error::operation_aborted), std::size_t{0});
        }
        co_return got;
    }

    // After a wait for the socket to be readable: reads what is there (nothing, on a spurious
    // wake-up) into the thread's buffer and keeps it in buffer_ at its size, prepared.
    std::tuple<error_code, std::size_t> read_ready(std::size_t space) {
        const auto scratch = read_scratch().first(space);
        error_code ec;
        const auto n = lowest_layer(stream_).read_some(asio::buffer(scratch.data(), space), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return {};
        if (!ec) std::memcpy(buffer_.prepare(n).data(), scratch.data(), n);
        return {ec, n};
    }

    // 408 and the connection ends: the request's header or body stopped coming for `timeout`.
    asio::awaitable<void> refuse_late(error_code deadline, milliseconds timeout) {
        context_.server.stats.count_timeout(deadline);
        log::debug("http ", client_, ": ", deadline.message(), " (", timeout.count(), "ms): 408");
        co_await write_reply(make_closing_reply(rtmpt_status::request_timeout));
    }

    // 400 and the connection ends: what follows cannot be told from a body.
    asio::awaitable<void> refuse_framing(std::string_view why) {
        context_.server.stats.refusals.add(refusal::bad_request_framing);
        log::debug("http ", client_, ": bad request: ", why);
        co_await write_reply(make_closing_reply(rtmpt_status::bad_request));
    }

    // True while a session opened or used on this connection lives: the connection is then kept
    // between requests as long as connection_idle_timeout, and never evicted.
    bool has_live_session() const {
        return !session_id_.empty() && context_.tunnels.find(session_id_) != nullptr;
    }

    // Coroutines here take buffers by reference and hand work to a session's strand through
    // named lambdas holding only shared pointers: GCC 12 destroyed a by-value vector parameter
    // twice when a lambda temporary inside a co_await moved it (found by ASan).
    asio::awaitable<response> dispatch(const protocol::rtmpt_request& r,
                                       const http::fields& headers,
                                       std::vector<std::uint8_t>& body) {
        using protocol::rtmpt_command;
        switch (r.command) {
            case rtmpt_command::ident:
                co_return make_reply(rtmpt_status::not_found);
            case rtmpt_command::open:
                co_return open_session(headers);
            case rtmpt_command::send:
            case rtmpt_command::idle:
                co_return co_await exchange(r, body);
            case rtmpt_command::close:
                co_return co_await close_session(r);
        }
        co_return make_reply(rtmpt_status::not_found);
    }

    response open_session(const http::fields& headers) {
        auto client = session_client(headers);
        auto& per_address = context_.server.per_address;
        // A trusted proxy whose header named no client opens for many: not limited per address.
        const bool limited =
            client.via() || !contains_any(context_.server.cfg.trusted_proxies, client.address());
        if (limited && !per_address.allow_open(client.address()))
            return refuse_open(client, refusal::max_opens_per_address,
                               "rtmpt.max_opens_per_second_per_address",
                               settings_.max_opens_per_second_per_address);
        auto place = limited ? per_address.take(address_limits::kind::session, client.address())
                             : std::optional<address_limits::place>(std::in_place);
        if (!place)
            return refuse_open(client, refusal::max_sessions_per_address,
                               "rtmpt.max_sessions_per_address",
                               settings_.max_sessions_per_address);
        auto session = context_.tunnels.open(asio::make_strand(context_.io), client, transport_,
                                             std::move(*place));
        if (!session) {
            context_.server.stats.refusals.add(refusal::max_sessions);
            log::warn("http ", client_, ": /open refused: ", settings_.max_sessions,
                      " sessions open");
            return make_reply(rtmpt_status::service_unavailable);
        }
        log::debug("http ", client_, ": opened session ", session->id(), " for ", client);
        session_id_ = session->id();
        if (auto listener = listen_for_expiry(*session))
            asio::post(session->strand(),
                       [session, listener] { session->add_expiry_listener(listener); });
        return make_reply(rtmpt_status::ok, protocol::make_rtmpt_open_reply(session->id()));
    }

    // 503 to an /open over a limit per address: counted every time, logged once per address
    // per interval (a client retrying in a loop would otherwise write a line per request).
    response refuse_open(const client_address& client, refusal why, const char* key,
                         std::size_t limit) {
        auto& per_address = context_.server.per_address;
        context_.server.stats.refusals.add(why);
        if (per_address.should_log(client.address()))
            log::warn("http ", client_, ": /open for ", client, " refused: ", key, " (", limit,
                      ") reached; further refusals of it counted, logged again in ",
                      per_address.settings().log_interval.count(), "ms at the earliest");
        return make_reply(rtmpt_status::service_unavailable);
    }

    // The client of a session /open makes: this connection's, or, when that is a trusted proxy,
    // the one its forwarded header (rtmpt.forwarded_header) names. Only /open is looked at: the
    // session keeps it whatever its later requests, on whatever connection, carry.
    client_address session_client(const http::fields& headers) const {
        const auto& trusted = context_.server.cfg.trusted_proxies;
        if (settings_.forwarded == forwarded_header::none ||
            !contains_any(trusted, client_.address()))
            return client_;
        const bool xff = settings_.forwarded == forwarded_header::x_forwarded_for;
        // Several lines of the header are one list, in order (RFC 9110 5.3); the header block's
        // 8 KiB bound bounds it.
        std::string value;
        const auto [first, last] = headers.equal_range(xff ? "X-Forwarded-For" : "Forwarded");
        for (auto line = first; line != last; ++line) {
            if (!value.empty()) value += ',';
            value += line->value();
        }
        if (value.empty()) return client_;
        const auto declared =
            forwarded_client(xff ? parse_x_forwarded_for(value) : parse_forwarded(value), trusted);
        if (!declared) {
            log::debug("http ", client_, ": /open: ", xff ? "X-Forwarded-For" : "Forwarded",
                       " names no believable client: ", value);
            return client_;
        }
        return client_address(*declared, client_.endpoint());
    }

    asio::awaitable<response> exchange(const protocol::rtmpt_request& r,
                                       std::vector<std::uint8_t>& body) {
        auto session = context_.tunnels.find(r.session_id);
        if (!session) co_return unknown_session();
        session_id_ = session->id();
        auto listener = listen_for_expiry(*session);
        const bool idle = r.command == protocol::rtmpt_command::idle;
        // The idle body is one 0x00 of padding.
        auto input = std::make_shared<std::vector<std::uint8_t>>(idle ? std::vector<std::uint8_t>()
                                                                      : std::move(body));
        // librtmp polls again the moment an empty /idle reply arrives: hold it until data comes,
        // the bound passes, or another request arrives behind it on this connection. A /send
        // reply is never held: a publisher would fall behind.
        std::shared_ptr<asio::steady_timer> waker;
        if (idle && buffer_.size() == 0 && !has_buffered_input(stream_))
            waker = std::make_shared<asio::steady_timer>(executor_, settings_.idle_hold);
        const std::optional<std::uint64_t> seq = r.sequence;
        // The poll byte, then what is pending, as slices of the session's blocks.
        auto take = [session] {
            response res;
            const auto poll_byte = session->next_poll_byte(session->has_output());
            const auto n = session->take_output(max_reply_output, res.output);
            res.head = protocol::make_rtmpt_poll_reply_head(poll_byte, n);
            return res;
        };
        // An /idle that finds output pending is answered in the same visit to the session's
        // strand; an /idle without output leaves its waker there; a /send visits twice, so
        // that the RTMP side has run on its bytes (a handshake, a command) and its answer can
        // go back with this reply rather than a poll later.
        struct accepted_take {
            tunnel::rtmpt_session::accepted accepted{};
            std::optional<response> reply;
        };
        auto accept = [session, seq, input, waker, idle, listener, &take] {
            if (listener) session->add_expiry_listener(listener);
            accepted_take a{session->accept(seq, std::move(*input)), std::nullopt};
            if (a.accepted == tunnel::rtmpt_session::accepted::refused) return a;
            if (idle && (session->has_output() || !waker))
                a.reply = take();
            else if (waker)
                session->add_waker(waker);
            return a;
        };
        auto a = co_await on_strand(*session, accept);
        if (a.accepted == tunnel::rtmpt_session::accepted::refused) co_return unknown_session();
        if (!a.reply) {
            if (waker) co_await hold(waker);
            a.reply = co_await on_strand(*session, take);
        }
        if (idle && a.reply->output.empty()) ++context_.server.stats.rtmpt_empty_idle_replies;
        co_return std::move(*a.reply);
    }

    // Holds an empty /idle reply until `waker` expires (the session moves its expiry when output
    // comes, by idle_coalesce, or it closes; idle_hold bounds it) or another request arrives on
    // this connection.
    asio::awaitable<void> hold(const std::shared_ptr<asio::steady_timer>& waker) {
        // The hold's own ACK now (a pipelining client with Nagle waits for it); the delayed ACK
        // would be sent during the hold anyway.
        quick_ack();
        auto& socket = lowest_layer(stream_);
        auto woken = std::make_shared<bool>(false);
        // Named, and the executor fetched first: GCC 12 destroyed a lambda temporary twice when
        // it shared a full-expression with a co_await (found by ASan).
        request_watch on_request{socket, executor_, woken, waker};
        socket.async_wait(tcp::socket::wait_read, asio::bind_executor(executor_, on_request));
        // The session moves the expiry earlier (output came, or it closed), which ends a wait.
        do {
            co_await waker->async_wait(use_nothrow);
        } while (!*woken && clock::now() < waker->expiry());
        if (!*woken) {
            *woken = true;  // the wait on the socket ends unheard
            error_code ignored;
            socket.cancel(ignored);
        }
    }

    // The connection's listener for the expiry of the sessions it carries (made once), when
    // `session` has not been given it yet; to be added on the session's strand.
    std::shared_ptr<tunnel::rtmpt_session::expiry_listener> listen_for_expiry(
        const tunnel::rtmpt_session& session) {
        if (listened_session_ == session.id()) return nullptr;
        listened_session_ = session.id();
        if (!expiry_listener_) {
            expiry_listener_ = std::make_shared<tunnel::rtmpt_session::expiry_listener>(
                tunnel::rtmpt_session::expiry_listener{executor_, [this, watch = watch_] {
                                                           if (watch->open) session_expired();
                                                       }});
        }
        return expiry_listener_;
    }

    // On the connection's strand, once a session it carried has expired: a wait for the next
    // request, bounded by connection_idle_timeout for that session's sake, ends now and is
    // looked at again (wait_for_request). A request being read is left alone.
    void session_expired() {
        if (!waiting_for_request_ || watch_->due == clock::time_point::max()) return;
        watch_->due = clock::now();
        watch_deadline();
    }

    // Ends a hold (cancels its waker) when the client sends the next request or closes. The
    // reactor is edge-triggered: a read that took octets without waiting (a speculative read, or
    // one after a wake-up that came before them) leaves their edge behind, and it wakes the next
    // wait with nothing to read. Such a wake-up arms the wait again.
    struct request_watch {
        tcp::socket& socket;
        asio::any_io_executor executor;
        std::shared_ptr<bool> woken;
        std::shared_ptr<asio::steady_timer> waker;

        void operator()(const error_code& ec) {
            if (ec || *woken) return;
            if (!readable_or_closed(socket)) {
                socket.async_wait(tcp::socket::wait_read, asio::bind_executor(executor, *this));
                return;
            }
            *woken = true;
            waker->cancel();
        }
    };

    // True when the socket has an octet to read, its peer has closed, or it has failed; false
    // when a read would block.
    static bool readable_or_closed(tcp::socket& socket) {
        std::uint8_t octet = 0;
        const auto n = ::recv(socket.native_handle(), &octet, 1, MSG_PEEK | MSG_DONTWAIT);
        return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }

    // 404 for a request naming no live session, or a sequence number the session refused.
    response unknown_session() {
        context_.server.stats.refusals.add(refusal::unknown_session);
        return make_reply(rtmpt_status::not_found);
    }

    asio::awaitable<response> close_session(const protocol::rtmpt_request& r) {
        auto session = context_.tunnels.find(r.session_id);
        if (!session) co_return unknown_session();
        const std::optional<std::uint64_t> seq = r.sequence;
        auto close = [session, seq, &tunnels = context_.tunnels] {
            session->accept(seq, {});
            tunnels.close(*session, "closed by client");
        };
        co_await on_strand(*session, close);
        co_return make_reply(rtmpt_status::ok, protocol::make_rtmpt_close_reply());
    }

    // 413, and the connection ends: the body is unread. The session keeps the request's number
    // open for a retry and skips it when the client goes on without one (session::refused).
    asio::awaitable<void> refuse_too_large(
        const http::request<http::vector_body<std::uint8_t>>& req) {
        const auto target = std::string(req.target());
        const auto parsed =
            protocol::parse_rtmpt_request(std::string_view(req.method_string()), target);
        if (parsed) co_await account_refused(*parsed);
        context_.server.stats.refusals.add(refusal::body_too_large);
        co_await write_reply(make_closing_reply(rtmpt_status::payload_too_large));
    }

    asio::awaitable<void> account_refused(const protocol::rtmpt_request& r) {
        if (r.command != protocol::rtmpt_command::send &&
            r.command != protocol::rtmpt_command::idle)
            co_return;
        auto session = context_.tunnels.find(r.session_id);
        if (!session) co_return;
        const std::optional<std::uint64_t> seq = r.sequence;
        auto account = [session, seq] { session->refused(seq); };
        co_await on_strand(*session, account);
    }

    // Runs `work` on the session's strand, where all of its state lives, and gives its result
    // (or rethrows what it threw) back on this connection's executor. Two handlers, one each
    // way, and no coroutine of its own: this runs once or twice per request. `work` lives in
    // the caller's frame until this completes.
    template <typename Work>
    static asio::awaitable<std::invoke_result_t<Work&>> on_strand(tunnel::rtmpt_session& session,
                                                                  Work& work) {
        using result = std::invoke_result_t<Work&>;
        if constexpr (std::is_void_v<result>) {
            auto run = [&work] {
                work();
                return true;
            };
            co_await on_strand(session, run);
        } else {
            // Named, not a temporary in the co_await (see hold).
            auto initiate = [&session, &work](auto handler) {
                asio::dispatch(session.strand(), [&work, handler = std::move(handler)]() mutable {
                    std::exception_ptr failure;
                    result r{};
                    try {
                        r = work();
                    } catch (...) {
                        failure = std::current_exception();
                    }
                    auto back = asio::get_associated_executor(handler);
                    asio::dispatch(
                        back, [handler = std::move(handler), failure, r = std::move(r)]() mutable {
                            std::move(handler)(failure, std::move(r));
                        });
                });
            };
            co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                                    void(std::exception_ptr, result)>(
                initiate, asio::use_awaitable);
        }
    }

    // One gathered write: head, body and output slices, in place. False when the connection is
    // to end.
    asio::awaitable<bool> write_reply(response res) {
        buffers_.clear();
        buffers_.push_back(asio::buffer(res.head));
        if (!res.body.empty()) buffers_.push_back(asio::buffer(res.body));
        for (const auto& slice : res.output) buffers_.push_back(slice.buffer());
        bound_io(clock::now() + settings_.write_timeout);
        auto [write_ec, n] = co_await asio::async_write(stream_, buffers_, use_nothrow);
        const auto ec = io_finished(write_ec, deadline_error::client_write);
        if (ec) write_failed(ec);
        co_return !ec && res.keep_alive;
    }

    // A write that did not complete: counted and logged when its deadline ended it (a client
    // that stopped reading); a closed socket is the client's ordinary leave.
    void write_failed(const error_code& ec) {
        if (!context_.server.stats.count_timeout(ec)) return;
        log::info("http ", client_, ": a reply's write made no progress for ",
                  settings_.write_timeout.count(), "ms (rtmpt.write_timeout): closed");
    }

    // ffmpeg writes headers and body in two send()s; with delayed ACKs on our side that costs
    // ~40 ms per request. TCP_QUICKACK is not sticky, so it is set again after every read.
    void quick_ack() {
        if (!settings_.quick_ack) return;
        int one = 1;
        ::setsockopt(lowest_layer(stream_).native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one,
                     sizeof one);
    }

    Stream& stream_;
    const client_address client_;  // fixed where the connection was accepted
    const char* transport_;
    http_front_context& context_;
    web::web_context web_{context_.server, context_.player};
    const config::rtmpt_t& settings_;
    beast::flat_buffer buffer_{64 * 1024};
    // A plain socket in non-blocking mode: read_some waits for octets before it takes a buffer.
    bool reads_in_place_ = false;
    bool waiting_for_request_ = false;  // in wait_for_request's read
    std::shared_ptr<tunnel::rtmpt_session::expiry_listener> expiry_listener_;
    std::size_t last_body_size_ = 0;           // of the last request read whole
    std::string session_id_;                   // the last session opened or used here
    std::string listened_session_;             // the last one given expiry_listener_
    std::vector<asio::const_buffer> buffers_;  // write_reply's, reused
    asio::any_io_executor executor_;           // the connection's strand
    // The deadline of the read in progress (watch_deadline); its handlers share the state.
    asio::steady_timer read_timer_{stream_.get_executor(), clock::time_point::max()};
    std::shared_ptr<read_watch> watch_ = std::make_shared<read_watch>();
};

}  // namespace

asio::awaitable<void> serve_http(tcp::socket socket, client_address client,
                                 http_front_context& context,
                                 std::span<const std::uint8_t> received) {
    http_connection<tcp::socket> c(socket, std::move(client), "rtmpt", context);
    co_await c.run(received);
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> serve_https(asio::ssl::stream<tcp::socket>& stream, client_address client,
                                  std::span<const std::uint8_t> received,
                                  http_front_context& context) {
    http_connection<asio::ssl::stream<tcp::socket>> c(stream, std::move(client), "rtmpts", context);
    co_await c.run(received);
}

}  // namespace rtmpgate::gateway::front
