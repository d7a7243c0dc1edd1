#include "gateway/engine/stream_registry.hpp"

namespace rtmpgate::gateway::engine {

std::shared_ptr<stream> stream_registry::acquire(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& entry = streams_[key];
    if (!entry) entry = std::make_shared<stream>(key, settings_);
    return entry;
}

void stream_registry::release(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = streams_.find(key);
    if (it != streams_.end() && it->second->unused()) streams_.erase(it);
}

std::size_t stream_registry::size() const {
    std::lock_guard lock(mutex_);
    return streams_.size();
}

}  // namespace rtmpgate::gateway::engine
