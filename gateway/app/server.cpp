#include "gateway/app/server.hpp"

#include <sys/resource.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <stdexcept>
#include <thread>

#include "gateway/access/gate.hpp"
#include "gateway/admin/admin_http.hpp"
#include "gateway/front/proxy_header.hpp"
#include "gateway/front/tls_sniffer.hpp"
#include "gateway/net/endpoint.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/socket_stream.hpp"
#include "gateway/rtmp/run_connection.hpp"

namespace rtmpgate::gateway {

namespace {

std::unique_ptr<tcp::acceptor> listen_on(asio::io_context& io, const std::string& key,
                                         const endpoint& where) {
    error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    if (ec) throw std::runtime_error(key + ": '" + where.host + "' is not an IP address");
    tcp::endpoint ep(address, where.port);
    // Its own strand: the stop signal closes it there, never while its loop is using it.
    auto acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(io));
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error(key + ": cannot listen on " + where.to_string() + ": " +
                                 ec.message());
    return acceptor;
}

}  // namespace

static tunnel::session_limits tunnel_limits(const config& c) {
    return {.max_pending_output = c.rtmpt.max_pending_output,
            .max_pending_input = 4 * c.rtmpt.max_body,
            .max_held_requests = 64,
            .gap_timeout = c.rtmpt.gap_timeout,
            .inactivity_timeout = c.rtmpt.session_timeout,
            .idle_coalesce = c.rtmpt.idle_coalesce};
}

namespace {

// The player page's files; `why_off` says why when it is off for want of them.
web::player_files load_player(const config::player_t& player, std::string& why_off) {
    auto files = web::load_player_files(player, why_off);
    if (files.enabled || player.enabled == false) why_off.clear();
    return files;
}

}  // namespace

server::server(config c)
    // One thread: Asio queues what a handler posts without the scheduler's lock (most of what
    // the engine posts: a player's hand-over per burst of its stream). Other threads (signals,
    // the log) still post safely, under the lock.
    : io_(c.threads == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT),
      context_(std::move(c)),
      tunnels_(context_, tunnel_limits(context_.cfg), context_.cfg.rtmpt.max_sessions,
               context_.cfg.rtmpt.node_id),
      player_(load_player(context_.cfg.player, player_off_)),
      http_context_{context_, tunnels_, io_, idle_http_, player_} {
    context_.access = std::make_shared<access::gate>(context_.cfg, io_.get_executor());
    context_.pulls = &pulls_;
}

server::~server() {
    // Destroys every handler and coroutine still pending while what they refer to is there.
    io_.shutdown();
}

void server::bind() {
    const auto& l = context_.cfg.listeners;
    if (l.https.enabled)
        tls_ = std::make_unique<tls_holder>(std::make_shared<tls_context>(context_.cfg.tls));
    context_.backend_tls.prepare(context_.cfg.routes);
    const std::tuple<const char*, const endpoint&, protocol_kind> wanted[] = {
        {"http", l.http, protocol_kind::http},
        {"https", l.https, protocol_kind::https},
        {"rtmp", l.rtmp, protocol_kind::rtmp},
        {"admin", l.admin, protocol_kind::admin},
    };
    for (const auto& [name, where, kind] : wanted) {
        if (!where.enabled) continue;
        acceptors_.emplace_back(listen_on(io_, std::string("listeners.") + name, where), kind);
        const auto bound = acceptors_.back().first->local_endpoint();
        log::info("listening ", name, " on ", format_endpoint(bound));
        if (kind == protocol_kind::http) context_.http_port = bound.port();
        if (kind == protocol_kind::https) context_.https_port = bound.port();
        warn_if_open(name, *acceptors_.back().first, kind);
    }
}

void server::warn_if_open(const char* name, const tcp::acceptor& acceptor, protocol_kind kind) {
    if (kind == protocol_kind::admin) return;
    error_code ec;
    const auto bound = acceptor.local_endpoint(ec);
    if (ec) return;
    if (auto warning = access::open_publish_warning(name, bound, context_.cfg.routes);
        !warning.empty())
        log::warn(warning);
}

