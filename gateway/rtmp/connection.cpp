#include "gateway/rtmp/connection.hpp"

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include "gateway/access/gate.hpp"
#include "gateway/access/token.hpp"
#include "gateway/backend/link.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/read_scratch.hpp"
#include "gateway/rtmp/error.hpp"
#include "gateway/upstream/push.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::rtmp {

using namespace asio::experimental::awaitable_operators;
using protocol::message;
using protocol::message_type;

namespace {

// A player sends a few hundred octets a minute and a publisher megabits a second: the read buffer
// of a stream that cannot read in place starts small and doubles, up to its largest size, each
// time a read fills it.
constexpr std::size_t read_buffer_first_size = 2 * 1024;
constexpr std::size_t read_buffer_size = 64 * 1024;

// One write gathers messages up to this many payload bytes.
constexpr std::size_t write_batch_bytes = 256 * 1024;
// What a client may send between its C2 and the end of its connect command. ffmpeg, librtmp and
// OBS send a Set Chunk Size and connect, a few hundred bytes.
constexpr std::size_t max_bytes_before_connect = 64 * 1024;
// Publish and play requests one connection may have decided: each may call a hook, and a client
// that asks again and again would otherwise take a hook's max_concurrent from everyone else.
// (A session plays or publishes 16 streams at most.)
constexpr unsigned max_decisions_per_connection = 32;

std::atomic<std::uint64_t> next_connection_number{1};

// Vectors that a connection needs only between two suspensions (the messages one read completed):
// one per thread, shared by its connections, so that an idle connection keeps none of their
// capacity. `Tag` tells apart two of one type. Not inlined: a
// coroutine that resumes on another thread must not reuse a thread-local address computed before.
template <typename T, int Tag>
[[gnu::noinline]] std::vector<T>& thread_scratch() {
    thread_local std::vector<T> v;
    return v;
}

// Empties a thread_scratch vector when its user is done (whatever the way out), so that it holds
// no payload meanwhile; it is empty when taken too.
template <typename T>
class scratch_user {
public:
    explicit scratch_user(std::vector<T>& v) : v_(v) { v_.clear(); }
    ~scratch_user() { v_.clear(); }
    scratch_user(const scratch_user&) = delete;
    scratch_user& operator=(const scratch_user&) = delete;

private:
    std::vector<T>& v_;
};

protocol::chunk_decoder_limits decoder_limits(const config& c) {
    return {.max_chunk_size = c.limits.max_chunk_size,
            .max_message_length = c.limits.max_message_length,
            .max_chunk_streams = c.limits.max_chunk_streams,
            .max_partial_bytes = c.limits.max_partial_message_bytes};
}

std::uint32_t epoch_now() {
    using namespace std::chrono;
    return static_cast<std::uint32_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// What the close line calls a message that could not be served ("connect: amf: ...").
const char* input_name(const message& m, bool connected) {
    if (protocol::is_control(m)) return "control message";
    if (!connected) return "connect";  // only commands reach on_connect
    switch (m.type()) {
        case message_type::command_amf0:
        case message_type::command_amf3:
            return "command";
        case message_type::data_amf0:
        case message_type::data_amf3:
            return "data message";
        case message_type::aggregate:
            return "aggregate";
        default:
            return "message";
    }
}

}  // namespace

connection::connection(std::unique_ptr<byte_stream> stream, asio::any_io_executor strand,
                       server_context& context)
    : stream_(std::move(stream)),
      strand_(std::move(strand)),
      context_(context),
      id_("conn " + std::to_string(next_connection_number++)),
      decoder_(decoder_limits(context.cfg), &context.partial_messages),
      queue_(context.cfg.engine.player_queue_bytes),
      wake_(strand_),
      watchdog_(strand_) {}

connection::~connection() = default;

void connection::shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
        self->end_reason_ = "shutdown";
        self->closing_ = true;
        self->stream_->close();
        self->wake_writer();
    });
}

