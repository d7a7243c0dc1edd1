#include <vector>

#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway {

std::uint64_t connection_set::add(std::weak_ptr<closable> c) {
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    items_.emplace(id, std::move(c));
    return id;
}

void connection_set::remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    items_.erase(id);
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

}  // namespace rtmpgate::gateway
