#include "gateway/tunnel/rtmpt_session.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace rtmpgate::gateway::tunnel {

rtmpt_session::rtmpt_session(std::string id, asio::any_io_executor strand, session_limits limits)
    : id_(std::move(id)),
      strand_(std::move(strand)),
      limits_(limits),
      input_ready_(strand_, asio::steady_timer::time_point::max()),
      output_drained_(strand_, asio::steady_timer::time_point::max()),
      expiry_(strand_) {}

rtmpt_session::accepted rtmpt_session::accept(std::optional<std::uint64_t> sequence,
                                              std::vector<std::uint8_t> body) {
    const auto a = accept_in_order(sequence, std::move(body));
    // A gap may have opened, or a closed session have nothing left for its client.
    expire_no_later();
    return a;
}

rtmpt_session::accepted rtmpt_session::accept_in_order(std::optional<std::uint64_t> sequence,
                                                       std::vector<std::uint8_t> body) {
    // A closed session takes no bytes, but still hands out what it has left for the client.
    if (closed_) return output_.empty() ? accepted::refused : accepted::duplicate;
    last_activity_ = clock::now();
    if (!sequence) {
        // Only /close comes without a number; a body without one is delivered as it comes.
        if (!body.empty()) deliver(std::move(body));
        return accepted::fresh;
    }
    const auto seq = *sequence;
    if (!next_sequence_) {
        // ffmpeg and librtmp number from 0, Flash-era SDKs from 1 (some after an /idle/0). The
        // stream itself says where it starts: its first byte is C0 (0x03, or 0x06 for RTMPE), so
        // the body that begins with C0 is the first one, whatever its number. Requests without
        // bytes say nothing; a body that arrives ahead of the C0 body waits for it.
        if (body.empty()) return accepted::fresh;
        if (body.front() != 0x03 && body.front() != 0x06) {
            return hold(seq, std::move(body));
        }
        next_sequence_ = seq;
        for (auto it = held_.begin(); it != held_.end() && it->first < seq; it = held_.erase(it))
            held_bytes_ -= it->second.size();
    }
    if (seq < *next_sequence_ || held_.contains(seq)) return accepted::duplicate;
    if (seq > *next_sequence_) {
        const auto a = hold(seq, std::move(body));
        // Behind a number refused with 413 the client has gone on: deliver_held() skips it.
        if (a != accepted::fresh || refused_ != next_sequence_) return a;
    } else {
        deliver(std::move(body));
        ++*next_sequence_;
    }
    deliver_held();
    if (refused_ && *refused_ < *next_sequence_) refused_.reset();  // it was retried
    gap_since_.reset();
    if (!held_.empty()) gap_since_ = last_activity_;
    if (input_bytes_ > limits_.max_pending_input) {
        close("client sends faster than the session reads");
        return accepted::refused;
    }
    return accepted::fresh;
}

void rtmpt_session::refused(std::optional<std::uint64_t> sequence) {
    if (closed_ || !sequence || (next_sequence_ && *sequence < *next_sequence_)) return;
    // An earlier refused number still due: the client has gone on past it (413 after 413).
    if (next_sequence_ && refused_ == next_sequence_ && *sequence > *next_sequence_)
        ++*next_sequence_;
    refused_ = sequence;
    if (!next_sequence_) return;
    // Bodies already held behind the refused number show that the client has gone on too.
    deliver_held();
    gap_since_.reset();
    if (!held_.empty()) gap_since_ = clock::now();
    expire_no_later();
}

void rtmpt_session::deliver_held() {
    while (!held_.empty()) {
        auto it = held_.begin();
        if (it->first != *next_sequence_) {
            if (refused_ != next_sequence_) return;
            refused_.reset();  // the refused body is due and the client has gone on past it
            ++*next_sequence_;
            continue;
        }
        held_bytes_ -= it->second.size();
        deliver(std::move(it->second));
        held_.erase(it);
        ++*next_sequence_;
    }
}

rtmpt_session::accepted rtmpt_session::hold(std::uint64_t seq, std::vector<std::uint8_t> body) {
    if (held_.contains(seq)) return accepted::duplicate;
    // Held bodies join the unread input when the gap fills: the bound is on both together.
    if (held_.size() >= limits_.max_held_requests ||
        held_bytes_ + body.size() + input_bytes_ > limits_.max_pending_input) {
        close("too many requests ahead of a gap");
        return accepted::refused;
    }
    held_bytes_ += body.size();
    held_.emplace(seq, std::move(body));
    if (!gap_since_) gap_since_ = last_activity_;
    return accepted::fresh;
}

void rtmpt_session::deliver(std::vector<std::uint8_t> body) {
    if (body.empty()) return;
    // The body itself joins the queue: a /send of a few hundred KB is neither copied nor moved
    // octet by octet, and read_some frees each body once it has read it.
    input_bytes_ += body.size();
    input_.push_back(std::move(body));
    input_ready_.cancel();
}