void server::run() {
    if (!player_off_.empty()) log::info("player page off: ", player_off_);
    for (auto& [acceptor, kind] : acceptors_)
        asio::co_spawn(acceptor->get_executor(), accept(*acceptor, kind), asio::detached);
    // On a strand: let_connections_finish() waits on context_.connections, which posts its wake-up
    // there.
    asio::co_spawn(asio::make_strand(io_), wait_for_signal(), asio::detached);
    asio::co_spawn(io_, reload_on_sighup(), asio::detached);

    unsigned threads = context_.cfg.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : pool) t.join();
    log::info("stopped");
}

namespace {

// accept() failures that end only the connection being accepted (it was reset while it waited in
// the backlog, or a firewall rule refused it): the next accept may succeed at once.
bool ends_one_connection(const error_code& ec) {
    return ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
           ec == asio::error::connection_refused || ec == asio::error::no_permission ||
           ec == asio::error::interrupted || ec == asio::error::would_block ||
           ec == asio::error::try_again ||
           ec == error_code(EPROTO, boost::system::system_category());
}

// Descriptors kept free for what the process opens besides client sockets: backend links, the
// admin listener's clients, a sanitizer's pipe. Descriptors are handed out lowest first, so a
// client socket numbered within this many of RLIMIT_NOFILE means the table is all but full.
constexpr rlim_t descriptor_headroom = 16;

bool into_headroom(int fd) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
    return static_cast<rlim_t>(fd) + descriptor_headroom >= limit.rlim_cur;
}

}  // namespace

asio::awaitable<void> server::accept(tcp::acceptor& acceptor, protocol_kind kind) {
    const auto max_connections = context_.cfg.limits.max_connections;
    const auto where = format_endpoint(acceptor.local_endpoint());
    for (;;) {
        auto strand = asio::make_strand(io_);
        auto [ec, socket] = co_await acceptor.async_accept(strand, use_nothrow);
        if (!ec && kind != protocol_kind::admin && into_headroom(socket.native_handle())) {
            socket.close(ec);                  // its client sees the connection closed
            ec = asio::error::no_descriptors;  // as if accept had failed with EMFILE
        }
        if (ec) {
            // Closed by wait_for_signal, on this strand: the wait in progress ends aborted.
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ends_one_connection(ec)) {
                log::debug("accept on ", where, ": ", ec.message());
                continue;
            }
            // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything unforeseen: the connection stays in
            // the backlog, so accepting again at once fails again at once (a busy loop that once
            // wrote 850,000 log lines in 5 s). Pause this listener, as nginx does for
            // accept_mutex_delay and nghttpx for --listener-disable-timeout, and serve those
            // already connected meanwhile; one line and one count per pause.
            ++context_.stats.accept_pauses;
            log::warn("accept on ", where, ": ", ec.message(), "; not accepting for ",
                      context_.cfg.limits.accept_pause.count(), "ms");
            asio::steady_timer pause(acceptor.get_executor(), context_.cfg.limits.accept_pause);
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        // Every client socket counts, whatever it turns out to carry: HTTP connections without a
        // session and TLS handshakes in progress hold a descriptor and memory too. At the limit
        // the HTTP connection that has waited longest with no session and no request in progress
        // gives its place up (as nginx's ngx_drain_connections reuses idle keep-alive
        // connections); only when there is none is the new socket refused.
        if (kind != protocol_kind::admin && context_.stats.sockets_open >= max_connections) {
            if (!idle_http_.evict_oldest()) {
                context_.stats.refusals.add(refusal::max_connections);
                continue;  // the socket closes as it goes out of scope
            }
            ++context_.stats.http_evictions;
        }
        ++context_.stats.connections_accepted;
        set_client_socket_options(socket.native_handle());
        start_connection(std::move(socket), strand, kind);
    }
}

namespace {

// Holds one place of limits.max_connections, and one of its address's
// limits.max_connections_per_address, for as long as a client socket's coroutine runs.
class socket_slot {
public:
    socket_slot(std::atomic<std::uint64_t>& open, address_limits::place per_address)
        : open_(open), per_address_(std::move(per_address)) {
        ++open_;
    }
    ~socket_slot() { --open_; }
    socket_slot(const socket_slot&) = delete;
    socket_slot& operator=(const socket_slot&) = delete;

private:
    std::atomic<std::uint64_t>& open_;
    address_limits::place per_address_;
};

}  // namespace

