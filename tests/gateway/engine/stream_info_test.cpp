// stream::info() and the viewer counts of stream::counts(): what the admin's /streams and
// rtmpgate_viewers show.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/engine/stream.hpp"
#include "gateway/engine/stream_registry.hpp"

namespace rtmpgate::gateway::engine {
namespace {

using namespace std::chrono_literals;
using protocol::message;
using protocol::message_type;

class viewer final : public subscriber {
public:
    explicit viewer(std::string_view transport) : transport_(transport) {}
    void deliver(const message&, media_class) override {}
    void on_publish_start() override {}
    void on_publish_stop() override {}
    void on_drop() override {}
    std::string_view transport() const noexcept override { return transport_; }

private:
    std::string_view transport_;
};

// The default transport of a subscriber that names none.
class plain_player final : public subscriber {
public:
    void deliver(const message&, media_class) override {}
    void on_publish_start() override {}
    void on_publish_stop() override {}
    void on_drop() override {}
};

// FLV tag bodies: AVC (7) sequence header and keyframe, AAC (10) sequence header, MP3 (2).
constexpr std::uint8_t avc_sequence_header[] = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00};
constexpr std::uint8_t avc_keyframe[] = {0x17, 0x01, 0x00, 0x00, 0x00,
                                         0x65, 0x88, 0x84, 0x00, 0x00};
constexpr std::uint8_t aac_sequence_header[] = {0xAF, 0x00, 0x12, 0x10};
constexpr std::uint8_t mp3_frame[] = {0x2F, 0xFF, 0xFB};
// Enhanced RTMP: ex | key | SequenceStart, FourCC hvc1.
constexpr std::uint8_t hevc_sequence_start[] = {0x90, 'h', 'v', 'c', '1', 0x01};

message media(message_type type, std::span<const std::uint8_t> body) {
    message m;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.payload = protocol::shared_bytes(body);
    return m;
}

void join(stream& s, std::shared_ptr<subscriber> who) {
    std::vector<message> initial;
    s.subscribe(std::move(who), initial);
}

TEST(stream_info, an_unpublished_stream_lists_its_waiting_players_only) {
    stream s("live/a", {});
    join(s, std::make_shared<viewer>("ws-flv"));
    const auto info = s.info(std::chrono::steady_clock::now());
    EXPECT_EQ(info.key, "live/a");
    EXPECT_FALSE(info.published);
    EXPECT_EQ(info.uptime, std::chrono::steady_clock::duration{});
    EXPECT_EQ(info.bytes_in, 0u);
    ASSERT_EQ(info.players.size(), 1u);
    EXPECT_EQ(info.players[0], (std::pair<std::string, std::size_t>{"ws-flv", 1}));
}

TEST(stream_info, publisher_codecs_bytes_and_players_by_transport) {
    stream s("live/a", {});
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.attach_publisher(publisher_id{1}, {}, {"rtmpts", "192.0.2.7:50312"}));
    s.publish(media(message_type::video, avc_sequence_header));  // nobody to hand it to yet
    join(s, std::make_shared<viewer>("http-flv"));
    join(s, std::make_shared<viewer>("http-flv"));
    join(s, std::make_shared<viewer>(push_transport));
    join(s, std::make_shared<plain_player>());
    s.publish(media(message_type::audio, aac_sequence_header));
    s.publish(media(message_type::video, avc_keyframe));

    const auto info = s.info(start + 500ms);
    EXPECT_TRUE(info.published);
    EXPECT_EQ(info.publisher.transport, "rtmpts");
    EXPECT_EQ(info.publisher.address, "192.0.2.7:50312");
    EXPECT_EQ(info.video_codec, "H.264");
    EXPECT_EQ(info.audio_codec, "AAC");
    EXPECT_EQ(info.bytes_in, 8u + 4u + 10u);
    EXPECT_EQ(info.bytes_out, 4u * (4u + 10u));  // four subscribers from the second message on
    EXPECT_GE(info.uptime, 500ms - 50ms);
    const std::vector<std::pair<std::string, std::size_t>> players = {
        {"http-flv", 2}, {"push", 1}, {"rtmp", 1}};
    EXPECT_EQ(info.players, players);
    const auto since = std::chrono::system_clock::now() - info.since;
    EXPECT_LT(since, 10s);

