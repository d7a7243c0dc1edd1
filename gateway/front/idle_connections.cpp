#include "gateway/front/idle_connections.hpp"

namespace rtmpgate::gateway::front {

std::shared_ptr<idle_connections::entry> idle_connections::enter(tcp::socket& socket,
                                                                 asio::any_io_executor strand) {
    auto e = std::make_shared<entry>(socket, std::move(strand));
    const std::lock_guard lock(mutex_);
    e->position_ = waiting_.insert(waiting_.end(), e);
    return e;
}

bool idle_connections::leave(entry& e) {
    // The cancellation evict_oldest() posted runs on this strand too: after this it finds no
    // socket, and cancels nothing the connection does next.
    e.socket_ = nullptr;
    const std::lock_guard lock(mutex_);
    if (e.evicted_) return true;
    waiting_.erase(e.position_);
    return false;
}

bool idle_connections::evict_oldest() {
    std::shared_ptr<entry> victim;
    {
        const std::lock_guard lock(mutex_);
        if (waiting_.empty()) return false;
        victim = std::move(waiting_.front());
        waiting_.pop_front();
        victim->evicted_ = true;
    }
    auto strand = victim->strand_;
    asio::post(strand, [victim = std::move(victim)] {
        if (!victim->socket_) return;  // it has left already, and knows it was evicted
        error_code ignored;
        victim->socket_->cancel(ignored);
    });
    return true;
}

std::size_t idle_connections::size() const {
    const std::lock_guard lock(mutex_);
    return waiting_.size();
}

}  // namespace rtmpgate::gateway::front
