// Gives the memory a burst of connections leaves free back to the system. glibc keeps what the
// process freed in its heaps, most of it below the top of a heap (so M_TRIM_THRESHOLD never
// applies): after 3,000 publishers came and went the gateway stayed at 465 of its 475 MiB peak,
// and malloc_trim(0), which also returns whole free pages inside the heaps, brought it to 25 MiB
// (tests/bench/memory_trim_bench.py; issue 11). A trim costs CPU (0.74 s for those 440 MiB) and
// holds each heap's lock while it works on it, and the next burst pays again to fault the pages
// back in, so it runs on a thread of its own and only after a burst: when the connections open
// have fallen to half of their peak since the last trim, and that peak was at least min_peak.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <thread>

#include "gateway/net/connection_set.hpp"

namespace rtmpgate::gateway {

class memory_trimmer {
public:
    static constexpr std::size_t min_peak = 256;

    // Looks at connections.size() every `interval` (which must be positive) on a thread of its
    // own, until destroyed. `connections` must outlive it.
    memory_trimmer(const connection_set& connections, std::chrono::milliseconds interval);
    // Stops the thread (at once, even while it waits) and joins it.
    ~memory_trimmer();
    memory_trimmer(const memory_trimmer&) = delete;
    memory_trimmer& operator=(const memory_trimmer&) = delete;

    // Whether to trim, given the most connections seen open since the last trim and now.
    static bool should_trim(std::size_t peak, std::size_t now) noexcept;
    // Trims done so far.
    std::uint64_t trims() const noexcept { return trims_.load(std::memory_order_relaxed); }
    // The most connections seen open since the last trim (as of the last look).
    std::size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }

private:
    void run(std::stop_token stop);

    const connection_set& connections_;
    const std::chrono::milliseconds interval_;
    std::atomic<std::uint64_t> trims_{0};
    std::atomic<std::size_t> peak_{0};
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::jthread thread_;  // last: starts once the members above are made
};

}  // namespace rtmpgate::gateway