void rtmpt_session::add_waker(const std::shared_ptr<asio::steady_timer>& waker) {
    std::erase_if(wakers_, [](const auto& w) { return w.expired(); });
    wakers_.push_back(waker);
    if (output_bytes_ != 0 || closed_) wake_all();
}

void rtmpt_session::add_expiry_listener(const std::shared_ptr<expiry_listener>& listener) {
    if (expired_) {
        asio::post(listener->executor, [listener] { listener->expired(); });
        return;
    }
    std::erase_if(expiry_listeners_, [](const auto& l) { return l.expired(); });
    // Once each: a connection that goes back and forth between sessions adds itself again.
    if (std::none_of(expiry_listeners_.begin(), expiry_listeners_.end(),
                     [&](const auto& l) { return l.lock() == listener; }))
        expiry_listeners_.push_back(listener);
}

void rtmpt_session::wake_all(clock::time_point due) {
    for (auto& weak : wakers_) {
        if (auto waker = weak.lock())
            asio::post(waker->get_executor(), [waker, due] {
                if (due < waker->expiry()) waker->expires_at(due);
            });
    }
    wakers_.clear();
}

std::size_t rtmpt_session::take_output(std::size_t max, std::vector<output_slice>& out) {
    std::size_t taken = 0;
    while (!output_.empty() && taken < max) {
        auto& front = output_.front();
        const auto n = std::min(front.size, max - taken);
        if (n == front.size) {
            out.push_back(std::move(front));
            output_.pop_front();
        } else {
            // Split by offset: the reply and the rest share the block.
            out.push_back({front.block, front.offset, n});
            front.offset += n;
            front.size -= n;
        }
        taken += n;
    }
    output_bytes_ -= taken;
    if (taken != 0) output_drained_.cancel();
    // A closed session whose client has now taken its last output is done: the registry forgets
    // it at once rather than at the client's next request or after closing_linger.
    if (closed_) expire_no_later();
    return taken;
}

void rtmpt_session::close(const char* reason) {
    if (closed_) return;
    closed_ = true;
    closed_at_ = clock::now();
    close_reason_ = reason;
    input_ready_.cancel();
    output_drained_.cancel();
    wake_all();
    expire_no_later();
}

void rtmpt_session::start_expiry(std::function<void(const std::string& id)> expired) {
    on_expired_ = std::move(expired);
    expiry_.expires_at(expiry_due());
    wait_expiry();
}

rtmpt_session::clock::time_point rtmpt_session::expiry_due() const {
    if (closed_)
        return output_.empty() ? clock::time_point::min() : closed_at_ + limits_.closing_linger;
    auto due = last_activity_ + limits_.inactivity_timeout;
    if (gap_since_) due = std::min(due, *gap_since_ + limits_.gap_timeout);
    return due;
}

void rtmpt_session::expire_no_later() {
    // A later deadline needs nothing: the timer finds it when it fires. Moving the expiry ends
    // the wait in progress, whose handler waits again.
    if (on_expired_ && expiry_due() < expiry_.expiry()) expiry_.expires_at(expiry_due());
}

void rtmpt_session::wait_expiry() {
    // A weak pointer: the registry owns the session, its timer does not keep it alive.
    expiry_.async_wait([weak = weak_from_this()](const error_code&) {
        if (auto self = weak.lock()) self->on_expiry_timer();
    });
}

void rtmpt_session::on_expiry_timer() {
    if (!on_expired_) return;
    const auto due = expiry_due();
    if (clock::now() < due) {
        expiry_.expires_at(due);  // activity moved it, or the timer was moved: sleep again
        wait_expiry();
        return;
    }
    if (!closed_)
        close(gap_since_ && clock::now() >= *gap_since_ + limits_.gap_timeout
                  ? "sequence gap not filled in time"
                  : "inactivity timeout");
    auto expired = std::move(on_expired_);
    on_expired_ = nullptr;
    expired_ = true;
    expired(id_);
    for (auto& weak : expiry_listeners_) {
        if (auto listener = weak.lock())
            asio::post(listener->executor, [listener] { listener->expired(); });
    }
    expiry_listeners_.clear();
}

asio::awaitable<std::tuple<error_code, std::size_t>> rtmpt_session::read_some(
    asio::mutable_buffer buffer) {
    if (auto ec = co_await wait_input()) co_return std::tuple{ec, std::size_t{0}};
    error_code ec;
    const auto n = take_input(buffer, ec);
    co_return std::tuple{ec, n};
}

asio::awaitable<error_code> rtmpt_session::wait_input() {
    while (input_.empty()) {
        if (closed_) co_return asio::error::eof;
        input_ready_.expires_at(asio::steady_timer::time_point::max());
        auto [ec] = co_await input_ready_.async_wait(use_nothrow);
        if (ec && ec != asio::error::operation_aborted) co_return ec;
        // Woken by data, by close, or cancelled from outside (then the state tells).
        if (const auto state = co_await asio::this_coro::cancellation_state;
            state.cancelled() != asio::cancellation_type::none)
            co_return asio::error::operation_aborted;
    }
    co_return error_code();
}

