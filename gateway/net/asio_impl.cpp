// The one translation unit that compiles Asio, Asio's OpenSSL glue and Beast
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION keep them out of the rest).
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/object_pool.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace rtmpgate::gateway {
namespace {

// Where the epoll reactor's per-socket states live. Asio keeps one for every socket open at
// once, for the life of the process (a pool it reuses, never freed). Allocated one by one, each
// amid the memory of the connection it came with, they pinned a page each once a burst of
// connections had closed: after 5,000 of them, malloc_trim left 20 MiB resident for 1 MiB in
// use. Taken here from slabs of their own, they stay together. Thread-safe; memory given back is
// reused, and the slabs last as long as the process.
class descriptor_state_slabs {
public:
    using state = boost::asio::detail::epoll_reactor::descriptor_state;

    static void* take() {
        auto& s = instance();
        const std::lock_guard lock(s.mutex_);
        if (s.free_.empty()) {
            s.slabs_.emplace_back(new slot[per_slab]);
            for (std::size_t i = per_slab; i-- > 0;) s.free_.push_back(&s.slabs_.back()[i]);
        }
        void* p = s.free_.back();
        s.free_.pop_back();
        return p;
    }

    static void give_back(void* p) {
        auto& s = instance();
        const std::lock_guard lock(s.mutex_);
        s.free_.push_back(static_cast<slot*>(p));
    }

private:
    struct slot {
        alignas(state) std::byte bytes[sizeof(state)];
    };
    static constexpr std::size_t per_slab = 128;

    static descriptor_state_slabs& instance() {
        static descriptor_state_slabs s;  // destroyed after every io_context of main's
        return s;
    }

    std::mutex mutex_;
    std::vector<std::unique_ptr<slot[]>> slabs_;
    std::vector<slot*> free_;
};

}  // namespace
}  // namespace rtmpgate::gateway

// Asio makes and destroys the states through object_pool_access (epoll_reactor.ipp, compiled
// only below): these specialisations, seen before it, place them in the slabs.
template <>
boost::asio::detail::epoll_reactor::descriptor_state* boost::asio::detail::object_pool_access::
    create<boost::asio::detail::epoll_reactor::descriptor_state, bool>(bool locking) {
    using slabs = rtmpgate::gateway::descriptor_state_slabs;
    void* p = slabs::take();
    try {
        return new (p) slabs::state(locking);
    } catch (...) {
        slabs::give_back(p);
        throw;
    }
}

template <>
void boost::asio::detail::object_pool_access::destroy<
    boost::asio::detail::epoll_reactor::descriptor_state>(
    boost::asio::detail::epoll_reactor::descriptor_state* o) {
    o->~descriptor_state();
    rtmpgate::gateway::descriptor_state_slabs::give_back(o);
}

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
// GCC 12 with -O2 and the sanitizers reports boost::optional's storage in Beast's
// basic_parser::content_length() as maybe-uninitialized (a known false positive); with
// RTMPGATE_WERROR it would stop the build. Silenced for Beast's sources only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/src.hpp>
#pragma GCC diagnostic pop
