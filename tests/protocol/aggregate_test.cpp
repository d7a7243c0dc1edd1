#include "protocol/aggregate.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "tests/protocol/amf_wire.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::to_vector;
using test::wire;

std::vector<std::uint8_t> vec(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

// An aggregate (RTMP 1.0 spec 7.1.6) as FMS and Wowza send it: an audio and a video sub-message,
// each with its back pointer.
constexpr auto audio_sub = wire(bytes(0x08),                     // type 8: audio
                                bytes(0x00, 0x00, 0x04),         // payload length 4
                                bytes(0x00, 0x03, 0xE8),         // timestamp 1000, bits 0-23
                                bytes(0x00),                     //   bits 24-31
                                bytes(0x00, 0x00, 0x01),         // stream id (FMS: the real one)
                                bytes(0xAF, 0x01, 0x21, 0x00),   // payload: AAC raw
                                bytes(0x00, 0x00, 0x00, 0x0F));  // back pointer 11 + 4
constexpr auto video_sub = wire(bytes(0x09),                     // type 9: video
                                bytes(0x00, 0x00, 0x05),         // payload length 5
                                bytes(0x00, 0x04, 0x10),         // timestamp 1040
                                bytes(0x00),                     //   bits 24-31
                                bytes(0x00, 0x00, 0x00),         // stream id 0
                                bytes(0x27, 0x01, 0x00, 0x00, 0x00),  // payload: AVC inter frame
                                bytes(0x00, 0x00, 0x00, 0x10));       // back pointer 11 + 5
constexpr auto data_sub = wire(bytes(0x12),                           // type 18: data (AMF0)
                               bytes(0x00, 0x00, 0x00),               // payload length 0
                               bytes(0x00, 0x04, 0x24),               // timestamp 1060
                               bytes(0x00),                           //   bits 24-31
                               bytes(0x00, 0x00, 0x00),               // stream id 0
                               bytes(0x00, 0x00, 0x00, 0x0B));        // back pointer 11
constexpr auto audio_video = wire(audio_sub, video_sub);

message aggregate_of(std::vector<std::uint8_t> payload, std::uint32_t timestamp = 5000) {
    message m;
    m.chunk_stream_id = 4;
    m.timestamp = timestamp;
    m.message_type_id = static_cast<std::uint8_t>(message_type::aggregate);
    m.message_stream_id = 1;
    m.payload = shared_bytes(std::move(payload));
    return m;
}

// A sub-message with a chosen type and timestamp, FLV-tag shaped.
std::vector<std::uint8_t> sub(std::uint8_t type, std::uint32_t timestamp,
                              std::vector<std::uint8_t> body) {
    const auto size = static_cast<std::uint32_t>(body.size());
    std::vector<std::uint8_t> out = {
        type,
        static_cast<std::uint8_t>(size >> 16),
        static_cast<std::uint8_t>(size >> 8),
        static_cast<std::uint8_t>(size),
        static_cast<std::uint8_t>(timestamp >> 16),
        static_cast<std::uint8_t>(timestamp >> 8),
        static_cast<std::uint8_t>(timestamp),
        static_cast<std::uint8_t>(timestamp >> 24),
        0x00,
        0x00,
        0x00,
    };
    out.insert(out.end(), body.begin(), body.end());
    const std::uint32_t back = 11 + size;
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(back >> shift));
    return out;
}

std::vector<std::uint8_t> concat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(aggregate, splits_audio_and_video) {
    const message m = aggregate_of(to_vector(audio_video));
    const auto split = split_aggregate(m);
    ASSERT_TRUE(split.has_value());
    const auto& out = *split;
    ASSERT_EQ(out.size(), 2u);

    EXPECT_EQ(out[0].type(), message_type::audio);
    EXPECT_EQ(out[0].timestamp, 5000u);  // the first tag takes the aggregate's timestamp
    EXPECT_EQ(out[0].chunk_stream_id, 4u);
    EXPECT_EQ(out[0].message_stream_id, 1u);
    EXPECT_EQ(vec(out[0].payload.span()), (std::vector<std::uint8_t>{0xAF, 0x01, 0x21, 0x00}));

    EXPECT_EQ(out[1].type(), message_type::video);
    EXPECT_EQ(out[1].timestamp, 5040u);  // keeps its 40 ms offset from the first
    EXPECT_EQ(out[1].chunk_stream_id, 4u);
    EXPECT_EQ(out[1].message_stream_id, 1u);
    EXPECT_EQ(vec(out[1].payload.span()),
              (std::vector<std::uint8_t>{0x27, 0x01, 0x00, 0x00, 0x00}));
}