std::size_t rtmpt_session::take_input(asio::mutable_buffer buffer, error_code& ec) {
    ec = {};
    if (input_.empty()) {
        ec = closed_ ? error_code(asio::error::eof) : error_code(asio::error::would_block);
        return 0;
    }
    // Fill the reader's buffer across bodies: the RTMP side's reads are larger than most bodies.
    std::size_t n = 0;
    auto* to = static_cast<std::uint8_t*>(buffer.data());
    while (n < buffer.size() && !input_.empty()) {
        const auto& body = input_.front();
        const auto part = std::min(buffer.size() - n, body.size() - input_read_);
        std::memcpy(to + n, body.data() + input_read_, part);
        n += part;
        input_read_ += part;
        if (input_read_ == body.size()) {
            input_.pop_front();
            input_read_ = 0;
        }
    }
    input_bytes_ -= n;
    return n;
}

asio::awaitable<std::tuple<error_code, std::size_t>> rtmpt_session::write(
    std::span<const asio::const_buffer> buffers, std::span<const protocol::shared_bytes> blocks) {
    const auto total = asio::buffer_size(buffers);
    // Backpressure: when the client stops polling, the RTMP side waits here, and its queue drops
    // media for this player instead of this buffer growing.
    while (!closed_ && output_bytes_ != 0 && output_bytes_ + total > limits_.max_pending_output) {
        output_drained_.expires_at(asio::steady_timer::time_point::max());
        co_await output_drained_.async_wait(use_nothrow);
        if (const auto state = co_await asio::this_coro::cancellation_state;
            state.cancelled() != asio::cancellation_type::none)
            co_return std::tuple{error_code(asio::error::operation_aborted), std::size_t{0}};
    }
    if (closed_) co_return std::tuple{error_code(asio::error::broken_pipe), std::size_t{0}};
    queue_output(buffers, blocks);
    // The first output for a held reply: more that comes within idle_coalesce goes with it, in
    // one reply rather than one each (ffmpeg polls again as soon as a reply with data arrives).
    if (!wakers_.empty())
        wake_all(limits_.idle_coalesce.count() == 0 ? clock::time_point::min()
                                                    : clock::now() + limits_.idle_coalesce);
    co_return std::tuple{error_code(), total};
}

namespace {

bool holds(const protocol::shared_bytes& block, asio::const_buffer b) noexcept {
    // std::less: a total order on pointers into different objects.
    const std::less<const void*> before;
    const auto* first = static_cast<const std::uint8_t*>(b.data());
    return !before(first, block.data()) && !before(block.data() + block.size(), first + b.size());
}

// The block that holds all of `b`, looked for where the last one was found (`next` - 1) and in
// the one after it (`next`), or nullptr. A chunked message's payload pieces come in the order
// of its payload and messages in the order of their blocks, so that is enough; a buffer found
// in neither (a chunk header) is copied.
const protocol::shared_bytes* find_block(asio::const_buffer b,
                                         std::span<const protocol::shared_bytes> blocks,
                                         std::size_t& next) noexcept {
    if (b.size() == 0) return nullptr;
    for (auto i = next == 0 ? 0 : next - 1; i < blocks.size() && i <= next; ++i) {
        if (holds(blocks[i], b)) {
            next = i + 1;
            return &blocks[i];
        }
    }
    return nullptr;
}

}  // namespace

void rtmpt_session::queue_output(std::span<const asio::const_buffer> buffers,
                                 std::span<const protocol::shared_bytes> blocks) {
    owners_.clear();
    std::size_t copied = 0;
    std::size_t next = 0;
    for (const auto& b : buffers) {
        owners_.push_back(find_block(b, blocks, next));
        if (owners_.back() == nullptr) copied += b.size();
    }
    // The copied buffers of this write, one after another in one new block, filled before it is
    // shared.
    std::uint8_t* fill = nullptr;
    const auto copies = protocol::shared_bytes::allocate(copied, fill);
    for (std::size_t i = 0; i < buffers.size(); ++i) {
        if (owners_[i] != nullptr || buffers[i].size() == 0) continue;
        std::memcpy(fill, buffers[i].data(), buffers[i].size());
        fill += buffers[i].size();
    }
    std::size_t copies_offset = 0;
    bool after_copy = false;  // output_.back() is a slice of `copies`: copies next to it extend it
    for (std::size_t i = 0; i < buffers.size(); ++i) {
        const auto size = buffers[i].size();
        if (size == 0) continue;
        if (const auto* owner = owners_[i]) {
            const auto* first = static_cast<const std::uint8_t*>(buffers[i].data());
            output_.push_back({*owner, static_cast<std::size_t>(first - owner->data()), size});
            after_copy = false;
            continue;
        }
        if (after_copy)
            output_.back().size += size;
        else
            output_.push_back({copies, copies_offset, size});
        copies_offset += size;
        after_copy = true;
    }
    output_bytes_ += asio::buffer_size(buffers);
}

}  // namespace rtmpgate::gateway::tunnel
