#include "gateway/net/memory_trimmer.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "gateway/net/log.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rtmpgate::gateway {

namespace {

// Resident size in KiB, from /proc/self/statm (0 where there is none).
std::uint64_t resident_kib() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

// Other C libraries give freed memory back by themselves, or offer no way to ask.
void give_back_freed_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

}  // namespace

memory_trimmer::memory_trimmer(const connection_set& connections,
                               std::chrono::milliseconds interval)
    : connections_(connections),
      interval_(interval),
      thread_([this](std::stop_token stop) { run(stop); }) {}

memory_trimmer::~memory_trimmer() {
    thread_.request_stop();  // wakes the wait below
    thread_.join();
}

bool memory_trimmer::should_trim(std::size_t peak, std::size_t now) noexcept {
    return peak >= min_peak && now <= peak / 2;
}

void memory_trimmer::run(std::stop_token stop) {
    std::size_t peak = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
        // Nothing notifies wake_: it waits for the interval or for the stop request.
        wake_.wait_for(lock, stop, interval_, [] { return false; });
        if (stop.stop_requested()) return;
        const auto now = connections_.size();
        peak = std::max(peak, now);
        peak_.store(peak, std::memory_order_relaxed);
        if (!should_trim(peak, now)) continue;
        const auto before = resident_kib();
        const auto started = std::chrono::steady_clock::now();
        give_back_freed_memory();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        log::info("memory: connections fell from ", peak, " to ", now,
                  "; freed memory given back to the system in ", ms, " ms, resident ",
                  before / 1024, " -> ", resident_kib() / 1024, " MiB");
        peak = now;
        peak_.store(peak, std::memory_order_relaxed);
        trims_.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace rtmpgate::gateway
