#include "gateway/rtmp/output_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "gateway/engine/stream.hpp"

namespace rtmpgate::gateway::rtmp {
namespace {

using protocol::message;
using protocol::message_type;

// FLV video tag bodies (legacy AVC): frame type in the high nibble, codec id 7, AVCPacketType.
constexpr std::uint8_t avc_keyframe = 0x17, avc_inter = 0x27, avc_nalu = 0x01, avc_header = 0x00;
// FLV audio tag body: AAC (0xAF), AACPacketType 0 = AudioSpecificConfig, 1 = raw.
constexpr std::uint8_t aac = 0xAF;

message make(message_type type, std::vector<std::uint8_t> head, std::size_t size) {
    head.resize(size, 0x55);
    message m;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.payload = protocol::shared_bytes(std::move(head));
    return m;
}

message keyframe(std::size_t size) {
    return make(message_type::video, {avc_keyframe, avc_nalu}, size);
}
message inter(std::size_t size) { return make(message_type::video, {avc_inter, avc_nalu}, size); }
message video_header() { return make(message_type::video, {avc_keyframe, avc_header}, 40); }
message audio(std::size_t size) { return make(message_type::audio, {aac, 0x01}, size); }

std::vector<message> drain(output_queue& q) {
    std::vector<message> out;
    while (!q.empty()) q.pop_batch(1 << 30, out);
    return out;
}

TEST(output_queue, keeps_everything_within_the_bound) {
    output_queue q(10'000);
    q.push(keyframe(3000), media_class::keyframe);
    q.push(inter(3000), media_class::frame);
    q.push(audio(3000), media_class::frame);
    EXPECT_EQ(q.queued_bytes(), 9000u);
    EXPECT_EQ(drain(q).size(), 3u);
    EXPECT_EQ(q.dropped_messages(), 0u);
    EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(output_queue, overflow_drops_queued_media_and_skips_to_the_next_keyframe) {
    output_queue q(10'000);
    q.push(video_header(), media_class::essential);
    q.push(keyframe(4000), media_class::keyframe);
    q.push(inter(4000), media_class::frame);
    q.push(inter(4000), media_class::frame);  // 12000 > 10000: everything not essential goes
    EXPECT_TRUE(q.skipping());
    EXPECT_EQ(q.dropped_messages(), 3u);
    EXPECT_EQ(q.dropped_bytes(), 12000u);
    q.push(inter(100), media_class::frame);  // still no keyframe: dropped
    q.push(audio(100), media_class::frame);  // audio waits for the keyframe too on a video stream
    EXPECT_EQ(q.dropped_messages(), 5u);
    q.push(keyframe(2000), media_class::keyframe);
    EXPECT_FALSE(q.skipping());
    q.push(inter(100), media_class::frame);
    const auto out = drain(q);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].payload.span()[1], avc_header);  // the sequence header survived
    EXPECT_EQ(out[1].payload.span()[0], avc_keyframe);
    EXPECT_EQ(out[1].payload.size(), 2000u);
    EXPECT_EQ(out[2].payload.size(), 100u);
}

TEST(output_queue, a_keyframe_that_overflows_starts_the_new_run) {
    output_queue q(10'000);
    q.push(inter(8000), media_class::frame);
    q.push(keyframe(5000), media_class::keyframe);
    EXPECT_FALSE(q.skipping());
    const auto out = drain(q);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload.size(), 5000u);
    EXPECT_EQ(q.dropped_messages(), 1u);
}

TEST(output_queue, audio_only_stream_resumes_on_the_next_audio_message) {
    output_queue q(1000);
    q.push(audio(600), media_class::frame);
    q.push(audio(600), media_class::frame);  // overflow: both dropped
    EXPECT_TRUE(q.skipping());
    q.push(audio(100), media_class::frame);
    EXPECT_FALSE(q.skipping());
    EXPECT_EQ(drain(q).size(), 1u);
    EXPECT_EQ(q.dropped_messages(), 2u);
}

TEST(output_queue, essential_messages_overflow_instead_of_growing) {
    output_queue q(1000);
    for (int i = 0; i < 20; ++i) q.push(video_header(), media_class::essential);  // 800 octets
    EXPECT_FALSE(q.overflowed());
    for (int i = 0; i < 6; ++i) q.push(video_header(), media_class::essential);  // 1040
    EXPECT_TRUE(q.overflowed());
    EXPECT_EQ(q.dropped_messages(), 0u);  // essential messages are never dropped, only refused
}

TEST(output_queue, pop_batch_takes_at_least_one_and_stops_at_the_budget) {
    output_queue q(1 << 20);
    for (int i = 0; i < 4; ++i) q.push(inter(1000), media_class::frame);
    std::vector<message> out;
    q.pop_batch(10, out);  // smaller than any message: still one
    EXPECT_EQ(out.size(), 1u);
    q.pop_batch(2500, out);
    EXPECT_EQ(out.size(), 3u);
    EXPECT_EQ(q.size(), 1u);
}

TEST(classify, media_headers_keyframes_and_data) {
    EXPECT_EQ(engine::classify(video_header()), media_class::essential);
    EXPECT_EQ(engine::classify(keyframe(10)), media_class::keyframe);
    EXPECT_EQ(engine::classify(inter(10)), media_class::frame);
    EXPECT_EQ(engine::classify(make(message_type::audio, {aac, 0x00}, 4)), media_class::essential);
    EXPECT_EQ(engine::classify(audio(10)), media_class::frame);
    // AMF0 "onMetaData" is kept for late joiners; other data (cue points, onFI) is droppable.
    const std::vector<std::uint8_t> on_metadata = {0x02, 0x00, 0x0A, 'o', 'n', 'M', 'e',
                                                   't',  'a',  'D',  'a', 't', 'a'};
    EXPECT_EQ(engine::classify(make(message_type::data_amf0, on_metadata, 20)),
              media_class::essential);
    std::vector<std::uint8_t> amf3_metadata = {0x00};
    amf3_metadata.insert(amf3_metadata.end(), on_metadata.begin(), on_metadata.end());
    EXPECT_EQ(engine::classify(make(message_type::data_amf3, amf3_metadata, 20)),
              media_class::essential);
    const std::vector<std::uint8_t> on_fi = {0x02, 0x00, 0x04, 'o', 'n', 'F', 'I'};
    EXPECT_EQ(engine::classify(make(message_type::data_amf0, on_fi, 20)), media_class::frame);
    EXPECT_EQ(engine::classify(make(message_type::data_amf0, {0x02, 0x00}, 2)), media_class::frame);
}

}  // namespace
}  // namespace rtmpgate::gateway::rtmp
