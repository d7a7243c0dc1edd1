#include "gateway/rtmp/write_batch.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "protocol/control.hpp"

namespace rtmpgate::gateway::rtmp {
namespace {

using protocol::message;
using protocol::message_type;
using bytes = std::vector<std::uint8_t>;

// A video message of `size` octets (an inter frame: droppable) on chunk stream 7, counting up so
// that a misplaced slice shows.
message video(std::uint32_t timestamp, std::size_t size) {
    bytes body(size);
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<std::uint8_t>(i * 7 + timestamp);
    body[0] = 0x27;
    message m;
    m.chunk_stream_id = protocol::chunk_stream::video;
    m.timestamp = timestamp;
    m.message_type_id = static_cast<std::uint8_t>(message_type::video);
    m.message_stream_id = 1;
    m.payload = protocol::shared_bytes(body);
    return m;
}

bytes joined(std::span<const asio::const_buffer> buffers) {
    bytes out;
    for (const auto& b : buffers) {
        const auto* p = static_cast<const std::uint8_t*>(b.data());
        out.insert(out.end(), p, p + b.size());
    }
    return out;
}

// The messages of a batch, as the peer reads them: what chunk_encoder::encode makes of the same
// messages, Set Chunk Size included, whatever the batch's sizes (a keyframe of many chunks
// between small frames).
TEST(write_batch, its_buffers_are_the_encoded_messages_in_order) {
    const std::vector<message> messages = {protocol::make_set_chunk_size(4096), video(0, 100),
                                           video(40, 20'000), video(80, 100), video(120, 9000)};
    output_queue queue(1 << 20);
    for (const auto& m : messages) queue.push(m, media_class::essential);
    protocol::chunk_encoder encoder, reference;
    bytes expected;
    for (const auto& m : messages) reference.encode(m, expected);

    write_batch batch;
    batch.fill(queue, encoder, 1 << 20);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(joined(batch.buffers()), expected);
    EXPECT_EQ(batch.payloads().size(), messages.size());
}

// A write that stops anywhere (mid-header, mid-payload, on a boundary) leaves exactly the rest.
TEST(write_batch, consume_leaves_what_is_not_written) {
    const std::vector<message> messages = {video(0, 300), video(40, 5000)};
    bytes expected;
    protocol::chunk_encoder reference;
    reference.set_chunk_size(1000);
    for (const auto& m : messages) reference.encode(m, expected);
    for (std::size_t first = 0; first <= expected.size(); first += 97) {
        output_queue queue(1 << 20);
        for (const auto& m : messages) queue.push(m, media_class::frame);
        protocol::chunk_encoder encoder;
        encoder.set_chunk_size(1000);
        write_batch batch;
        batch.fill(queue, encoder, 1 << 20);
        batch.consume(first);
        EXPECT_EQ(joined(batch.buffers()), bytes(expected.begin() + first, expected.end()))
            << first;
        batch.consume(expected.size() - first);
        EXPECT_TRUE(batch.empty()) << first;
    }
}

}  // namespace
}  // namespace rtmpgate::gateway::rtmp