asio::awaitable<void> connection::run() {
    registration_ = context_.connections.add(weak_from_this());
    log::info(id_, ": open ", stream_->transport(), " from ", stream_->client());
    try {
        co_await serve();
    } catch (const std::exception& e) {
        // The last guard of the connection's coroutine: the close line below logs it.
        end_reason_ = std::string("error: ") + e.what();
        ++context_.stats.connections_failed;
    }
    stop_watchdog();
    if (session_) {
        session_->stop();
    }
    stream_->close();
    if (context_.access && route_)
        for (const auto& r : granted_) context_.access->ended(r, *route_);
    context_.connections.remove(registration_);
    context_.stats.media_dropped_messages += queue_.dropped_messages();
    context_.stats.media_dropped_bytes += queue_.dropped_bytes();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started_).count();
    log::info(id_, ": close ", stream_->transport(), " peer=", stream_->client().to_string(),
              " app=", log::quoted(app_),
              " stream=", log::quoted(session_ ? session_->stream_name() : std::string()), " role=",
              session_         ? session_->role()
              : backend_route_ ? "proxy"
                               : "none",
              " in=", bytes_in_, " out=", bytes_out_, " dropped=", queue_.dropped_messages(),
              " duration=", ms / 1000, ".", (ms % 1000) / 100, "s reason=", end_reason_);
    session_.reset();
}

asio::awaitable<void> connection::serve() {
    std::vector<std::uint8_t> leftover;
    auto shaken = co_await with_deadline(handshake(leftover), context_.cfg.limits.handshake_timeout,
                                         deadline_error::handshake);
    if (!shaken) {
        end_reason_ = shaken.error().message();
        context_.stats.count_timeout(shaken.error());
        co_return;
    }
    if (!*shaken) co_return;
    // The writer runs beside the reads as a coroutine of its own on the strand, and whichever
    // ends first ends the other, as with operator|| (which costs two more coroutines and their
    // frames per connection). A writer that ends (flushed before a close, a write failed, the
    // connection closing) closes the stream under the reads; reads that end (the peer left, or
    // a backend route takes the stream) cancel the writer, and wait for it.
    // The signal lives as long as the writer's completion (where the writer's cancellation
    // slot points), even if the io_context is destroyed with both coroutines suspended.
    const auto stop_writer = std::make_shared<asio::cancellation_signal>();
    asio::steady_timer writer_ended(strand_, asio::steady_timer::time_point::max());
    bool writing = true;
    bool reading = true;
    asio::co_spawn(strand_, write_loop(),
                   asio::bind_cancellation_slot(
                       stop_writer->slot(),
                       asio::bind_executor(strand_, [&, stop_writer](const std::exception_ptr&) {
                           writing = false;
                           if (reading) stream_->close();
                           writer_ended.cancel();
                       })));
    std::exception_ptr failure;
    try {
        co_await read_loop(std::move(leftover));
    } catch (...) {
        failure = std::current_exception();  // rethrown once the writer has ended
    }
    reading = false;
    stop_watchdog();
    if (writing) stop_writer->emit(asio::cancellation_type::terminal);
    while (writing) co_await writer_ended.async_wait(use_nothrow);
    if (failure) std::rethrow_exception(failure);
    if (backend_route_) co_await run_backend_link();
}

