// One RTMPT tunnel session: the duplex byte stream between the HTTP requests of one client (which
// may arrive on several connections, out of order, pipelined or repeated) and the rtmp_connection
// that serves it. Lives on its own strand; the HTTP side reaches it with co_spawn onto that strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "gateway/net/asio.hpp"
#include "protocol/rtmpt.hpp"
#include "protocol/shared_bytes.hpp"

namespace rtmpgate::gateway::tunnel {

struct session_limits {
    std::size_t max_pending_output = 8 << 20;  // bytes waiting for the client's next request
    std::size_t max_pending_input = 16 << 20;  // /send bytes the RTMP side has not read yet
    std::size_t max_held_requests = 64;        // /send bodies waiting for a gap to fill (their
                                               // bytes count against max_pending_input too)
    std::chrono::milliseconds gap_timeout{5000};
    std::chrono::milliseconds inactivity_timeout{45000};
    // How long a closed session keeps what its RTMP side wrote last for the client's next polls.
    // A polling client asks again within idle_hold; two seconds are many polls.
    std::chrono::milliseconds closing_linger{2000};
    // Once output arrives for a held /idle reply, how long it waits for more to go with it
    // (rtmpt.idle_coalesce); zero answers at once.
    std::chrono::milliseconds idle_coalesce{0};
};

// `size` octets at `offset` in a shared, immutable block: a piece of a session's pending output,
// and of a reply body. Holding it keeps the block alive; the octets are never copied.
struct output_slice {
    protocol::shared_bytes block;
    std::size_t offset = 0;
    std::size_t size = 0;

    asio::const_buffer buffer() const noexcept { return {block.data() + offset, size}; }
};

class rtmpt_session : public std::enable_shared_from_this<rtmpt_session> {
public:
    using clock = std::chrono::steady_clock;

    rtmpt_session(std::string id, asio::any_io_executor strand, session_limits limits);

    const std::string& id() const noexcept { return id_; }
    const asio::any_io_executor& strand() const noexcept { return strand_; }

    // ---- HTTP side (on the strand) ----
    enum class accepted { fresh, duplicate, refused };
    // Accounts one request. `sequence`: its number, if it has one. `body`: the /send body
    // (empty for /idle). Bodies reach the RTMP side in sequence order, exactly once; a repeated
    // number is a duplicate and delivers nothing. refused: the session is closed (and has no
    // output left for the client) or over a bound.
    accepted accept(std::optional<std::uint64_t> sequence, std::vector<std::uint8_t> body);
    // A request the HTTP side refused unread (413). Its number stays open for a retry with the
    // same number; once the client moves past it instead, it is skipped without bytes, so that
    // the session does not wait behind it until gap_timeout.
    void refused(std::optional<std::uint64_t> sequence);
    bool has_output() const noexcept { return output_bytes_ != 0; }
    // A held /idle reply waits on `waker`, a timer on its own connection's strand, until it
    // expires. When the session closes, the session posts to that strand a move of the timer's
    // expiry into the past; when output arrives, to idle_coalesce from then (never later than
    // it was). A move ends a wait in progress with operation_aborted: the holder waits again
    // until the expiry as it stands. Nothing is cancelled across strands. Wakers that expired
    // on their own are simply dropped.
    void add_waker(const std::shared_ptr<asio::steady_timer>& waker);
    // Something on another strand told once the session has expired (the registry forgets it
    // then): `expired` is posted to `executor`. An HTTP connection that carried the session's
    // requests listens, so that its wait for the next request is looked at again then rather
    // than now and then. Listeners destroyed before are dropped.
    struct expiry_listener {
        asio::any_io_executor executor;
        std::function<void()> expired;
    };
    void add_expiry_listener(const std::shared_ptr<expiry_listener>& listener);
    // Moves up to `max` pending octets, in order, into `out` (after what `out` holds) and returns
    // how many. A slice that does not fit whole is split: `out` gets its first part, the rest
    // stays pending, and both share the block. No octet is copied.
    std::size_t take_output(std::size_t max, std::vector<output_slice>& out);
    // The client's /close, an expiry, or the RTMP side ending.
    void close(const char* reason);
    bool closed() const noexcept { return closed_; }
    const char* close_reason() const noexcept { return close_reason_; }
    // Expiry: the session closes itself after inactivity_timeout without a request or
    // gap_timeout with a gap in its sequence, and once closed it expires when its client has
    // taken its last output (at once) or after closing_linger.
    // `expired` is then called once, on the strand, with the id (the registry forgets the
    // session). One timer on the strand, re-armed lazily: requests only move the last activity,
    // and the timer, when it fires early, sleeps again until the deadline as it stands. Call
    // once, before the session is shared; never called if the session is destroyed first.
    void start_expiry(std::function<void(const std::string& id)> expired);
    std::size_t pending_output() const noexcept { return output_bytes_; }
    // Records one /send or /idle reply (carrying RTMP bytes or not) and returns the poll delay
    // byte it starts with.
    std::uint8_t next_poll_byte(bool carries_data) noexcept {
        empty_replies_ = carries_data ? 0 : empty_replies_ + 1;
        return protocol::rtmpt_poll_delay(empty_replies_);
    }

