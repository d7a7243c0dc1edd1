#include "gateway/backend/chunk_tracker.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "protocol/chunk_encoder.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::backend {
namespace {

using protocol::message;
using protocol::message_type;

message media(std::uint32_t chunk_stream_id, message_type type, std::uint32_t timestamp,
              std::size_t size) {
    message m;
    m.chunk_stream_id = chunk_stream_id;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = 1;
    m.timestamp = timestamp;
    m.payload = protocol::shared_bytes(std::vector<std::uint8_t>(size, 0x5A));
    return m;
}

message on(std::uint32_t chunk_stream_id, message m) {
    m.chunk_stream_id = chunk_stream_id;
    return m;
}

// A sender's chunk stream as protocol::chunk_encoder writes it, and the offsets where each of
// its messages ends.
struct wire {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> message_ends;
};

wire encode(const std::vector<message>& messages) {
    protocol::chunk_encoder encoder;
    wire w;
    for (const auto& m : messages) {
        encoder.encode(m, w.bytes);
        w.message_ends.push_back(w.bytes.size());
    }
    return w;
}

// What a sender such as nginx-rtmp writes: control, a bigger chunk size, interleaved audio and
// video longer than a chunk, timestamps past the 24-bit field, an empty message.
std::vector<message> a_session() {
    return {
        on(2, protocol::make_window_ack_size(5000000)), on(2, protocol::make_set_chunk_size(4096)),
        media(3, message_type::command_amf0, 0, 300),   media(6, message_type::video, 0, 10000),
        media(4, message_type::audio, 20, 200),         media(6, message_type::video, 40, 5000),
        media(6, message_type::video, 0x2000000, 9000),  // extended timestamps, three chunks
        media(6, message_type::video, 0x2000028, 100),  media(5, message_type::data_amf0, 0, 0),
        on(2, protocol::make_set_chunk_size(128)),      media(4, message_type::audio, 60, 1000),
    };
}

TEST(chunk_tracker, ends_of_messages_are_boundaries_whatever_the_reads) {
    const auto w = encode(a_session());
    // One read, then every split in two, then octet by octet.
    {
        chunk_tracker t;
        t.feed(w.bytes);
        EXPECT_TRUE(t.at_boundary());
    }
    for (std::size_t cut = 1; cut < w.bytes.size(); cut += 7) {
        chunk_tracker t;
        t.feed({w.bytes.data(), cut});
        t.feed({w.bytes.data() + cut, w.bytes.size() - cut});
        EXPECT_TRUE(t.at_boundary()) << cut;
        EXPECT_FALSE(t.lost()) << cut;
    }
    chunk_tracker t;
    std::size_t next_end = 0;
    for (std::size_t i = 0; i < w.bytes.size(); ++i) {
        t.feed({w.bytes.data() + i, 1});
        if (i + 1 == w.message_ends[next_end]) {
            EXPECT_TRUE(t.at_boundary()) << "end of message " << next_end;
            ++next_end;
        } else if (next_end < w.message_ends.size() && i + 2 == w.message_ends[next_end] &&
                   w.message_ends[next_end] - (next_end ? w.message_ends[next_end - 1] : 0) > 12) {
            EXPECT_FALSE(t.at_boundary()) << "last octet of message " << next_end << " to come";
        }
    }
    EXPECT_EQ(next_end, w.message_ends.size());
    EXPECT_FALSE(t.lost());
}

TEST(chunk_tracker, a_header_cut_short_is_not_a_boundary) {
    const auto w = encode({media(6, message_type::video, 0, 10)});
    chunk_tracker t;
    EXPECT_TRUE(t.at_boundary());
    t.feed({w.bytes.data(), 5});
    EXPECT_FALSE(t.at_boundary());
    t.feed({w.bytes.data() + 5, w.bytes.size() - 5});
    EXPECT_TRUE(t.at_boundary());
}

TEST(chunk_tracker, a_message_of_its_own_goes_on_a_chunk_stream_the_sender_never_used) {
    chunk_tracker t;
    EXPECT_EQ(t.unused_chunk_stream(), 3u);
    const auto w = encode(a_session());  // chunk streams 2 to 6
    t.feed(w.bytes);
    EXPECT_EQ(t.unused_chunk_stream(), 7u);
    std::vector<message> many;
    for (std::uint32_t id = 7; id < 32; ++id) many.push_back(media(id, message_type::audio, 0, 1));
    protocol::chunk_encoder encoder;
    std::vector<std::uint8_t> bytes;
    for (const auto& m : many) encoder.encode(m, bytes);
    t.feed(bytes);
    EXPECT_FALSE(t.unused_chunk_stream());  // 3..31 all taken (nginx-rtmp refuses 32 and up)
}

TEST(chunk_tracker, abort_ends_the_partly_sent_message) {
    protocol::chunk_encoder encoder;
    std::vector<std::uint8_t> first;
    encoder.encode(media(6, message_type::video, 0, 300), first);
    chunk_tracker t;
    t.feed({first.data(), 12 + 128});  // the first chunk only: 172 octets still to come
    EXPECT_TRUE(t.at_boundary());
    std::vector<std::uint8_t> rest;
    protocol::chunk_encoder other;
    message abort = protocol::make_set_chunk_size(6);
    abort.message_type_id = static_cast<std::uint8_t>(message_type::abort);
    other.encode(on(2, abort), rest);
    // A new message on chunk stream 6, format 0: framed as a message of its own only because
    // the abort ended the first one.
    other.encode(media(6, message_type::video, 40, 50), rest);
    t.feed(rest);
    EXPECT_TRUE(t.at_boundary());
    EXPECT_FALSE(t.lost());
}

TEST(chunk_tracker, gives_up_on_what_it_cannot_follow) {
    // Format 1 on a chunk stream never started: ids of 7, length 3, type 8, then payload.
    const std::uint8_t format1_first[] = {0x47, 0, 0, 0, 0, 0, 3, 8, 1, 2, 3};
    chunk_tracker t;
    t.feed(format1_first);
    EXPECT_TRUE(t.lost());
    EXPECT_FALSE(t.at_boundary());

    // A new message header in the middle of a message.
    protocol::chunk_encoder encoder;
    std::vector<std::uint8_t> bytes;
    encoder.encode(media(6, message_type::video, 0, 300), bytes);
    bytes.resize(12 + 128);
    protocol::chunk_encoder fresh;
    fresh.encode(media(6, message_type::video, 0, 10), bytes);
    chunk_tracker u;
    u.feed(bytes);
    EXPECT_TRUE(u.lost());

    // Set Chunk Size 0.
    std::vector<std::uint8_t> zero;
    protocol::chunk_encoder e;
    e.encode(on(2, protocol::make_set_chunk_size(0)), zero);
    chunk_tracker v;
    v.feed(zero);
    EXPECT_TRUE(v.lost());

    // More chunk streams than it keeps.
    std::vector<std::uint8_t> wide;
    protocol::chunk_encoder w;
    for (std::uint32_t id = 64; id < 64 + chunk_tracker::max_chunk_streams + 1; ++id)
        w.encode(media(id, message_type::audio, 0, 1), wide);
    chunk_tracker x;
    x.feed(wide);
    EXPECT_TRUE(x.lost());
}

TEST(chunk_tracker, format_3_without_extended_timestamp_from_older_senders) {
    // Chunk stream 6: a 200-octet video message at timestamp 0x1000000 from a sender that leaves
    // the extended timestamp out of format-3 headers.
    std::vector<std::uint8_t> bytes = {0x06, 0xFF, 0xFF, 0xFF, 0,    0,    200,  9,
                                       1,    0,    0,    0,    0x01, 0x00, 0x00, 0x00};
    bytes.insert(bytes.end(), 128, 0xAB);
    bytes.push_back(0xC6);  // format 3, no extended timestamp: 72 octets of payload follow
    bytes.insert(bytes.end(), 72, 0xCD);
    chunk_tracker t;
    t.feed(bytes);
    EXPECT_TRUE(t.at_boundary());
    EXPECT_FALSE(t.lost());
}

}  // namespace
}  // namespace rtmpgate::gateway::backend
