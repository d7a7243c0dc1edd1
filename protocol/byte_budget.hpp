// A number of bytes that many owners draw on at once, up to a limit: the process-wide bound on
// the bytes of partly received messages, which every connection's chunk_decoder takes from and
// gives back to. Safe to use from any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>

namespace rtmpgate::protocol {

class byte_budget {
public:
    explicit byte_budget(std::uint64_t limit) noexcept : limit_(limit) {}
    byte_budget(const byte_budget&) = delete;
    byte_budget& operator=(const byte_budget&) = delete;

    // Takes `n` bytes if that keeps the total within the limit; otherwise takes nothing and
    // returns false. Exact: two threads racing for the last bytes cannot both get them.
    bool try_take(std::uint64_t n) noexcept {
        auto used = used_.load(std::memory_order_relaxed);
        do {
            if (n > limit_ - used) return false;
        } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
        return true;
    }

    // Gives back `n` bytes taken earlier by try_take.
    void give_back(std::uint64_t n) noexcept { used_.fetch_sub(n, std::memory_order_relaxed); }

    std::uint64_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    std::uint64_t limit() const noexcept { return limit_; }

private:
    const std::uint64_t limit_;
    std::atomic<std::uint64_t> used_{0};
};

}  // namespace rtmpgate::protocol
