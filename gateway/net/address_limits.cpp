#include "gateway/net/address_limits.hpp"

#include <utility>

namespace rtmpgate::gateway {

asio::ip::address canonical_address(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a;
}

address_limits::place::place(place&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), kind_(other.kind_), address_(other.address_) {}

address_limits::place& address_limits::place::operator=(place&& other) noexcept {
    if (this != &other) {
        give_back();
        owner_ = std::exchange(other.owner_, nullptr);
        kind_ = other.kind_;
        address_ = other.address_;
    }
    return *this;
}

address_limits::place::~place() { give_back(); }

void address_limits::place::give_back() noexcept {
    if (owner_) std::exchange(owner_, nullptr)->give_back(kind_, address_);
}

address_limits::address_limits(address_limit_settings settings) : settings_(settings) {}

std::optional<address_limits::place> address_limits::take(kind k, const asio::ip::address& a) {
    const auto maximum_held = maximum(k);
    if (maximum_held == 0) return place();
    const auto key = canonical_address(a);
    std::lock_guard lock(mutex_);
    auto& held = counts(k)[key];
    if (held >= maximum_held) return std::nullopt;  // the entry holds at least one: kept
    ++held;
    return place(*this, k, key);
}

void address_limits::give_back(kind k, const asio::ip::address& a) noexcept {
    std::lock_guard lock(mutex_);
    auto& t = counts(k);
    const auto it = t.find(a);
    // Forgotten at 0: the table holds only addresses that hold places.
    if (it != t.end() && --it->second == 0) t.erase(it);
}

bool address_limits::allow_open(const asio::ip::address& a, clock::time_point now) {
    if (settings_.max_opens_per_second == 0) return true;
    constexpr auto second = std::chrono::seconds(1);
    const auto key = canonical_address(a);
    std::lock_guard lock(mutex_);
    auto it = opens_.find(key);
    if (it == opens_.end()) {
        if (opens_.size() >= settings_.max_rate_addresses) {
            // Entries a second old are over: forget them, at most once a second, so that a table
            // full of live entries costs no sweep per /open.
            if (now - opens_swept_ < second) return true;
            opens_swept_ = now;
            std::erase_if(opens_, [&](const auto& e) { return now - e.second.start >= second; });
            if (opens_.size() >= settings_.max_rate_addresses) return true;  // see the header
        }
        it = opens_.emplace(key, window{now, 0}).first;
    } else if (now - it->second.start >= second) {
        it->second = window{now, 0};
    }
    if (it->second.opens >= settings_.max_opens_per_second) return false;
    ++it->second.opens;
    return true;
}

bool address_limits::should_log(const asio::ip::address& a, clock::time_point now) {
    const auto key = canonical_address(a);
    const auto interval = settings_.log_interval;
    std::lock_guard lock(mutex_);
    auto it = logged_.find(key);
    if (it != logged_.end()) {
        if (now - it->second < interval) return false;
        it->second = now;
        return true;
    }
    if (logged_.size() >= settings_.max_log_addresses) {
        if (now - logged_swept_ < interval) return false;
        logged_swept_ = now;
        std::erase_if(logged_, [&](const auto& e) { return now - e.second >= interval; });
        if (logged_.size() >= settings_.max_log_addresses) return false;
    }
    logged_.emplace(key, now);
    return true;
}

std::size_t address_limits::held(kind k, const asio::ip::address& a) const {
    std::lock_guard lock(mutex_);
    const auto& t = counts(k);
    const auto it = t.find(canonical_address(a));
    return it == t.end() ? 0 : it->second;
}

std::size_t address_limits::addresses(kind k) const {
    std::lock_guard lock(mutex_);
    return counts(k).size();
}

std::size_t address_limits::rate_addresses() const {
    std::lock_guard lock(mutex_);
    return opens_.size();
}

}  // namespace rtmpgate::gateway