std::optional<address_limits::place> server::take_address_place(const client_address& client) {
    // A trusted proxy that declared no one (an HTTP-mode balancer, whose clients /open names;
    // a PROXY header's LOCAL health check) carries many clients: its address is not limited.
    if (!client.via() && contains_any(context_.cfg.trusted_proxies, client.address()))
        return address_limits::place();
    auto place = context_.per_address.take(address_limits::kind::connection, client.address());
    if (place) return place;
    // Counted every time, logged once per address per interval: a client that reconnects in a
    // loop would otherwise write a line per attempt.
    context_.stats.refusals.add(refusal::max_connections_per_address);
    if (context_.per_address.should_log(client.address()))
        log::warn("connection from ", client,
                  " refused: ", context_.cfg.limits.max_connections_per_address,
                  " open from its address (limits.max_connections_per_address); further "
                  "refusals of it counted, logged again in ",
                  context_.per_address.settings().log_interval.count(), "ms at the earliest");
    return std::nullopt;
}

void server::start_connection(tcp::socket socket, asio::any_io_executor strand,
                              protocol_kind kind) {
    if (kind == protocol_kind::admin) {
        // Not a client socket: it takes no place of limits.max_connections, and a scrape does not
        // count itself in rtmpgate_client_sockets_open.
        asio::co_spawn(strand, admin::serve_admin(std::move(socket), context_, draining_),
                       asio::detached);
        return;
    }
    error_code peer_ec;
    client_address client(socket.remote_endpoint(peer_ec));
    // A socket whose peer is already gone (reset in the backlog) would be judged by the unknown
    // address 0.0.0.0, and refused as an untrusted sender of the header it still holds.
    if (peer_ec && reads_proxy_header(kind)) return;
    // Behind a PROXY header the client is known only once the header is read: its address's
    // place is taken then (serve_after_proxy_header), not for the proxy's address.
    std::optional<address_limits::place> per_address(std::in_place);
    if (!reads_proxy_header(kind)) {
        per_address = take_address_place(client);
        if (!per_address) return;  // the socket closes as it goes out of scope
    }
    auto slot = std::make_shared<socket_slot>(context_.stats.sockets_open, std::move(*per_address));
    if (reads_proxy_header(kind)) {
        asio::co_spawn(strand, serve_after_proxy_header(std::move(socket), std::move(client), kind),
                       [slot](const std::exception_ptr&) {});
        return;
    }
    switch (kind) {
        case protocol_kind::rtmp: {
            auto stream = std::make_unique<socket_stream<tcp::socket>>(std::move(socket),
                                                                       std::move(client), "rtmp");
            // The connection is in context_.connections while it runs, which is how shutdown
            // ends it; the completion holds the socket's place until then.
            asio::co_spawn(strand, rtmp::run_connection(std::move(stream), context_),
                           [slot](const std::exception_ptr&) {});
            return;
        }
        case protocol_kind::http:
            // Spawned as they are, the slot held by the completion: a coroutine wrapped around
            // them to hold it cost every connection one more frame.
            asio::co_spawn(strand,
                           front::serve_http(std::move(socket), std::move(client), http_context_),
                           [slot](const std::exception_ptr&) {});
            return;
        case protocol_kind::https:
            asio::co_spawn(
                strand,
                front::sniff_tls(std::move(socket), std::move(client), tls_->get(), http_context_),
                [slot](const std::exception_ptr&) {});
            return;
        case protocol_kind::admin:
            return;  // served above
    }
}

bool server::reads_proxy_header(protocol_kind kind) const {
    const auto& p = context_.cfg.proxy_protocol;
    return (kind == protocol_kind::http && p.http) || (kind == protocol_kind::https && p.https) ||
           (kind == protocol_kind::rtmp && p.rtmp);
}