asio::awaitable<void> connection::run_backend_link() {
    const auto& target = backend_route_->backend;
    // The route's access settings for publish and play: the link holds each until it is decided.
    backend::stream_decider decide;
    const auto& policy = route_->access;
    if (context_.access && (access::decides(policy, access::action::publish) ||
                            access::decides(policy, access::action::play) ||
                            access::notifies(policy, access::action::publish) ||
                            access::notifies(policy, access::action::play))) {
        decide = [this](access::action what,
                        std::string stream) -> asio::awaitable<access::decision> {
            auto request = access_request(what, std::move(stream));
            access::decision d;
            if (access::decides(route_->access, what))
                d = co_await context_.access->decide(request, *route_);
            if (d.allowed && d.backend) {
                // The link is already the route's backend's: another one could only come from
                // an on_connect hook.
                d.allowed = false;
                d.detail = "the hook named a backend, which only an on_connect hook can do";
            }
            if (!d.allowed) {
                refused(refusal::access_denied);
                co_return d;
            }
            if (!d.rename.empty()) request.stream = d.rename;
            if (access::notifies(route_->access, what)) granted_.push_back(std::move(request));
            co_return d;
        };
    }
    auto result = co_await backend::run_link(*stream_, std::move(replay_), target, context_,
                                             std::move(decide));
    // On shutdown the link ends with the client's stream closed under it: say "shutdown".
    if (!closing_) end_reason_ = "backend " + result.reason;
    if (result.spliced) {
        // Once per link, like a failure before the splice: the backend ended a live link.
        if (result.backend_failed)
            log::warn(id_, ": app ", log::quoted(app_), " backend ended the link: ", result.reason);
        co_return;
    }
    log::warn(id_, ": app ", log::quoted(app_), " backend failed: ", result.reason);
    // The client is still waiting for connect's reply: tell it, with chunk size 128 as nothing
    // has been sent to it yet.
    protocol::chunk_encoder encoder;
    std::vector<std::uint8_t> bytes;
    encoder.encode(protocol::make_error(connect_transaction_, "NetConnection.Connect.Failed",
                                        "Backend unavailable."),
                   bytes);
    const asio::const_buffer out[] = {asio::buffer(bytes)};
    co_await stream_->write(out);
    ++context_.stats.connections_failed;
}

asio::awaitable<bool> connection::handshake(std::vector<std::uint8_t>& leftover) {
    protocol::handshake_server hs(epoch_now());
    std::vector<std::uint8_t> buffer(4096);
    std::vector<std::uint8_t> reply;
    while (!hs.done()) {
        auto [ec, n] = co_await stream_->read_some(asio::buffer(buffer));
        if (ec) {
            end_reason_ = "closed during handshake";
            co_return false;
        }
        bytes_in_ += n;
        context_.stats.bytes_in += n;
        std::span<const std::uint8_t> in(buffer.data(), n);
        protocol::error_code perr;
        reply.clear();
        const auto used = hs.feed(in, reply, perr);
        if (perr && perr != protocol::error::need_more) {
            end_reason_ = "handshake: " + perr.message();
            ++context_.stats.connections_failed;
            co_return false;
        }
        if (!reply.empty()) {
            const asio::const_buffer out[] = {asio::buffer(reply)};
            auto [wec, written] = co_await stream_->write(out);
            if (wec) {
                end_reason_ = "write failed during handshake";
                co_return false;
            }
            bytes_out_ += written;
            context_.stats.bytes_out += written;
        }
        if (hs.done()) leftover.assign(in.begin() + static_cast<std::ptrdiff_t>(used), in.end());
    }
    co_return true;
}

asio::awaitable<void> connection::read_loop(std::vector<std::uint8_t> leftover) {
    // Bad input ends this loop normally, with an error code and not an exception (which is for
    // what cannot be foreseen, such as memory exhausted).
    error_code bad = leftover.empty() ? error_code() : on_bytes(leftover);
    std::vector<std::uint8_t>().swap(leftover);  // the frame lives as long as the connection
    while (!bad && deciding_ && !closing_) bad = co_await decide_held();
    // After the handshake's last read is served: a connect that came with it meets no deadline.
    if (!bad && !backend_route_) watch();
    // Used only where the stream cannot read in place (TLS).
    std::vector<std::uint8_t> buffer;
    // Once connect has chosen a backend route, the link takes the stream from here.
    while (!bad && !backend_route_ && !closing_) {
        std::span<std::uint8_t> into;
        error_code ec;
        std::size_t n = 0;
        if (stream_->reads_in_place()) {
            // No buffer of this connection's own waits with the read: the octets go into the
            // thread's (net/read_scratch.hpp) and are decoded, copied where they are kept, before
            // the next co_await.
            ec = co_await stream_->wait_readable();
            if (!ec) {
                into = read_scratch().first(read_buffer_size);
                n = stream_->try_read_some(asio::buffer(into.data(), into.size()), ec);
                if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            }
        } else {
            if (buffer.empty()) buffer.resize(read_buffer_first_size);
            into = buffer;
            std::tie(ec, n) = co_await stream_->read_some(asio::buffer(buffer));
        }
        if (ec) {
            if (ec != asio::error::eof && !closing_) end_reason_ = ec.message();
            co_return;
        }
        const bool filled =
            !buffer.empty() && n == buffer.size() && buffer.size() < read_buffer_size;
        last_read_ = clock::now();
        ping_sent_ = false;
        bytes_in_ += n;
        context_.stats.bytes_in += n;
        bad = on_bytes({into.data(), n});
        while (!bad && deciding_ && !closing_) bad = co_await decide_held();
        if (filled && !bad && !backend_route_) buffer.resize(buffer.size() * 2);
    }
    if (bad) ++context_.stats.connections_failed;
}