    // The counts give viewers by transport, pushes left out.
    const auto c = s.counts();
    EXPECT_EQ(c.players, 4u);
    EXPECT_EQ(c.viewers[0], 1u);  // rtmp
    EXPECT_EQ(c.viewers[4], 2u);  // http-flv
    EXPECT_EQ(
        c.viewers[0] + c.viewers[1] + c.viewers[2] + c.viewers[3] + c.viewers[4] + c.viewers[5],
        3u);
}

TEST(stream_info, codecs_follow_the_sequence_headers_and_a_new_publisher_starts_afresh) {
    stream s("live/a", {});
    ASSERT_TRUE(s.attach_publisher(publisher_id{1}));
    const auto now = std::chrono::steady_clock::now();
    EXPECT_EQ(s.info(now).video_codec, "");
    s.publish(media(message_type::audio, mp3_frame));  // MP3: named by its first frame
    s.publish(media(message_type::video, avc_keyframe));
    EXPECT_EQ(s.info(now).audio_codec, "MP3");
    EXPECT_EQ(s.info(now).video_codec, "H.264");
    s.publish(media(message_type::video, hevc_sequence_start));  // the codec changes
    EXPECT_EQ(s.info(now).video_codec, "HEVC");
    EXPECT_EQ(s.info(now).publisher.transport, "");  // not told

    s.detach_publisher(publisher_id{1});
    ASSERT_TRUE(s.attach_publisher(publisher_id{2}, {}, {"rtmp", "198.51.100.1:1000"}));
    const auto again = s.info(std::chrono::steady_clock::now());
    EXPECT_EQ(again.video_codec, "");
    EXPECT_EQ(again.audio_codec, "");
    EXPECT_EQ(again.bytes_in, 0u);
    EXPECT_EQ(again.publisher.address, "198.51.100.1:1000");
}

TEST(stream_info, bitrates_measure_the_growth_between_calls_a_second_or_more_apart) {
    stream s("live/a", {});
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.attach_publisher(publisher_id{1}));
    join(s, std::make_shared<viewer>("rtmp"));
    join(s, std::make_shared<viewer>("ws-flv"));
    // 1000 octets a "second" for the first two seconds.
    std::vector<std::uint8_t> body(1000, 0);
    body[0] = 0x27;  // AVC inter frame
    s.publish(media(message_type::video, body));
    EXPECT_EQ(s.info(start + 500ms).bitrate_in, 0);  // under a second: nothing measured yet
    s.publish(media(message_type::video, body));
    // The first measure runs from the publish's start (taken a little after `start`).
    const auto first = s.info(start + 2s);
    EXPECT_NEAR(first.bitrate_in, 8000.0, 100.0);
    EXPECT_NEAR(first.bitrate_out, 16000.0, 200.0);
    // Within a second of that measure: the same result, though more came in.
    s.publish(media(message_type::video, body));
    s.publish(media(message_type::video, body));
    EXPECT_EQ(s.info(start + 2500ms).bitrate_in, first.bitrate_in);
    // Four seconds after it: 2000 octets over 4 s.
    const auto second = s.info(start + 6s);
    EXPECT_DOUBLE_EQ(second.bitrate_in, 4000.0);
    EXPECT_DOUBLE_EQ(second.bitrate_out, 8000.0);
}

TEST(stream_info, the_registry_sums_viewers_and_lists_streams_by_key) {
    stream_registry r({});
    ASSERT_TRUE(r.publish("live/b", publisher_id{1}, {}, {"rtmps", "192.0.2.1:1"}));
    std::vector<message> initial;
    bool playing = false;
    r.subscribe("live/b", std::make_shared<viewer>("rtmpt"), initial, playing);
    r.subscribe("live/a", std::make_shared<viewer>("ws-flv"), initial, playing);  // waits
    r.subscribe("live/a", std::make_shared<viewer>(push_transport), initial, playing);
    const auto c = r.counts();
    EXPECT_EQ(c.viewers[2], 1u);  // rtmpt
    EXPECT_EQ(c.viewers[5], 1u);  // ws-flv, waiting
    EXPECT_EQ(c.viewers[0] + c.viewers[1] + c.viewers[3] + c.viewers[4], 0u);
    const auto all = r.info();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].key, "live/a");
    EXPECT_FALSE(all[0].published);
    EXPECT_EQ(all[1].key, "live/b");
    EXPECT_EQ(all[1].publisher.transport, "rtmps");
}

}  // namespace
}  // namespace rtmpgate::gateway::engine
