#include "gateway/engine/stream_registry.hpp"

#include <algorithm>
#include <chrono>

namespace rtmpgate::gateway::engine {

std::shared_ptr<stream>& stream_registry::find_or_create(const std::string& key) {
    auto& entry = streams_[key];
    if (!entry) entry = std::make_shared<stream>(key, settings_);
    return entry;
}

// Lock order: the registry's mutex, then the stream's (release() takes them in the same order).
std::shared_ptr<stream> stream_registry::publish(const std::string& key, publisher_id owner,
                                                 publisher_drop drop, publisher_info who) {
    std::lock_guard lock(mutex_);
    const auto& target = find_or_create(key);
    if (target->attach_publisher(owner, std::move(drop), std::move(who))) return target;
    if (target->unused()) streams_.erase(key);
    return nullptr;
}

std::shared_ptr<stream> stream_registry::subscribe(const std::string& key,
                                                   std::shared_ptr<subscriber> s,
                                                   std::vector<protocol::message>& initial,
                                                   bool& playing) {
    std::lock_guard lock(mutex_);
    const auto& target = find_or_create(key);
    playing = target->subscribe(std::move(s), initial);
    return target;
}

std::optional<drop_result> stream_registry::drop(const std::string& key) {
    std::shared_ptr<stream> target;
    {
        std::lock_guard lock(mutex_);
        const auto it = streams_.find(key);
        if (it == streams_.end()) return std::nullopt;
        target = it->second;
    }
    // Without the registry's lock: the connections' leaving takes it.
    return target->drop();
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

engine_counts stream_registry::counts() const {
    std::lock_guard lock(mutex_);
    engine_counts total;
    total.streams = streams_.size();
    for (const auto& [key, s] : streams_) {
        const auto c = s->counts();
        if (c.published) {
            ++total.publishers;
            total.players += c.players;
        } else {
            total.players_waiting += c.players;
        }
        for (std::size_t i = 0; i < c.viewers.size(); ++i) total.viewers[i] += c.viewers[i];
    }
    return total;
}

std::vector<stream_info> stream_registry::info() const {
    const auto now = std::chrono::steady_clock::now();
    std::vector<stream_info> out;
    {
        std::lock_guard lock(mutex_);
        out.reserve(streams_.size());
        for (const auto& [key, s] : streams_) out.push_back(s->info(now));
    }
    std::sort(out.begin(), out.end(),
              [](const stream_info& a, const stream_info& b) { return a.key < b.key; });
    return out;
}

}  // namespace rtmpgate::gateway::engine
