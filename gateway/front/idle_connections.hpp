// The HTTP connections that may be closed to make room when limits.max_connections is reached:
// those waiting for a request with no live RTMPT session on them, oldest first. A connection
// enters while it waits and leaves when a byte comes (or it ends); the accept loop, at the limit,
// evicts the oldest. A connection that a live session uses never enters, so it is never evicted.
#pragma once

#include <list>
#include <memory>
#include <mutex>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway::front {

// Thread-safe.
class idle_connections {
public:
    class entry;

    // `socket` waits for a request on the strand `strand`; call there. The socket must stay
    // alive until leave().
    std::shared_ptr<entry> enter(tcp::socket& socket, asio::any_io_executor strand);
    // On the same strand, once the wait is over; true when the connection was evicted meanwhile
    // (its wait ended with operation_aborted, or is about to): it must close.
    bool leave(entry& e);
    // Claims the connection that has waited longest and cancels its wait on its strand; false when
    // none waits.
    bool evict_oldest();
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::list<std::shared_ptr<entry>> waiting_;  // oldest first
};

class idle_connections::entry {
public:
    entry(tcp::socket& socket, asio::any_io_executor strand)
        : socket_(&socket), strand_(std::move(strand)) {}

private:
    friend class idle_connections;
    tcp::socket* socket_;  // on the strand only; null once the connection has left
    asio::any_io_executor strand_;
    bool evicted_ = false;  // under the set's mutex
    std::list<std::shared_ptr<entry>>::iterator position_;
};

}  // namespace rtmpgate::gateway::front