error_code connection::refuse(error_code ec, const char* input) {
    end_reason_ = input ? std::string(input) + ": " + ec.message() : ec.message();
    return ec;
}

error_code connection::on_bytes(std::span<const std::uint8_t> bytes) {
    if (!connected_) {
        if (replay_.size() + bytes.size() > max_bytes_before_connect)
            return refuse(error::no_connect);
        replay_.insert(replay_.end(), bytes.begin(), bytes.end());
    }
    protocol::error_code ec;
    auto& decoded = thread_scratch<message, 0>();
    const scratch_user done_with_decoded{decoded};
    decoder_.feed(bytes, decoded, ec);
    // Messages completed before a broken chunk are still served; then the connection ends.
    for (const auto& m : decoded) {
        if (backend_route_) break;  // what follows connect is the backend's to read
        // A message that fails leaves connected_ as it was: the name fits the message.
        if (auto mec = on_message(m)) return refuse(mec, input_name(m, connected_));
    }
    if (backend_route_) {
        // The link replays those bytes: what the decoder holds of them no longer counts against
        // the process's partial messages.
        decoder_.drop_partial();
        return {};
    }
    if (ec && ec != protocol::error::need_more) {
        if (ec == protocol::error::partial_bytes_over_limit) {
            context_.stats.refusals.add(refusal::max_partial_message_bytes);
            end_reason_ = "partly received messages above limits.max_partial_message_bytes (" +
                          std::to_string(context_.cfg.limits.max_partial_message_bytes) + ")";
            return ec;
        }
        if (ec == protocol::error::partial_bytes_over_budget) {
            context_.stats.refusals.add(refusal::max_partial_message_bytes_total);
            end_reason_ =
                "partly received messages of all connections above "
                "limits.max_partial_message_bytes_total (" +
                std::to_string(context_.cfg.limits.max_partial_message_bytes_total) + ")";
            return ec;
        }
        return refuse(ec, "chunk stream");
    }
    // RTMP 1.0 spec 5.4.3: acknowledge every window's worth of received bytes.
    if (peer_window_ != 0 && bytes_in_ - acknowledged_ >= peer_window_) {
        acknowledged_ = bytes_in_;
        send(protocol::make_acknowledgement(static_cast<std::uint32_t>(bytes_in_)));
    }
    return {};
}

error_code connection::on_message(const message& m) {
    if (access_refused_) return {};  // closing once the refusal is out
    if (protocol::is_control(m)) return on_control(m);
    if (deciding_) {
        held_.push_back(m);  // behind the request being decided
        return {};
    }
    if (session_ && needs_decision(m)) {
        // To the front: when held_ is being replayed, what it still holds came after `m`.
        held_.push_front(m);
        deciding_ = true;
        return {};
    }
    if (!connected_) {
        if (m.type() == message_type::command_amf0 || m.type() == message_type::command_amf3)
            return on_connect(m);
        return {};  // nothing but connect means anything before connect
    }
    if (session_) return session_->on_message(m);
    return {};
}

