// One RTMP client, whatever carries its bytes (TCP, TLS, an RTMPT tunnel): the server handshake,
// the chunk layer both ways, protocol control, and the routing of its connect to the engine.
// Runs as two coroutines on one strand, reading and writing (the only writer of the stream), and a
// watchdog timer for the connect deadline and idle peers.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/access/decision.hpp"
#include "gateway/engine/session.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/rtmp/output_queue.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/rtmp/write_batch.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"

namespace rtmpgate::gateway::rtmp {

class connection final : public engine::output,
                         public closable,
                         public std::enable_shared_from_this<connection> {
public:
    // `strand`: the executor every member runs on.
    connection(std::unique_ptr<byte_stream> stream, asio::any_io_executor strand,
               server_context& context);
    ~connection() override;

    // Serves the client until it leaves, fails or is shut down: registers in
    // context.connections (how shutdown finds it) for that time and logs one line when it opens
    // and one when it closes, with the reason. Never throws: bad input and I/O errors end it
    // through error codes, and anything thrown all the same (memory exhausted) ends only this
    // connection, its reason "error: ...". Started by rtmp::run_connection.
    asio::awaitable<void> run();

    void shutdown() override;

    // engine::output
    void send(protocol::message m) override;
    void send_media(protocol::message m, engine::media_class c) override;
    void flush() override;
    void close_after_flush() override;
    void close_refused(refusal why, std::string reason) override;
    void refused(refusal why) override;

private:
    using clock = std::chrono::steady_clock;

    asio::awaitable<void> serve();
    asio::awaitable<bool> handshake(std::vector<std::uint8_t>& leftover);
    asio::awaitable<void> read_loop(std::vector<std::uint8_t> leftover);
    asio::awaitable<void> write_loop();
    // The watchdog: a timer, not a coroutine (a coroutine and its share of operator|| cost an
    // idle connection some 2 KiB). watch() arms it for the earliest deadline as things stand;
    // on_watchdog() ends the connection when one has passed (time_out, then the stream closed)
    // or sends the ping and sleeps again. Stopped with stop_watchdog().
    void watch();
    void on_watchdog();
    void stop_watchdog();
    // Ends the connection for the deadline `which`: the close line's reason names it, /metrics
    // counts it, and the stream is closed under the reads and writes.
    void time_out(deadline_error which);
    // The per-message path: bad input returns its error (protocol::error or rtmp::error) and
    // the connection ends; nothing on it throws.
    error_code on_bytes(std::span<const std::uint8_t> bytes);
    error_code on_message(const protocol::message& m);
    error_code on_control(const protocol::message& m);
    error_code on_connect(const protocol::message& m);
    // Routes the connect (connect_, route_): to the engine, or to a backend (the route's, or
    // the one an on_connect hook named).
    void route_connect(const std::optional<backend_target>& hook_backend);
    // The access decisions (access/gate.hpp). A connect, publish or play that the route's access
    // settings must decide waits at the front of held_ (deciding_), and every message after it
    // waits behind it, in order; the reads stop until decide_held() has the answer, so that
    // held_ holds at most one read's messages. Allowed, the request is served as if it had just
    // arrived, then what waited behind it; refused, the client is told and the connection closes.
    std::optional<access::action> needs_decision(const protocol::message& m);
    asio::awaitable<error_code> decide_held();
    access::request access_request(access::action what, std::string stream_with_query) const;
    // Tells the client `what` was refused (`why`, in its description and the close line), drops
    // what waited behind it and closes once that is out.
    void refuse_access(access::action what, const protocol::message& m, const std::string& why);
    // Gives `ec` back after making its message the close line's reason, after "<input>: " when
    // `input` names what was bad ("connect", "chunk stream").
    error_code refuse(error_code ec, const char* input = nullptr);
    void reject(double transaction_id, const char* code, const std::string& description);
    asio::awaitable<void> run_backend_link();
    void wake_writer();

    std::unique_ptr<byte_stream> stream_;
    asio::any_io_executor strand_;
    server_context& context_;
    std::string id_;  // "conn 12" in logs
    std::uint64_t registration_ = 0;

    protocol::chunk_decoder decoder_;
    protocol::chunk_encoder encoder_;
    output_queue queue_;
    write_batch batch_;  // encoded and not yet wholly written: the writer's, or flush()'s
    asio::steady_timer wake_;
    asio::steady_timer watchdog_;
    bool watching_ = false;
    bool writer_waiting_ = false;  // the writer waits on wake_, with batch_ and queue_ empty

    std::shared_ptr<engine::session> session_;
    std::optional<protocol::connect_command> connect_;
    const route* route_ = nullptr;     // the route connect matched
    std::optional<route> hook_route_;  // a backend an on_connect hook named for this connection
    std::deque<protocol::message> held_;
    bool deciding_ = false;
    bool access_refused_ = false;  // told so: nothing it sends is served any more
    unsigned decisions_ = 0;       // publish and play requests decided on this connection
    // Publishes and plays allowed by a route that has done hooks: told when the connection ends.
    std::vector<access::request> granted_;
    // Until connect is routed, every byte after C2, kept for a backend route to replay verbatim.
    std::vector<std::uint8_t> replay_;
    const route* backend_route_ = nullptr;
    double connect_transaction_ = 1;
    std::string app_;
    bool connected_ = false;
    bool close_after_flush_ = false;
    bool closing_ = false;
    std::string end_reason_ = "closed by peer";

    clock::time_point started_ = clock::now();
    clock::time_point last_read_ = started_;
    bool ping_sent_ = false;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::uint32_t peer_window_ = 0;   // the client's Window Acknowledgement Size
    std::uint64_t acknowledged_ = 0;  // bytes_in_ when we last sent Acknowledgement
};

}  // namespace rtmpgate::gateway::rtmp
