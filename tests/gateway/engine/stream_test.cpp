#include "gateway/engine/stream.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::engine {
namespace {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;

// FLV video tag bodies (legacy AVC): frame type << 4 | codec id 7, then AVCPacketType.
constexpr std::uint8_t avc_sequence_header[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64};
constexpr std::uint8_t avc_keyframe[] = {0x17, 0x01, 0x00, 0x00, 0x00, 0x65, 0x88};
constexpr std::uint8_t avc_inter_frame[] = {0x27, 0x01, 0x00, 0x00, 0x00, 0x41, 0x9a};
// Enhanced RTMP: IsExHeader | FrameType << 4 | PacketType, then the FourCC.
constexpr std::uint8_t hevc_sequence_start[] = {0x80 | 1 << 4 | 0, 'h', 'v', 'c', '1', 0x01};
constexpr std::uint8_t hevc_keyframe[] = {0x80 | 1 << 4 | 1, 'h', 'v', 'c', '1', 0, 0, 0, 0x26};
constexpr std::uint8_t hevc_inter_frame[] = {0x80 | 2 << 4 | 1, 'h', 'v', 'c', '1', 0, 0, 0, 0x02};
// FLV audio tag bodies: AAC (0xAF), then AACPacketType 0 = AudioSpecificConfig, 1 = raw.
constexpr std::uint8_t aac_sequence_header[] = {0xAF, 0x00, 0x12, 0x10};
constexpr std::uint8_t aac_frame[] = {0xAF, 0x01, 0x21, 0x10};
constexpr std::uint8_t mp3_frame[] = {0x2F, 0xFF, 0xFB};  // MP3 has no sequence header

message media(message_type type, std::span<const std::uint8_t> body) {
    message m;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.payload = protocol::shared_bytes(body);
    return m;
}

// A data message as players receive it: the handler name first.
message data(std::string_view name) {
    const amf_value values[] = {
        amf_value::make_ecma_array({{"width", amf_value::make_number(640)}})};
    return protocol::make_data(protocol::chunk_stream::stream_command, 1, name, values);
}

TEST(classify, sequence_headers_are_essential) {
    EXPECT_EQ(classify(media(message_type::video, avc_sequence_header)), media_class::essential);
    EXPECT_EQ(classify(media(message_type::video, hevc_sequence_start)), media_class::essential);
    EXPECT_EQ(classify(media(message_type::audio, aac_sequence_header)), media_class::essential);
}

TEST(classify, video_keyframes_are_where_a_player_can_start) {
    EXPECT_EQ(classify(media(message_type::video, avc_keyframe)), media_class::keyframe);
    EXPECT_EQ(classify(media(message_type::video, hevc_keyframe)), media_class::keyframe);
}

TEST(classify, other_video_and_audio_are_frames) {
    EXPECT_EQ(classify(media(message_type::video, avc_inter_frame)), media_class::frame);
    EXPECT_EQ(classify(media(message_type::video, hevc_inter_frame)), media_class::frame);
    EXPECT_EQ(classify(media(message_type::audio, aac_frame)), media_class::frame);
    EXPECT_EQ(classify(media(message_type::audio, mp3_frame)), media_class::frame);
    EXPECT_EQ(classify(media(message_type::video, {})), media_class::frame);
}

TEST(classify, metadata_is_essential_and_other_data_goes_with_the_frames) {
    EXPECT_EQ(classify(data("onMetaData")), media_class::essential);
    EXPECT_EQ(classify(data("onCuePoint")), media_class::frame);
    EXPECT_EQ(classify(data("onMetaDat")), media_class::frame);
    // Type 15 (AMF3 data): a format octet before the same AMF0 values.
    auto amf3 = data("onMetaData");
    std::vector<std::uint8_t> body{0x00};
    body.insert(body.end(), amf3.payload.span().begin(), amf3.payload.span().end());
    amf3.payload = protocol::shared_bytes(body);
    amf3.message_type_id = static_cast<std::uint8_t>(message_type::data_amf3);
    EXPECT_EQ(classify(amf3), media_class::essential);
}

TEST(classify, commands_and_control_are_essential) {
    EXPECT_EQ(classify(protocol::make_on_status(1, "status", "NetStream.Play.Start", "")),
              media_class::essential);
    EXPECT_EQ(classify(protocol::make_user_control(protocol::user_control_event::stream_eof, 1)),
              media_class::essential);
}

class counting_subscriber final : public subscriber {
public:
    void deliver(const message&, media_class) override { ++delivered; }
    void on_publish_start() override { ++starts; }
    void on_publish_stop() override { ++stops; }
    void on_drop() override { ++drops; }
    int delivered = 0, starts = 0, stops = 0, drops = 0;
};

// The publishers' identities: two distinct addresses, as two sessions pass themselves.
constexpr publisher_id publisher_a{1}, publisher_b{2};

TEST(stream, counts_players_as_waiting_until_a_publisher_attaches_and_after_it_leaves) {
    stream s("live/a", {});
    EXPECT_FALSE(s.counts().published);
    EXPECT_EQ(s.counts().players, 0u);
    auto player = std::make_shared<counting_subscriber>();
    std::vector<message> initial;
    EXPECT_FALSE(s.subscribe(player, initial));
    EXPECT_FALSE(s.counts().published);
    EXPECT_EQ(s.counts().players, 1u);

    ASSERT_TRUE(s.attach_publisher(publisher_a));
    EXPECT_EQ(player->starts, 1);
    EXPECT_TRUE(s.counts().published);
    EXPECT_EQ(s.counts().players, 1u);
    EXPECT_FALSE(s.attach_publisher(publisher_b));  // refused: counts unchanged
    EXPECT_TRUE(s.counts().published);

    s.detach_publisher(publisher_a);
    EXPECT_EQ(player->stops, 1);
    EXPECT_FALSE(s.counts().published);
    EXPECT_EQ(s.counts().players, 1u);
    s.unsubscribe(player.get());
    EXPECT_EQ(s.counts().players, 0u);
    EXPECT_TRUE(s.unused());
}

TEST(stream, drop_tells_every_player_and_the_publisher_once_each) {
    stream s("live/a", {});
    auto waiting = std::make_shared<counting_subscriber>();
    std::vector<message> initial;
    EXPECT_FALSE(s.subscribe(waiting, initial));
    // Nobody published yet: the waiting player alone is told.
    auto result = s.drop();
    EXPECT_FALSE(result.publisher);
    EXPECT_EQ(result.players, 1u);
    EXPECT_EQ(waiting->drops, 1);

    int publisher_drops = 0;
    ASSERT_TRUE(s.attach_publisher(publisher_a, [&] { ++publisher_drops; }));
    auto playing = std::make_shared<counting_subscriber>();
    EXPECT_TRUE(s.subscribe(playing, initial));
    result = s.drop();
    EXPECT_TRUE(result.publisher);
    EXPECT_EQ(result.players, 2u);
    EXPECT_EQ(publisher_drops, 1);
    EXPECT_EQ(playing->drops, 1);
    EXPECT_EQ(waiting->drops, 2);
    // Nothing leaves by the drop itself: each leaves from its connection, as it ends.
    EXPECT_TRUE(s.counts().published);

    // A publisher gone forgets its drop: a new one's is the one called.
    s.detach_publisher(publisher_a);
    int second_drops = 0;
    ASSERT_TRUE(s.attach_publisher(publisher_b, [&] { ++second_drops; }));
    s.drop();
    EXPECT_EQ(publisher_drops, 1);
    EXPECT_EQ(second_drops, 1);
}

}  // namespace
}  // namespace rtmpgate::gateway::engine