error_code connection::on_control(const message& m) {
    auto c = protocol::parse_control(m);
    if (!c) return c.error();
    switch (c->type) {
        case message_type::window_ack_size:
            peer_window_ = c->value;
            break;
        case message_type::user_control:
            if (c->event == protocol::user_control_event::ping_request)
                send(protocol::make_user_control(protocol::user_control_event::ping_response,
                                                 c->value));
            break;
        default:
            break;  // chunk size and abort are the decoder's; acknowledgements need nothing
    }
    return {};
}

error_code connection::on_connect(const message& m) {
    auto c = protocol::parse_command(m);
    if (!c) return c.error();
    if (c->name != "connect") return {};  // some clients send calls before connect; ignore them
    auto connect = protocol::parse_connect(*c);
    if (!connect) return connect.error();
    connected_ = true;
    // Before any route is chosen or backend contacted, whatever carried the connect.
    const auto& limits = context_.cfg.limits;
    if (const char* field = protocol::oversized_connect_field(
            *connect, {.max_name = limits.max_name_length, .max_url = limits.max_url_length})) {
        const bool app = std::string_view(field) == "app";
        const auto limit = std::to_string(app ? limits.max_name_length : limits.max_url_length);
        send(protocol::make_error(c->transaction_id, "NetConnection.Connect.Rejected",
                                  std::string(field) + " longer than " + limit + " bytes."));
        close_refused(refusal::connect_string_too_long,
                      std::string("connect: ") + field + " over limits." +
                          (app ? "max_name_length" : "max_url_length") + " (" + limit + ")");
        return {};
    }
    app_ = connect->app.substr(0, connect->app.find('?'));
    const route* r = context_.cfg.find_route(app_);
    if (!r) {
        log::info(id_, ": app ", log::quoted(app_), " matches no route");
        refused(refusal::no_route);
        reject(c->transaction_id, "NetConnection.Connect.Rejected",
               "No route for this application.");
        return {};
    }
    route_ = r;
    connect_ = std::move(*connect);
    if (context_.access && access::decides(r->access, access::action::connect)) {
        held_.push_front(m);
        deciding_ = true;
        return {};
    }
    route_connect(std::nullopt);
    return {};
}

void connection::route_connect(const std::optional<backend_target>& hook_backend) {
    const auto& connect = *connect_;
    if (hook_backend) {
        hook_route_ = *route_;
        hook_route_->to_engine = false;
        hook_route_->backend = *hook_backend;
    }
    const route* r = hook_route_ ? &*hook_route_ : route_;
    if (!r->to_engine) {
        backend_route_ = r;
        // The link replays the bytes: what the decoder holds of them no longer counts against
        // the process's partial messages (also when a hook's decision routed it here).
        decoder_.drop_partial();
        connect_transaction_ = connect.transaction_id;
        log::info(id_, ": connect app=", log::quoted(app_),
                  " flashVer=", log::quoted(connect.flash_ver), " to ",
                  r->backend.tls ? "rtmps://" : "rtmp://", r->backend.host, ":", r->backend.port);
        return;
    }
    std::vector<std::uint8_t>().swap(replay_);
    const auto& e = context_.cfg.engine;
    session_ = std::make_shared<engine::session>(
        *this, strand_, context_.streams,
        engine::session_settings{e.chunk_size, e.window_ack_size, e.peer_bandwidth,
                                 context_.cfg.limits.max_name_length},
        id_, engine::publisher_info{stream_->transport(), stream_->client().to_string()});
    session_->start(connect);
    log::info(id_, ": connect app=", log::quoted(app_), " tcUrl=", log::quoted(connect.tc_url),
              " flashVer=", log::quoted(connect.flash_ver));
}

