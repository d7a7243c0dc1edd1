// The live client connections and tunnel sessions of the process, so that a shutdown can end them.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace rtmpgate::gateway {

// Something a shutdown must end: a client connection, a tunnel session.
class closable {
public:
    virtual ~closable() = default;
    // Thread-safe: ends the object on its own strand.
    virtual void shutdown() = 0;
};

class connection_set {
public:
    std::uint64_t add(std::weak_ptr<closable> c);
    void remove(std::uint64_t id);
    std::size_t size() const;
    void shutdown_all();

private:
    mutable std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<closable>> items_;
};

}  // namespace rtmpgate::gateway
