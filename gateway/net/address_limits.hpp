// Bounds per client address, so that one address cannot take every place of the process-wide
// limits: connections at once (limits.max_connections_per_address), live RTMPT sessions
// (rtmpt.max_sessions_per_address) and RTMPT /open requests per second
// (rtmpt.max_opens_per_second_per_address). The address is client_address::address(): the
// client a trusted proxy declared, or the socket's peer.
//
// One table for the process, shared by every strand under one mutex (a lookup per accepted
// socket and per /open, never per message). Every part of it is bounded: an address holding
// places is in it only while it holds one (so there are never more than limits.max_connections
// or rtmpt.max_sessions such entries), and the tables of /open rates and of refusals logged keep
// at most a fixed number of addresses, whose entries expire.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

struct address_limit_settings {
    std::size_t max_connections = 0;       // per address at once; 0: no limit
    std::size_t max_sessions = 0;          // live RTMPT sessions per address; 0: no limit
    std::size_t max_opens_per_second = 0;  // /open per address per second; 0: no limit
    // Addresses whose /open requests are counted at once. An address new to a full table, whose
    // entries are all younger than a second, is let through uncounted: so many addresses at once
    // are what rtmpt.max_sessions bounds, and refusing them would refuse everyone.
    std::size_t max_rate_addresses = 65536;
    // Refusals are all counted but logged once per address per log_interval, for at most
    // max_log_addresses addresses per interval (beyond: counted, not logged).
    std::size_t max_log_addresses = 4096;
    std::chrono::milliseconds log_interval{10000};
};

class address_limits {
public:
    using clock = std::chrono::steady_clock;
    enum class kind : std::uint8_t { connection, session };

    // One place held by one address (a connection, a session), given back when destroyed. An
    // empty place holds nothing (no limit is configured).
    class place {
    public:
        place() = default;
        place(place&& other) noexcept;
        place& operator=(place&& other) noexcept;
        ~place();

        bool holds() const noexcept { return owner_ != nullptr; }

    private:
        friend class address_limits;
        place(address_limits& owner, kind k, const asio::ip::address& a)
            : owner_(&owner), kind_(k), address_(a) {}
        void give_back() noexcept;

        address_limits* owner_ = nullptr;
        kind kind_ = kind::connection;
        asio::ip::address address_;
    };

    explicit address_limits(address_limit_settings settings);
    address_limits(const address_limits&) = delete;
    address_limits& operator=(const address_limits&) = delete;

    // A place of `k` for `a`; nullopt when `a` holds its maximum already (the caller refuses). An
    // empty place when that maximum is 0 (no limit). The limits object must outlive its places.
    std::optional<place> take(kind k, const asio::ip::address& a);
    // Whether `a` may open an RTMPT session at `now`: true for its first
    // max_opens_per_second /open requests in a second that begins with the first of them.
    bool allow_open(const asio::ip::address& a, clock::time_point now = clock::now());
    // Whether a refusal of `a` at `now` is to be logged: its first in log_interval.
    bool should_log(const asio::ip::address& a, clock::time_point now = clock::now());

    // Places of `k` that `a` holds now, and addresses holding places of `k` (for tests).
    std::size_t held(kind k, const asio::ip::address& a) const;
    std::size_t addresses(kind k) const;
    std::size_t rate_addresses() const;  // entries of the /open rate table (for tests)

    const address_limit_settings& settings() const noexcept { return settings_; }

private:
    using table = std::unordered_map<asio::ip::address, std::size_t>;
    struct window {
        clock::time_point start;
        std::size_t opens = 0;
    };

    void give_back(kind k, const asio::ip::address& a) noexcept;
    table& counts(kind k) { return k == kind::connection ? connections_ : sessions_; }
    const table& counts(kind k) const { return k == kind::connection ? connections_ : sessions_; }
    std::size_t maximum(kind k) const {
        return k == kind::connection ? settings_.max_connections : settings_.max_sessions;
    }

    const address_limit_settings settings_;
    mutable std::mutex mutex_;
    table connections_;
    table sessions_;
    std::unordered_map<asio::ip::address, window> opens_;
    clock::time_point opens_swept_{};
    std::unordered_map<asio::ip::address, clock::time_point> logged_;
    clock::time_point logged_swept_{};
};

// `a` with an IPv4-mapped IPv6 address (::ffff:192.0.2.1) written as the IPv4 address it maps:
// one client, one key, whichever socket family it came through.
asio::ip::address canonical_address(const asio::ip::address& a);

}  // namespace rtmpgate::gateway
