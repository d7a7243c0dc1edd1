#include "protocol/shared_bytes.hpp"

#include <sanitizer/asan_interface.h>  // no-op macros outside AddressSanitizer builds

#include <array>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace rtmpgate::protocol {

namespace detail {
namespace {

// Block sizes (head included): 64 octets, then four classes per doubling up to 256 KiB, so a
// block is at most a quarter larger than asked (a 1 KiB audio or video message takes 1280).
// Larger blocks are rare (keyframes of high-rate streams) and go straight to operator new.
constexpr std::size_t smallest_block = 64;
constexpr std::size_t largest_pooled = 256 << 10;
constexpr std::uint32_t class_count = 49;
constexpr std::uint32_t unpooled = class_count;

constexpr std::uint32_t class_of(std::size_t total) noexcept {
    if (total <= smallest_block) return 0;
    // 2^(k-1) < total <= 2^k; the classes of that doubling are 5, 6, 7 and 8 eighths of 2^k.
    const auto k = static_cast<std::uint32_t>(std::bit_width(total - 1));
    const auto quarter = static_cast<std::uint32_t>((total - 1) >> (k - 3)) - 4;
    return 1 + (k - 7) * 4 + quarter;
}

constexpr std::size_t class_size(std::uint32_t size_class) noexcept {
    if (size_class == 0) return smallest_block;
    const auto k = 7 + (size_class - 1) / 4;
    const auto eighths = 5 + (size_class - 1) % 4;
    return std::size_t{eighths} << (k - 3);
}

static_assert(class_of(largest_pooled) == class_count - 1);
static_assert(class_size(class_of(1040)) == 1280);
static_assert(class_size(class_of(65)) == 80 && class_size(class_of(129)) == 160);

// Bounds of one thread's cache: a thread that frees more than it allocates (a player's thread
// releasing what a publisher's thread decoded) hands the surplus back to the heap.
constexpr std::uint32_t max_blocks_per_class = 32;
constexpr std::size_t max_cached_bytes = 1 << 20;

// Trivially destructible, so that it can still be reached (as closed) by blocks released from
// destructors that run after the thread's reaper.
struct block_cache {
    // The block freed last of each class is kept apart from the list, so that the steady
    // free-then-allocate of a stream takes it back without reading a link out of it.
    std::array<bytes_block*, class_count> hot{};
    std::array<bytes_block*, class_count> free{};
    std::array<std::uint32_t, class_count> count{};
    std::size_t bytes = 0;
    bool reaper_made = false;
    bool closed = false;
};
thread_local block_cache cache;

void free_block(bytes_block* block) noexcept { ::operator delete(static_cast<void*>(block)); }

void free_cached_blocks() noexcept {
    for (std::uint32_t c = 0; c < class_count; ++c) {
        if (auto* block = std::exchange(cache.hot[c], nullptr)) free_block(block);
        while (auto* block = cache.free[c]) {
            ASAN_UNPOISON_MEMORY_REGION(block, sizeof(bytes_block));
            cache.free[c] = block->next;
            free_block(block);
        }
        cache.count[c] = 0;
    }
    cache.bytes = 0;
}

// Empties the thread's cache when the thread ends.
struct cache_reaper {
    cache_reaper() = default;
    cache_reaper(const cache_reaper&) = delete;
    cache_reaper& operator=(const cache_reaper&) = delete;
    ~cache_reaper() {
        cache.closed = true;
        free_cached_blocks();
    }
};
thread_local cache_reaper reaper;

bytes_block* take_block(std::size_t size) {
    const auto total = sizeof(bytes_block) + size;
    if (total > largest_pooled) {
        auto* block = static_cast<bytes_block*>(::operator new(total));
        block->size_class = unpooled;
        return block;
    }
    const auto size_class = class_of(total);
    auto* block = cache.hot[size_class];
    if (block != nullptr) {
        cache.hot[size_class] = nullptr;
    } else if ((block = cache.free[size_class]) != nullptr) {
        ASAN_UNPOISON_MEMORY_REGION(block, sizeof(bytes_block));
        cache.free[size_class] = block->next;
    }
    if (block != nullptr) {
        ASAN_UNPOISON_MEMORY_REGION(block, sizeof(bytes_block) + size);
        --cache.count[size_class];
        cache.bytes -= class_size(size_class);
    } else {
        block = static_cast<bytes_block*>(::operator new(class_size(size_class)));
        block->size_class = size_class;
        // The tail past `size` stays unaddressable to AddressSanitizer, as a plain new[] would.
        ASAN_POISON_MEMORY_REGION(reinterpret_cast<std::uint8_t*>(block + 1) + size,
                                  class_size(size_class) - sizeof(bytes_block) - size);
    }
    return block;
}

}  // namespace

void release(bytes_block* block) noexcept {
    // The sole owner has nobody to race with and skips the atomic read-modify-write. The acquire
    // pairs with the release of the owners that went before, so their reads of the octets are
    // over before the block is reused.
    if (block->refs.load(std::memory_order_acquire) != 1 &&
        block->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    const auto size_class = block->size_class;
    if (size_class == unpooled || cache.closed || cache.count[size_class] == max_blocks_per_class ||
        cache.bytes + class_size(size_class) > max_cached_bytes) {
        free_block(block);
        return;
    }
    if (!cache.reaper_made) {
        (void)&reaper;  // an odr-use, which makes the thread's reaper before its cache holds a
                        // block
        cache.reaper_made = true;
    }
    if (cache.hot[size_class] == nullptr) {
        cache.hot[size_class] = block;
    } else {
        block->next = cache.free[size_class];
        cache.free[size_class] = block;
    }
    ++cache.count[size_class];
    cache.bytes += class_size(size_class);
    // Waiting in the cache: any read through a stale pointer is a use after free.
    ASAN_POISON_MEMORY_REGION(block, class_size(size_class));
}

}  // namespace detail

shared_bytes::shared_bytes(std::span<const std::uint8_t> bytes) {
    std::uint8_t* fill = nullptr;
    *this = allocate(bytes.size(), fill);
    if (!bytes.empty()) std::memcpy(fill, bytes.data(), bytes.size());
}

shared_bytes shared_bytes::allocate(std::size_t size, std::uint8_t*& fill) {
    shared_bytes out;
    if (size == 0) {
        fill = nullptr;
        return out;
    }
    out.block_ = detail::take_block(size);
    out.block_->refs.store(1, std::memory_order_relaxed);
    out.size_ = size;
    fill = reinterpret_cast<std::uint8_t*>(out.block_ + 1);
    return out;
}

bytes_cache_stats thread_bytes_cache() noexcept {
    bytes_cache_stats stats;
    for (const auto n : detail::cache.count) stats.blocks += n;
    stats.bytes = detail::cache.bytes;
    return stats;
}

void trim_thread_bytes_cache() noexcept { detail::free_cached_blocks(); }

}  // namespace rtmpgate::protocol
