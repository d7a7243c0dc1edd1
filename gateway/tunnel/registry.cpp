#include "gateway/tunnel/registry.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace rtmpgate::gateway::tunnel {

namespace {

constexpr std::size_t id_length = 24;  // ~143 bits; ffmpeg reads at most 63 bytes of the id
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

registry::registry(session_limits limits, std::size_t max_sessions, std::string node_id)
    : limits_(limits), max_sessions_(max_sessions), node_id_(std::move(node_id)) {}

std::string registry::make_id() const {
    std::string id = node_id_.empty() ? std::string() : node_id_ + "-";
    std::array<unsigned char, 64> random{};
    while (id.size() < node_id_.size() + (node_id_.empty() ? 0 : 1) + id_length) {
        if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
            throw std::runtime_error("RAND_bytes failed");
        for (unsigned char r : random) {
            // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
            if (r < 248 && id.size() < node_id_.size() + (node_id_.empty() ? 0 : 1) + id_length)
                id += alphabet[r % alphabet.size()];
        }
    }
    return id;
}

std::shared_ptr<rtmpt_session> registry::create(asio::any_io_executor strand) {
    auto id = make_id();
    std::lock_guard lock(mutex_);
    if (sessions_.size() >= max_sessions_) return nullptr;
    auto s = std::make_shared<rtmpt_session>(id, std::move(strand), limits_);
    s->start_expiry([this](const std::string& expired) { remove(expired); });
    sessions_.emplace(std::move(id), s);
    return s;
}

std::shared_ptr<rtmpt_session> registry::find(std::string_view id) const {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

void registry::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

std::size_t registry::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

}  // namespace rtmpgate::gateway::tunnel
