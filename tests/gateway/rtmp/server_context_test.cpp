#include "gateway/rtmp/server_context.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include "protocol/chunk_decoder.hpp"

namespace rtmpgate::gateway {
namespace {

using bytes = std::vector<std::uint8_t>;

// A 200 KiB video message on chunk stream 4 at chunk size 4096, after the Set Chunk Size.
bytes set_chunk_size_and_message() {
    bytes in = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01,  // fmt 0, csid 2, Set Chunk Size
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,  // msid 0; 4096
                0x04, 0x00, 0x00, 0x00, 0x03, 0x20, 0x00, 0x09,  // fmt 0, csid 4, 200 KiB video
                0x01, 0x00, 0x00, 0x00};                         // msid 1
    const bytes piece(4096, 0x33);
    for (int i = 0; i < 50; ++i) {
        if (i != 0) in.push_back(0xC4);  // fmt 3, csid 4
        in.insert(in.end(), piece.begin(), piece.end());
    }
    return in;
}

// Connections run on a thread pool and their decoders share server_context::partial_messages
// (this runs in the ThreadSanitizer job). Four threads each decode the same message, round after
// round; in each round all four hold the first half of theirs (100 KiB: two steps of 64 KiB of
// the budget) at once before they go on. Returns how many messages were refused.
int race(std::uint64_t limit) {
    config c;
    c.limits.max_partial_message_bytes_total = limit;
    server_context context(c);
    const auto message = set_chunk_size_and_message();
    const auto in = std::span<const std::uint8_t>(message);
    const auto half = in.size() / 2;
    constexpr int threads = 4;
    std::barrier<> together(threads);
    std::atomic<int> refused{0};
    std::atomic<bool> over_limit{false};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int round = 0; round < 20; ++round) {
                protocol::chunk_decoder d({}, &context.partial_messages);
                std::vector<protocol::message> out;
                protocol::error_code ec;
                d.feed(in.first(half), out, ec);
                together.arrive_and_wait();
                if (context.partial_messages.used() > limit) over_limit = true;
                if (ec == protocol::error::need_more) d.feed(in.subspan(half), out, ec);
                if (ec == protocol::error::partial_bytes_over_budget)
                    ++refused;
                else
                    EXPECT_EQ(out.size(), 2u);
                together.arrive_and_wait();
            }
        });
    for (auto& t : pool) t.join();
    EXPECT_FALSE(over_limit);
    EXPECT_EQ(context.partial_messages.used(), 0u);
    return refused;
}

TEST(server_context, partial_messages_shared_by_decoders_on_many_threads) {
    EXPECT_EQ(race(4u << 20), 0);  // room for all four whole messages
    EXPECT_EQ(race(1u << 20), 0);  // four times 256 KiB, each whole message rounded up
    // Six steps: three of the four first halves fit; the others are refused, every round.
    EXPECT_GE(race(6 * protocol::chunk_decoder::partial_step), 20);
}

}  // namespace
}  // namespace rtmpgate::gateway