    // ---- RTMP side (byte_stream semantics, on the strand) ----
    // Reads what has arrived, across /send bodies, up to the size of `buffer`.
    asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer buffer);
    // read_some in two steps, for a reader that holds no buffer while it waits: wait_input()
    // completes once /send bytes are there (or with eof once the session has closed with none
    // left, or an error); take_input() then reads them without suspending (would_block when none
    // are there, eof when closed).
    asio::awaitable<error_code> wait_input();
    std::size_t take_input(asio::mutable_buffer buffer, error_code& ec);
    // Queues all of `buffers` for the client's next replies, or fails (the session closed).
    // Waits while max_pending_output would be passed (unless nothing is pending). A buffer that
    // lies inside one of `blocks` is kept as a slice of that block, not copied; the other
    // buffers (chunk headers, handshake bytes, bytes from a backend) are copied, all of one
    // write into one new block. Blocks are looked for in order: a writer passes them in the
    // order its buffers point into them.
    asio::awaitable<std::tuple<error_code, std::size_t>> write(
        std::span<const asio::const_buffer> buffers,
        std::span<const protocol::shared_bytes> blocks = {});

private:
    accepted accept_in_order(std::optional<std::uint64_t> sequence, std::vector<std::uint8_t> body);
    // Keeps a body that arrived ahead of a gap.
    accepted hold(std::uint64_t seq, std::vector<std::uint8_t> body);
    // Queues a body for the RTMP side (moved, not copied).
    void deliver(std::vector<std::uint8_t> body);
    // Appends `buffers` to output_ as slices (see write).
    void queue_output(std::span<const asio::const_buffer> buffers,
                      std::span<const protocol::shared_bytes> blocks);
    // Delivers held bodies while the next one due is among them.
    void deliver_held();
    // Moves every waker's expiry to `due` (or leaves it, if it is earlier) and forgets them.
    void wake_all(clock::time_point due = clock::time_point::min());
    // When the session is due to expire as things stand.
    clock::time_point expiry_due() const;
    // Brings the expiry timer forward when expiry_due() moved earlier (a gap, a close).
    void expire_no_later();
    void wait_expiry();
    // The expiry timer fired or was moved: expires the session or sleeps again.
    void on_expiry_timer();

    const std::string id_;
    asio::any_io_executor strand_;
    const session_limits limits_;

    std::optional<std::uint64_t> next_sequence_;               // the number whose body is due next
    std::map<std::uint64_t, std::vector<std::uint8_t>> held_;  // arrived ahead of a gap
    std::size_t held_bytes_ = 0;  // their bodies, within max_pending_input
    std::optional<clock::time_point> gap_since_;
    std::optional<std::uint64_t> refused_;  // see refused()

    // Ordered /send bodies for the RTMP side; it has read input_read_ octets of the first.
    std::deque<std::vector<std::uint8_t>> input_;
    std::size_t input_read_ = 0;
    std::size_t input_bytes_ = 0;                        // unread, within max_pending_input
    std::deque<output_slice> output_;                    // RTMP bytes for the client's next replies
    std::size_t output_bytes_ = 0;                       // their total, within max_pending_output
    std::vector<const protocol::shared_bytes*> owners_;  // queue_output's scratch, reused

    asio::steady_timer input_ready_;                         // RTMP side waits here for /send bytes
    std::vector<std::weak_ptr<asio::steady_timer>> wakers_;  // held /idle replies
    std::vector<std::weak_ptr<expiry_listener>> expiry_listeners_;
    asio::steady_timer output_drained_;  // the RTMP side waits here when output_ is full
    asio::steady_timer expiry_;
    std::function<void(const std::string&)> on_expired_;  // empty before start_expiry and after
    clock::time_point last_activity_ = clock::now();
    clock::time_point closed_at_;
    bool closed_ = false;
    bool expired_ = false;  // the registry has forgotten it
    std::uint32_t empty_replies_ = 0;
    const char* close_reason_ = "";
};

}  // namespace rtmpgate::gateway::tunnel
