// The live client connections and tunnel sessions of the process, so that a shutdown can end them
// and wait for them to be gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

// Something a shutdown must end: a client connection, a tunnel session.
class closable {
public:
    virtual ~closable() = default;
    // Thread-safe: ends the object on its own strand.
    virtual void shutdown() = 0;
};

// Thread-safe.
class connection_set {
public:
    std::uint64_t add(std::weak_ptr<closable> c);
    // The remove() that empties the set wakes every wait_empty_until() in progress.
    void remove(std::uint64_t id);
    std::size_t size() const;
    void shutdown_all();

    // Waits until the set is empty or `until` passes, without polling; true when it is empty.
    // The caller's executor must be a strand (or an io_context run by one thread): the wake-up
    // is posted to it.
    asio::awaitable<bool> wait_empty_until(asio::steady_timer::time_point until);

private:
    mutable std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<closable>> items_;
    std::vector<std::weak_ptr<asio::steady_timer>> empty_waiters_;
};

}  // namespace rtmpgate::gateway
