// Immutable bytes shared by reference count: one received media message sits in every player's
// queue without a copy. The octets and their count are one block; blocks of up to 256 KiB are
// kept for reuse by the thread that frees them (a bounded cache per thread), since a live stream
// allocates and frees one payload per message at a steady rate and mostly of a few sizes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace rtmpgate::protocol {

namespace detail {
// The head of a block; the octets follow it. 16 octets, so the octets are 16-aligned.
struct alignas(16) bytes_block {
    std::atomic<std::uint32_t> refs;
    std::uint32_t size_class;  // index into the cache's classes, or unpooled
    bytes_block* next;         // the next free block while this one waits in a cache
};
static_assert(sizeof(bytes_block) == 16);
void release(bytes_block* block) noexcept;
}  // namespace detail

// Empty payloads hold no block. Copies share the block; the last owner to go frees it. A block's
// octets are never written once it has been copied, so any number of threads may read it.
class shared_bytes {
public:
    shared_bytes() = default;
    // A copy of `bytes`.
    explicit shared_bytes(std::span<const std::uint8_t> bytes);
    // A new block of `size` octets, not initialised (what the chunk decoder fills chunk by
    // chunk). `fill` points at its octets: the caller writes every one before it copies the
    // result or hands it to another thread.
    static shared_bytes allocate(std::size_t size, std::uint8_t*& fill);

    shared_bytes(const shared_bytes& other) noexcept : block_(other.block_), size_(other.size_) {
        if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    shared_bytes(shared_bytes&& other) noexcept : block_(other.block_), size_(other.size_) {
        other.block_ = nullptr;
        other.size_ = 0;
    }
    shared_bytes& operator=(const shared_bytes& other) noexcept {
        shared_bytes(other).swap(*this);
        return *this;
    }
    shared_bytes& operator=(shared_bytes&& other) noexcept {
        shared_bytes(std::move(other)).swap(*this);
        return *this;
    }
    ~shared_bytes() {
        if (block_ != nullptr) detail::release(block_);
    }

    std::span<const std::uint8_t> span() const noexcept { return {data(), size_}; }
    const std::uint8_t* data() const noexcept {
        return block_ == nullptr ? nullptr : reinterpret_cast<const std::uint8_t*>(block_ + 1);
    }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    long use_count() const noexcept {
        return block_ == nullptr ? 0 : block_->refs.load(std::memory_order_relaxed);
    }

    void swap(shared_bytes& other) noexcept {
        std::swap(block_, other.block_);
        std::swap(size_, other.size_);
    }

private:
    detail::bytes_block* block_ = nullptr;
    std::size_t size_ = 0;
};

// What the calling thread's cache of free blocks holds (for tests and metrics).
struct bytes_cache_stats {
    std::size_t blocks = 0;
    std::size_t bytes = 0;  // block sizes, heads included
};
bytes_cache_stats thread_bytes_cache() noexcept;
// Frees every block in the calling thread's cache.
void trim_thread_bytes_cache() noexcept;

}  // namespace rtmpgate::protocol