std::optional<access::action> connection::needs_decision(const message& m) {
    if (!context_.access || !route_ || access_refused_) return std::nullopt;
    if (m.type() != message_type::command_amf0 && m.type() != message_type::command_amf3)
        return std::nullopt;
    // A route with nothing to decide or tell costs nothing more per command.
    const auto& policy = route_->access;
    const auto concerns = [&](access::action a) {
        return access::decides(policy, a) || access::notifies(policy, a);
    };
    if (!concerns(access::action::publish) && !concerns(access::action::play)) return std::nullopt;
    // Only the name is read here; the session parses the command again when it serves it.
    auto c = protocol::parse_command(m);
    if (!c) return std::nullopt;  // the session meets the same error and ends the connection
    std::optional<access::action> what;
    if (c->name == "publish") what = access::action::publish;
    if (c->name == "play" || c->name == "play2") what = access::action::play;
    if (what && concerns(*what)) return what;
    return std::nullopt;
}

access::request connection::access_request(access::action what,
                                           std::string stream_with_query) const {
    access::request r;
    r.what = what;
    r.app = app_;
    const auto q = stream_with_query.find('?');
    r.stream = stream_with_query.substr(0, q);
    const std::string_view stream_query = q == std::string::npos
                                              ? std::string_view()
                                              : std::string_view(stream_with_query).substr(q + 1);
    std::string_view connect_query;
    if (connect_) {
        // The connect URL's query: in the app ("live?token=x", as ffmpeg sends a URL's query
        // before the stream name) or, failing that, in tcUrl.
        for (std::string_view text :
             {std::string_view(connect_->app), std::string_view(connect_->tc_url)}) {
            if (const auto at = text.find('?'); at != std::string_view::npos) {
                connect_query = text.substr(at + 1);
                break;
            }
        }
    }
    // A query that cannot be decoded gives no arguments: a token in it is missing.
    if (auto args = access::parse_query(stream_query)) r.args = std::move(*args);
    r.stream_args = r.args.size();
    if (auto args = access::parse_query(connect_query))
        r.args.insert(r.args.end(), args->begin(), args->end());
    r.client = stream_->client();
    r.transport = stream_->transport();
    r.route = route_ ? route_->app : std::string();
    r.connection_id = id_;
    return r;
}

asio::awaitable<error_code> connection::decide_held() {
    deciding_ = false;  // whatever the way out; a message served below may start the next one
    if (held_.empty()) co_return error_code{};
    const message m = std::move(held_.front());
    held_.pop_front();
    auto what = access::action::connect;
    std::string name;
    if (session_) {
        auto c = protocol::parse_command(m);
        if (!c) co_return refuse(c.error(), "command");
        if (c->name == "publish") {
            auto p = protocol::parse_publish(*c);
            if (!p) co_return refuse(p.error(), "command");
            what = access::action::publish;
            name = p->name;
        } else if (c->name == "play2") {
            auto p = protocol::parse_play2(*c);
            if (!p) co_return refuse(p.error(), "command");
            what = access::action::play;
            name = p->stream_name;
        } else {
            auto p = protocol::parse_play(*c);
            if (!p) co_return refuse(p.error(), "command");
            what = access::action::play;
            name = p->name;
        }
    }
    std::optional<backend_target> hook_backend, push_to;
    std::string granted_name;
    // A name over limits.max_name_length is the session's to refuse, with its own reason.
    std::optional<access::request> grant;
    if (what != access::action::connect && ++decisions_ > max_decisions_per_connection) {
        refuse_access(what, m,
                      "more than " + std::to_string(max_decisions_per_connection) +
                          " publish and play requests on one connection");
        co_return error_code{};
    }
    if (what == access::action::connect || name.size() <= context_.cfg.limits.max_name_length) {
        auto request = access_request(what, name);
        const auto d = co_await context_.access->decide(request, *route_);
        deciding_ = false;
        if (closing_) co_return error_code{};
        if (!d.allowed) {
            refuse_access(what, m,
                          d.detail.empty() ? std::string(access::reason_name(d.why)) : d.detail);
            co_return error_code{};
        }
        if (what == access::action::connect) {
            hook_backend = d.backend;
        } else {
            if (d.backend && what == access::action::publish) {
                // Routing by stream key on an engine route: the engine takes the stream as
                // always and pushes it to the backend the hook named (upstream/push.hpp).
                push_to = d.backend;
            } else if (d.backend) {
                // A backend for a play of a connection the engine serves: the engine cannot
                // hand its client over, and serving it here would not be what the hook asked.
                refuse_access(what, m,
                              "the hook named a backend for a play, which only an on_connect "
                              "hook can do");
                co_return error_code{};
            }
            if (d.rename.size() > context_.cfg.limits.max_name_length) {
                refuse_access(what, m,
                              "the hook renamed the stream to a name over limits.max_name_length");
                co_return error_code{};
            }
            if (!d.rename.empty()) {
                session_->rename_next(d.rename);
                request.stream = d.rename;
            }
            granted_name = request.stream;
            if (access::notifies(route_->access, what)) grant = std::move(request);
        }
    }
    if (what == access::action::connect) {
        route_connect(hook_backend);
        if (backend_route_) {
            // What followed connect is in replay_: the link sends it on unchanged.
            held_.clear();
            co_return error_code{};
        }
    } else if (auto ec = session_->on_message(m)) {
        co_return refuse(ec, "command");
    } else if (!session_->serves(m.message_stream_id)) {
        // The session refused it after all (a name already published, a stream id in use): no
        // done hook will be owed, and nothing is pushed.
    } else if (grant) {
        granted_.push_back(std::move(*grant));
    }
    if (push_to && session_ && session_->serves(m.message_stream_id)) {
        if (auto published = session_->published_on(m.message_stream_id))
            upstream::start_push(context_, strand_, std::move(published), *push_to, app_,
                                 granted_name, id_);
    }
    // Then what waited behind it, until the next request that must be decided.
    while (!held_.empty() && !deciding_ && !closing_) {
        const message next = std::move(held_.front());
        held_.pop_front();
        if (auto ec = on_message(next)) co_return refuse(ec, input_name(next, connected_));
    }
    co_return error_code{};
}