asio::awaitable<void> server::serve_after_proxy_header(tcp::socket socket, client_address peer,
                                                       protocol_kind kind) {
    auto found =
        co_await front::read_proxy_header(socket, peer, kind == protocol_kind::https, context_);
    if (!found) co_return;  // the socket closes as it goes out of scope
    const auto per_address = take_address_place(found->client);
    if (!per_address) co_return;
    switch (kind) {
        case protocol_kind::rtmp:
            co_await rtmp::run_connection(std::make_unique<socket_stream<tcp::socket>>(
                                              std::move(socket), std::move(found->client), "rtmp",
                                              std::move(found->received)),
                                          context_);
            co_return;
        case protocol_kind::http:
            co_await front::serve_http(std::move(socket), std::move(found->client), http_context_,
                                       found->received);
            co_return;
        case protocol_kind::https:
            // read_proxy_header took nothing past the header: the TLS handshake reads the socket.
            co_await front::sniff_tls(std::move(socket), std::move(found->client), tls_->get(),
                                      http_context_);
            co_return;
        case protocol_kind::admin:
            co_return;
    }
}

asio::awaitable<void> server::wait_for_signal() {
    using namespace asio::experimental::awaitable_operators;
    auto [ec, number] = co_await stop_signals_.async_wait(use_nothrow);
    if (ec) co_return;
    // From here to the exit, through the stop too: the balancer must not come back to us.
    draining_ = true;
    const auto& cfg = context_.cfg;
    if (cfg.drain_time.count() > 0) {
        log::info("signal ", number, ": draining for ", cfg.drain_time.count(),
                  "ms: /healthz answers 503, still accepting; ", context_.connections.size(),
                  " connections open; signal again to stop now");
        asio::steady_timer drain_end(co_await asio::this_coro::executor, cfg.drain_time);
        const auto ended =
            co_await (drain_end.async_wait(use_nothrow) || stop_signals_.async_wait(use_nothrow));
        if (ended.index() == 1) {
            const auto& [signal_ec, again] = std::get<1>(ended);
            if (!signal_ec) number = again;
        }
    }
    log::info("signal ", number, ": stopping; ", context_.connections.size(), " connections open, ",
              cfg.shutdown_grace.count(), "ms to finish; signal again to close them now");
    // Each acceptor is used by its own loop on its own strand: closed there, not from here.
    for (auto& [acceptor, kind] : acceptors_)
        asio::post(acceptor->get_executor(), [&acceptor = *acceptor] {
            error_code ignored;
            acceptor.close(ignored);
        });
    asio::co_spawn(co_await asio::this_coro::executor, close_all_on_signal(), asio::detached);
    co_await let_connections_finish();
    error_code ignored;
    stop_signals_.cancel(ignored);  // ends close_all_on_signal()
    // The done hooks of the connections that just ended are told before the hooks close.
    co_await context_.access->finish_notifications();
    context_.access->close();
    io_.stop();
}

asio::awaitable<void> server::close_all_on_signal() {
    auto [ec, number] = co_await stop_signals_.async_wait(use_nothrow);
    if (ec) co_return;
    log::info("signal ", number, ": closing ", context_.connections.size(), " connections now");
    context_.connections.shutdown_all();
}

asio::awaitable<void> server::reload_on_sighup() {
    for (;;) {
        auto [ec, number] = co_await hangup_signals_.async_wait(use_nothrow);
        if (ec) co_return;
        // Caught even without TLS: SIGHUP's default action would end the process.
        if (!tls_) {
            log::info("SIGHUP: no https listener, nothing to reload");
            continue;
        }
        // New connections get the new certificates; open ones keep the context they began with.
        try {
            tls_->set(std::make_shared<tls_context>(context_.cfg.tls));
            log::info("SIGHUP: TLS certificates reloaded");
        } catch (const std::exception& e) {
            log::error("SIGHUP: keeping the previous certificates: ", e.what());
        }
    }
}

asio::awaitable<void> server::let_connections_finish() {
    using std::chrono::steady_clock;
    auto& connections = context_.connections;
    if (co_await connections.wait_empty_until(steady_clock::now() + context_.cfg.shutdown_grace))
        co_return;
    log::info("shutdown_grace over: closing ", connections.size(), " connections");
    connections.shutdown_all();
    // Give the closed connections a moment to log their last line.
    co_await connections.wait_empty_until(steady_clock::now() + std::chrono::milliseconds(500));
}

}  // namespace rtmpgate::gateway