TEST(aggregate, sub_messages_own_their_bodies) {
    const message m = aggregate_of(to_vector(audio_video));
    const auto out = split_aggregate(m);
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->size(), 2u);
    const auto* begin = m.payload.data();
    const auto* end = begin + m.payload.size();
    for (const auto& s : *out) {
        EXPECT_FALSE(s.payload.data() >= begin && s.payload.data() < end);
        EXPECT_EQ(s.payload.use_count(), 1);
    }
}

TEST(aggregate, data_sub_message_with_an_empty_body) {
    const message m = aggregate_of(to_vector(wire(audio_video, data_sub)));
    const auto out = split_aggregate(m);
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->size(), 3u);
    EXPECT_EQ((*out)[2].type(), message_type::data_amf0);
    EXPECT_EQ((*out)[2].timestamp, 5060u);
    EXPECT_TRUE((*out)[2].payload.empty());
}

TEST(aggregate, empty_aggregate_yields_nothing) {
    const auto out = split_aggregate(aggregate_of({}));
    ASSERT_TRUE(out.has_value());
    EXPECT_TRUE(out->empty());
}

TEST(aggregate, rebasing_wraps_at_2_pow_32) {
    const auto payload = concat(sub(8, 0x00FFFFF0, {0xAF, 0x01}), sub(9, 0x01000010, {0x27, 0x01}));
    const auto split = split_aggregate(aggregate_of(payload, 0xFFFFFFF0));
    ASSERT_TRUE(split.has_value());
    const auto& out = *split;
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].timestamp, 0xFFFFFFF0u);
    EXPECT_EQ(out[1].timestamp, 0x00000010u);  // 0x20 later, past the wrap
}

TEST(aggregate, tag_earlier_than_the_first_keeps_its_negative_offset) {
    const auto payload = concat(sub(9, 1000, {0x17, 0x01}), sub(8, 990, {0xAF, 0x01}));
    const auto split = split_aggregate(aggregate_of(payload, 300));
    ASSERT_TRUE(split.has_value());
    const auto& out = *split;
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].timestamp, 300u);
    EXPECT_EQ(out[1].timestamp, 290u);
}

TEST(aggregate, tag_timestamps_above_24_bits) {
    // Tags that use the extension octet: 0x12345678 and 0x12345700.
    const auto payload = concat(sub(8, 0x12345678, {0xAF}), sub(8, 0x12345700, {0xAF}));
    const auto split = split_aggregate(aggregate_of(payload, 0));
    ASSERT_TRUE(split.has_value());
    const auto& out = *split;
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].timestamp, 0u);
    EXPECT_EQ(out[1].timestamp, 0x88u);
}

void expect_malformed(const std::vector<std::uint8_t>& payload, const char* what) {
    const auto out = split_aggregate(aggregate_of(payload));
    ASSERT_FALSE(out.has_value()) << what;  // no messages, not even those of the valid tags
    EXPECT_EQ(out.error(), error::aggregate_malformed) << what;
}

TEST(aggregate, cut_anywhere_but_a_tag_boundary_is_malformed) {
    const auto whole = to_vector(audio_video);
    for (std::size_t n = 1; n < whole.size(); ++n) {
        if (n == audio_sub.size()) continue;  // a complete aggregate of one tag
        expect_malformed({whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n)}, "cut");
    }
}

TEST(aggregate, bad_sub_message_type) {
    for (const std::uint8_t type : {0x00, 0x01, 0x04, 0x0F, 0x11, 0x14, 0x16, 0x29}) {
        // In second place, so that a valid first tag must not be appended either.
        expect_malformed(concat(to_vector(audio_sub), sub(type, 1000, {0x00})), "type");
    }
}

TEST(aggregate, back_pointer_disagrees) {
    auto too_large = to_vector(audio_video);
    too_large[audio_sub.size() - 1] = 0x10;  // 16 for a tag of 15
    auto excludes_header = to_vector(audio_video);
    excludes_header.back() = 0x05;  // the payload length alone
    expect_malformed(too_large, "back pointer too large");
    expect_malformed(excludes_header, "back pointer without header");
}

TEST(aggregate, length_runs_past_payload) {
    auto too_long = to_vector(audio_sub);
    too_long[3] = 0x40;  // payload length 64 in a 19-octet aggregate
    auto huge = to_vector(audio_sub);
    huge[1] = 0xFF;  // payload length 0xFF0004
    expect_malformed(too_long, "length 64");
    expect_malformed(huge, "length 16 MB");
}

}  // namespace
}  // namespace rtmpgate::protocol