void connection::refuse_access(access::action what, const message& m, const std::string& why) {
    held_.clear();
    switch (what) {
        case access::action::connect:
            send(protocol::make_error(connect_->transaction_id, "NetConnection.Connect.Rejected",
                                      "Access denied: " + why + "."));
            break;
        case access::action::publish:
            send(protocol::make_on_status(m.message_stream_id, "error", "NetStream.Publish.BadName",
                                          "Access denied: " + why + "."));
            break;
        default:
            send(protocol::make_on_status(m.message_stream_id, "error", "NetStream.Play.Failed",
                                          "Access denied: " + why + "."));
            break;
    }
    if (session_) session_->stop();  // nothing more is served
    access_refused_ = true;
    close_refused(refusal::access_denied,
                  std::string(access::action_name(what)) + " refused: " + why);
}

void connection::reject(double transaction_id, const char* code, const std::string& description) {
    send(protocol::make_error(transaction_id, code, description));
    end_reason_ = code;
    close_after_flush();
}

void connection::send(message m) {
    send_media(std::move(m), engine::media_class::essential);
    wake_writer();
}

void connection::send_media(message m, engine::media_class c) {
    if (closing_) return;
    queue_.push(std::move(m), c);
    if (queue_.overflowed()) {
        // What can never be dropped has piled up: the peer reads nothing. End it here rather
        // than hold its messages without bound.
        end_reason_ = "output queue overflow";
        closing_ = true;
        stream_->close();
        wake_writer();
    }
}

void connection::close_after_flush() {
    close_after_flush_ = true;
    wake_writer();
}

void connection::close_refused(refusal why, std::string reason) {
    refused(why);
    end_reason_ = std::move(reason);
    close_after_flush();
}

void connection::refused(refusal why) { context_.stats.refusals.add(why); }

void connection::wake_writer() {
    // Once per wait: the timer's cancellation is a reactor lock and a completion to run.
    if (!writer_waiting_) return;
    writer_waiting_ = false;
    wake_.cancel();
}

