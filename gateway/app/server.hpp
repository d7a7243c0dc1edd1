// The gateway process: binds the configured listeners, accepts connections onto their own
// strands, and shuts down cleanly on SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/front/http_front.hpp"
#include "gateway/front/idle_connections.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/tls_context.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/tunnel/registry.hpp"
#include "gateway/upstream/pull.hpp"

namespace rtmpgate::gateway {

class server {
public:
    explicit server(config c);
    ~server();

    // Loads the TLS certificates and binds every enabled listener; throws std::runtime_error
    // naming the config key when a certificate is unusable or a listener cannot be bound. Logs
    // "listening <name> on <address:port>" with the real port. SIGINT, SIGTERM and SIGHUP are
    // caught from the server's construction on: a signal sent once that line is out waits for
    // run().
    void bind();
    // Serves until SIGINT or SIGTERM. Then, when drain_time is not 0, drains: /healthz answers
    // 503 while everything else goes on as before, for drain_time or until a second signal.
    // Then stops accepting, lets connections finish for up to shutdown_grace (a further signal
    // ends that at once), closes the rest and returns. One log line per phase.
    void run();

    server_context& context() noexcept { return context_; }

private:
    enum class protocol_kind { rtmp, http, https, admin };
    asio::awaitable<void> accept(tcp::acceptor& acceptor, protocol_kind kind);
    void start_connection(tcp::socket socket, asio::any_io_executor strand, protocol_kind kind);
    // proxy_protocol.<listener>: its connections begin with read_proxy_header (front/proxy_header).
    bool reads_proxy_header(protocol_kind kind) const;
    void warn_if_open(const char* name, const tcp::acceptor& acceptor, protocol_kind kind);
    // A place of limits.max_connections_per_address for `client`; nullopt, counted and logged,
    // when its address holds them all.
    std::optional<address_limits::place> take_address_place(const client_address& client);
    asio::awaitable<void> serve_after_proxy_header(tcp::socket socket, client_address peer,
                                                   protocol_kind kind);
    asio::awaitable<void> wait_for_signal();
    asio::awaitable<void> let_connections_finish();
    asio::awaitable<void> close_all_on_signal();
    asio::awaitable<void> reload_on_sighup();

    // An io_context whose pending work ~server() can destroy first: the coroutines of connections
    // still open when run() returned (a write to a client that reads nothing) refer to context_
    // and the rest from their destructors, and the io_context's own destructor runs last.
    class io_context : public asio::io_context {
    public:
        using asio::io_context::io_context;
        using asio::io_context::shutdown;  // execution_context's, protected there
    };
    io_context io_;
    // Made with the server, on one thread, before any coroutine runs, rather than by two
    // coroutines that may start on two threads at once and race to create Asio's signal
    // service (a SIGTERM sent right after start-up was once lost under load).
    asio::signal_set stop_signals_{io_, SIGINT, SIGTERM};
    asio::signal_set hangup_signals_{io_, SIGHUP};
    server_context context_;
    upstream::pulls pulls_{context_, io_};
    tunnel::registry tunnels_;
    std::unique_ptr<tls_holder> tls_;  // when listeners.https is on
    // HTTP connections that may be closed to make room at limits.max_connections.
    front::idle_connections idle_http_;
    // Why the player page is off for want of its files, said when the server runs (not when a
    // later start-up error stops it, or --check-config only builds it).
    std::string player_off_;
    // The player page's files, read at start-up (config `player:`).
    web::player_files player_;
    front::http_front_context http_context_;
    // Set by the first stop signal: /healthz answers 503 from then on (admin/admin_http.hpp).
    std::atomic<bool> draining_{false};
    // Each on its own strand, where its accept loop runs and the stop signal closes it.
    std::vector<std::pair<std::unique_ptr<tcp::acceptor>, protocol_kind>> acceptors_;
};

}  // namespace rtmpgate::gateway
