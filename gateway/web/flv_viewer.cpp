#include "gateway/web/flv_viewer.hpp"

#include <utility>

namespace rtmpgate::gateway::web {

namespace {

// What a viewer may be delivered between its subscription and start(): the stream's messages of
// that instant (both happen in one turn of the viewer's strand).
constexpr std::size_t max_early_messages = 4096;

}  // namespace

flv_viewer::flv_viewer(asio::any_io_executor strand, std::size_t queue_bytes, bool websocket,
                       counters& stats)
    : strand_(std::move(strand)),
      websocket_(websocket),
      stats_(stats),
      queue_(queue_bytes),
      wake_(strand_, clock::time_point::max()) {}

std::string_view flv_viewer::transport() const noexcept {
    return websocket_ ? "ws-flv" : "http-flv";
}

void flv_viewer::deliver(const protocol::message& m, engine::media_class c) {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    if (!started_) {
        if (early_.size() >= max_early_messages) {
            ended_ = overflowed_ = true;
            reason_ = "output queue overflow";
            wake_locked();
            return;
        }
        early_.emplace_back(m, c);
        return;
    }
    push_locked(m, c);
}

void flv_viewer::push_locked(const protocol::message& m, engine::media_class c) {
    const auto messages = queue_.dropped_messages();
    const auto bytes = queue_.dropped_bytes();
    queue_.push(m, c);
    // Counted as it happens, not when the viewer ends: a viewer that lags for an hour shows.
    if (queue_.dropped_messages() != messages) {
        stats_.media_dropped_messages += queue_.dropped_messages() - messages;
        stats_.media_dropped_bytes += queue_.dropped_bytes() - bytes;
    }
    if (queue_.overflowed()) {
        // What can never be dropped has piled up: the viewer reads nothing. End it rather than
        // hold its messages without bound.
        ended_ = overflowed_ = true;
        reason_ = "output queue overflow";
    }
    wake_locked();
}

void flv_viewer::start(std::vector<protocol::message> initial, bool published) {
    std::lock_guard lock(mutex_);
    started_ = true;
    published_ = published_ || published;
    if (ended_) return;
    for (auto& m : initial) push_locked(m, engine::classify(m));
    for (auto& [m, c] : early_) push_locked(m, c);
    std::vector<std::pair<protocol::message, engine::media_class>>().swap(early_);
}

void flv_viewer::on_publish_start() {
    // A viewer that played a publisher that has left has ended; this is for one that waits
    // (wait_for_publisher).
    std::lock_guard lock(mutex_);
    published_ = true;
    wake_locked();
}

void flv_viewer::on_publish_stop() { end("the publisher left"); }

void flv_viewer::on_drop() {
    stats_.refusals.add(refusal::dropped_by_admin);
    end("dropped by the admin");
    forced_end();
}

void flv_viewer::shutdown() {
    end("shutdown");
    forced_end();
}

void flv_viewer::on_forced_end(std::function<void()> f) { forced_ = std::move(f); }

void flv_viewer::forced_end() {
    asio::post(strand_, [self = shared_from_this()] {
        if (self->forced_) self->forced_();
    });
}

void flv_viewer::end(std::string reason) {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = true;
    reason_ = std::move(reason);
    wake_locked();
}

void flv_viewer::end_if_waiting(std::string reason) {
    std::lock_guard lock(mutex_);
    if (ended_ || published_) return;
    ended_ = true;
    reason_ = std::move(reason);
    wake_locked();
}

void flv_viewer::wake_locked() {
    if (!waiting_ || wake_posted_) return;
    wake_posted_ = true;
    asio::post(strand_, [self = shared_from_this()] {
        {
            std::lock_guard lock(self->mutex_);
            self->wake_posted_ = false;
        }
        self->wake_.cancel();
    });
}

asio::awaitable<flv_viewer::wait_result> flv_viewer::next(std::vector<protocol::message>& out,
                                                          std::size_t max_bytes,
                                                          clock::time_point until) {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (ended_) co_return wait_result::ended;
            if (!queue_.empty()) {
                queue_.pop_batch(max_bytes, out);
                co_return wait_result::ready;
            }
            if (clock::now() >= until) co_return wait_result::idle;
            waiting_ = true;
        }
        if (!co_await sleep(until)) co_return wait_result::ended;
    }
}

asio::awaitable<bool> flv_viewer::wait_for_publisher(clock::time_point until) {
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (ended_) co_return false;
            if (published_) co_return true;
            if (clock::now() >= until) co_return false;
            waiting_ = true;
        }
        if (!co_await sleep(until)) co_return false;
    }
}

asio::awaitable<bool> flv_viewer::sleep(clock::time_point until) {
    wake_.expires_at(until);
    co_await wake_.async_wait(use_nothrow);  // expired, or woken (cancelled)
    {
        std::lock_guard lock(mutex_);
        waiting_ = false;
    }
    // Cancelled by the coroutine's own cancellation (the connection ends), not by a wake-up.
    const auto state = co_await asio::this_coro::cancellation_state;
    co_return state.cancelled() == asio::cancellation_type::none;
}

std::string flv_viewer::reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
}

std::uint64_t flv_viewer::dropped_messages() const {
    std::lock_guard lock(mutex_);
    return queue_.dropped_messages();
}

}  // namespace rtmpgate::gateway::web

namespace rtmpgate::gateway::web {

bool flv_viewer::overflowed() const {
    std::lock_guard lock(mutex_);
    return overflowed_;
}

}  // namespace rtmpgate::gateway::web