void connection::flush() {
    if (!writer_waiting_ || closing_ || queue_.empty()) return;
    // The writer waits with nothing in hand: write here, without waking it, what the socket
    // takes at once (what a player's send buffer almost always does). That spares, per burst of
    // media per player, the timer's cancellation, the writer's resumption and an asynchronous
    // write's frame. What does not fit, or a stream that cannot write at once, is the writer's.
    batch_.fill(queue_, encoder_, write_batch_bytes);
    while (!batch_.empty()) {
        const auto n = stream_->write_now(batch_.buffers());
        if (n == 0) break;
        batch_.consume(n);
        bytes_out_ += n;
        context_.stats.bytes_out += n;
    }
    if (batch_.empty()) {
        batch_.clear();
        if (queue_.empty()) return;
    }
    wake_writer();
}

asio::awaitable<void> connection::write_loop() {
    while (!closing_) {
        if (batch_.empty()) {
            if (queue_.empty()) {
                if (close_after_flush_) {
                    // The reads cancelled now are no reason of their own: keep the one given.
                    closing_ = true;
                    co_return;
                }
                wake_.expires_at(asio::steady_timer::time_point::max());
                writer_waiting_ = true;
                co_await wake_.async_wait(use_nothrow);
                writer_waiting_ = false;
                continue;
            }
            batch_.fill(queue_, encoder_, write_batch_bytes);
        }
        // What flush() left of a batch is written first: the peer reads chunks in encoding order.
        auto [ec, n] = co_await stream_->write_shared(batch_.buffers(), batch_.payloads());
        batch_.clear();
        if (ec) {
            if (!closing_) end_reason_ = "write: " + ec.message();
            co_return;
        }
        bytes_out_ += n;
        context_.stats.bytes_out += n;
    }
}

void connection::time_out(deadline_error which) {
    const error_code ec = which;
    end_reason_ = ec.message();
    context_.stats.count_timeout(ec);
    // The reads and writes ended next by the closed stream fail: not the reason.
    closing_ = true;
    stream_->close();
    wake_writer();
}

void connection::watch() {
    watching_ = true;
    on_watchdog();
}

void connection::stop_watchdog() {
    watching_ = false;
    watchdog_.cancel();
}

// Reads only move last_read_; the timer is not touched per read. It sleeps until the earliest
// deadline known when it was set, and on waking works out from last_read_ whether one has really
// passed or activity has moved it, and sleeps again.
void connection::on_watchdog() {
    if (!watching_ || closing_) return;
    const auto& limits = context_.cfg.limits;
    const auto connect_by = started_ + limits.handshake_timeout;
    const auto now = clock::now();
    const auto idle_at = last_read_ + limits.idle_timeout;
    const auto ping_at = last_read_ + limits.idle_timeout / 2;
    if (!connected_ && now >= connect_by) {
        time_out(deadline_error::connect_command);
        return;
    }
    if (now >= idle_at) {
        time_out(deadline_error::client_idle);
        return;
    }
    // A player waiting for a stream sends nothing: ask it to prove it is alive, as nginx-rtmp
    // does with its ping; ffmpeg and librtmp answer PingRequest.
    if (connected_ && !ping_sent_ && now >= ping_at) {
        ping_sent_ = true;
        send(protocol::make_user_control(protocol::user_control_event::ping_request, epoch_now()));
    }
    auto wake = idle_at;
    if (!connected_) wake = std::min(wake, connect_by);
    // Before connect there is no ping to send, but waking at ping_at still matters: connect comes
    // with a read (or in the handshake's last read, which read_loop handles before it first
    // arms the timer), and the ping is then due half an idle_timeout after that read; waking at
    // ping_at if still ahead, else at idle_at, is never later.
    if (!ping_sent_ && ping_at > now) wake = std::min(wake, ping_at);
    watchdog_.expires_at(wake);
    // The handler holds the connection: stop_watchdog(), on every way out of run(), cancels it.
    watchdog_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->on_watchdog();
    });
}

}  // namespace rtmpgate::gateway::rtmp
