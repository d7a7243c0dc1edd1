#include "gateway/net/connection_set.hpp"

namespace rtmpgate::gateway {

std::uint64_t connection_set::add(std::weak_ptr<closable> c) {
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    items_.emplace(id, std::move(c));
    return id;
}

void connection_set::remove(std::uint64_t id) {
    std::vector<std::weak_ptr<asio::steady_timer>> waiters;
    {
        std::lock_guard lock(mutex_);
        items_.erase(id);
        if (items_.empty()) waiters.swap(empty_waiters_);
    }
    // A waiter's timer belongs to its strand: the move of its expiry into the past, which ends
    // the wait in progress, is posted there rather than done from this thread.
    for (auto& weak : waiters)
        if (auto timer = weak.lock())
            asio::post(timer->get_executor(),
                       [timer] { timer->expires_at(asio::steady_timer::time_point::min()); });
}

std::size_t connection_set::size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
}

void connection_set::shutdown_all() {
    std::vector<std::shared_ptr<closable>> live;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, weak] : items_)
            if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    for (auto& c : live) c->shutdown();
}

asio::awaitable<bool> connection_set::wait_empty_until(asio::steady_timer::time_point until) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    // Woken when the set empties; it may fill again (an /open on a keep-alive HTTP connection)
    // before this runs, so the set is looked at again.
    while (asio::steady_timer::clock_type::now() < until) {
        {
            std::lock_guard lock(mutex_);
            if (items_.empty()) co_return true;
            std::erase_if(empty_waiters_, [](const auto& w) { return w.expired(); });
            empty_waiters_.push_back(timer);
        }
        timer->expires_at(until);
        co_await timer->async_wait(use_nothrow);
    }
    co_return size() == 0;
}

}  // namespace rtmpgate::gateway
