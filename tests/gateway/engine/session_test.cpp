#include "gateway/engine/session.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"

// engine::session without sockets: each client is a session on its own strand of one
// io_context, writing to an output that records what it is given. The client's commands are
// built with protocol/'s builders; what the session sent is read back with its parsers.

namespace rtmpgate::gateway::engine {
namespace {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;
using protocol::user_control_event;
using bytes = std::vector<std::uint8_t>;

// FLV video tag bodies (legacy AVC): frame type << 4 | codec id 7, AVCPacketType, composition
// time (3 octets), then data; the last octet tells the tests' frames apart.
bytes avc_sequence_header(std::uint8_t n = 0) { return {0x17, 0x00, 0, 0, 0, 0x01, 0x64, n}; }
bytes avc_keyframe(std::uint8_t n) { return {0x17, 0x01, 0, 0, 0, 0x65, n}; }
bytes avc_inter_frame(std::uint8_t n) { return {0x27, 0x01, 0, 0, 0, 0x41, n}; }
// `body` grown to `size` octets (for the GOP cache's byte bound).
bytes padded(bytes body, std::size_t size) {
    body.resize(size, 0x55);
    return body;
}
// FLV audio tag bodies: AAC (0xAF), AACPacketType 0 = AudioSpecificConfig, 1 = raw frame.
bytes aac_sequence_header(std::uint8_t n = 0) { return {0xAF, 0x00, 0x12, n}; }
bytes aac_frame(std::uint8_t n) { return {0xAF, 0x01, 0x21, n}; }

// Everything a session gave its output, in order; `media` tells send_media from send.
class recording_output final : public output {
public:
    struct entry {
        message m;
        bool media = false;
        media_class c = media_class::essential;
    };

    void send(message m) override { sent.push_back({std::move(m), false, media_class::essential}); }
    void send_media(message m, media_class c) override { sent.push_back({std::move(m), true, c}); }
    void flush() override { flushed = sent.size(); }
    void close_after_flush() override { closed = true; }
    void close_refused(refusal why, std::string reason) override {
        refusals.push_back(why);
        refusal_reason = std::move(reason);
        closed = true;
    }
    void refused(refusal why) override { refusals.push_back(why); }

    std::vector<entry> take() { return std::exchange(sent, {}); }

    std::vector<entry> sent;
    std::size_t flushed = 0;  // sent.size() at the latest flush()
    bool closed = false;
    std::vector<refusal> refusals;
    std::string refusal_reason;
};

// session::on_message reports bad input, by an exception or by a returned error_code depending
// on the version; every message of these tests is well formed.
template <typename session_type>
void feed(session_type& s, const message& m) {
    if constexpr (std::is_void_v<decltype(s.on_message(m))>)
        s.on_message(m);
    else
        EXPECT_FALSE(s.on_message(m));
}

// One client connection: its session, its strand, its recorded output.
class client {
public:
    client(asio::io_context& io, stream_registry& streams, session_settings settings = {})
        : io_(io),
          strand_(asio::make_strand(io)),
          session_(std::make_shared<session>(out, strand_, streams, settings, "test")) {}

    // Runs `f` on the session's strand, then everything it posted to other strands.
    template <typename F>
    void on_strand(F f) {
        asio::post(strand_, std::move(f));
        io_.restart();
        io_.poll();
    }

    // connect; what the session answered (the output is left empty).
    std::vector<recording_output::entry> connect(std::string_view app = "live") {
        const auto object = amf_value::make_object(
            {{"app", amf_value::make_string(app)},
             {"flashVer", amf_value::make_string("LNX 9,0,124,2")},
             {"tcUrl", amf_value::make_string("rtmp://127.0.0.1/" + std::string(app))}});
        const auto m = protocol::make_command(protocol::chunk_stream::command, 0, "connect",
                                              next_transaction_++, object);
        const auto c = protocol::parse_command(m);
        EXPECT_TRUE(c);
        if (!c) return {};
        const auto connect = protocol::parse_connect(*c);
        EXPECT_TRUE(connect);
        if (!connect) return {};
        on_strand([&] { session_->start(*connect); });
        return out.take();
    }

    void receive(const message& m) {
        if (reading_) {
            read_.push_back(m);
            return;
        }
        on_strand([this, m] { feed(*session_, m); });
    }
    // What the client sends from begin_read() to end_read() is fed to the session in one
    // handler, as connection::on_bytes feeds it what one read of the socket brought.
    void begin_read() { reading_ = true; }
    void end_read() {
        reading_ = false;
        on_strand([this, read = std::exchange(read_, {})] {
            for (const auto& m : read) feed(*session_, m);
        });
    }

    // A command from the client with a null command object: on chunk stream 3 for message
    // stream 0, on 8 (as ffmpeg) for the others.
    void command(std::uint32_t message_stream_id, std::string_view name,
                 std::vector<amf_value> arguments = {}) {
        receive(protocol::make_command(message_stream_id == 0 ? 3 : 8, message_stream_id, name,
                                       next_transaction_++, amf_value::make_null(), arguments));
    }

    // createStream; the id from its _result, which is taken off the output.
    std::uint32_t create_stream() {
        const auto before = out.sent.size();
        command(0, "createStream");
        EXPECT_EQ(out.sent.size(), before + 1);
        if (out.sent.size() != before + 1) return 0;
        const auto result = protocol::parse_command(out.sent.back().m);
        out.sent.pop_back();
        EXPECT_TRUE(result && result->name == "_result" && result->arguments.size() == 1);
        return result && result->arguments.size() == 1
                   ? static_cast<std::uint32_t>(result->arguments[0].number)
                   : 0;
    }

    std::uint32_t publish(std::string_view name) {
        const auto id = create_stream();
        command(id, "publish", {amf_value::make_string(name), amf_value::make_string("live")});
        return id;
    }

    std::uint32_t play(std::string_view name) {
        const auto id = create_stream();
        command(id, "play", {amf_value::make_string(name), amf_value::make_number(-2000)});
        return id;
    }

    void media(std::uint32_t message_stream_id, message_type type, std::uint32_t timestamp,
               const bytes& body) {
        message m;
        m.chunk_stream_id = type == message_type::video ? 6 : 4;
        m.timestamp = timestamp;
        m.message_type_id = static_cast<std::uint8_t>(type);
        m.message_stream_id = message_stream_id;
        m.payload = protocol::shared_bytes(body);
        receive(m);
    }
    void video(std::uint32_t id, std::uint32_t timestamp, const bytes& body) {
        media(id, message_type::video, timestamp, body);
    }
    void audio(std::uint32_t id, std::uint32_t timestamp, const bytes& body) {
        media(id, message_type::audio, timestamp, body);
    }

    // ffmpeg's metadata: @setDataFrame("onMetaData", {width, height}).
    void metadata(std::uint32_t id, double width = 640) {
        const amf_value values[] = {
            amf_value::make_string("onMetaData"),
            amf_value::make_ecma_array({{"width", amf_value::make_number(width)},
                                        {"height", amf_value::make_number(360)}})};
        receive(protocol::make_data(4, id, "@setDataFrame", values));
    }

    // The connection ends.
    void leave() {
        on_strand([&] { session_->stop(); });
    }

    recording_output out;

private:
    asio::io_context& io_;
    asio::strand<asio::io_context::executor_type> strand_;
    std::shared_ptr<session> session_;
    double next_transaction_ = 1;
    bool reading_ = false;
    std::vector<message> read_;
};

// What a message the session sent says, in a form a test can compare: the code of an onStatus,
// the name of another command or data message, a user control event with its stream id.
std::string describe(const message& m) {
    if (protocol::is_control(m)) {
        const auto c = protocol::parse_control(m);
        if (!c) return "bad control";
        if (c->type == message_type::user_control) {
            switch (c->event) {
                case user_control_event::stream_begin:
                    return "StreamBegin " + std::to_string(c->value);
                case user_control_event::stream_eof:
                    return "StreamEOF " + std::to_string(c->value);
                default:
                    return "user control";
            }
        }
        return "control";
    }
    if (m.type() == message_type::command_amf0) {
        const auto c = protocol::parse_command(m);
        if (!c) return "bad command";
        if (c->name == "onStatus" && !c->arguments.empty())
            return std::string(c->arguments[0].get_string("code"));
        return c->name;
    }
    if (m.type() == message_type::data_amf0) {
        const auto d = protocol::parse_data(m);
        return d ? d->name : "bad data";
    }
    return "media";
}

// The commands, statuses and user control events among `sent` (media left out), in order.
std::vector<std::string> signals(const std::vector<recording_output::entry>& sent) {
    std::vector<std::string> out;
    for (const auto& e : sent)
        if (!e.media) out.push_back(describe(e.m));
    return out;
}

// What went through send_media, in order.
std::vector<recording_output::entry> media_of(const std::vector<recording_output::entry>& sent) {
    std::vector<recording_output::entry> out;
    for (const auto& e : sent)
        if (e.media) out.push_back(e);
    return out;
}

// The payloads of media messages from the `from`th on, to compare with what was published.
std::vector<bytes> payloads(const std::vector<recording_output::entry>& media,
                            std::size_t from = 0) {
    std::vector<bytes> out;
    for (std::size_t i = from; i < media.size(); ++i)
        out.emplace_back(media[i].m.payload.span().begin(), media[i].m.payload.span().end());
    return out;
}

std::vector<media_class> classes(const std::vector<recording_output::entry>& media) {
    std::vector<media_class> out;
    for (const auto& e : media) out.push_back(e.c);
    return out;
}

std::vector<std::string> play_start(std::uint32_t id) {
    return {"StreamBegin " + std::to_string(id), "NetStream.Play.Reset", "NetStream.Play.Start",
            "|RtmpSampleAccess"};
}

// engine_counts as {streams, publishers, players, players waiting}: gtest prints an array.
using counts = std::array<std::size_t, 4>;
counts counted(const stream_registry& r) {
    const auto c = r.counts();
    return {c.streams, c.publishers, c.players, c.players_waiting};
}

class engine_session : public testing::Test {
protected:
    asio::io_context io_;
    stream_registry streams_{stream_settings{}};
};

TEST_F(engine_session, connect_is_answered_with_window_bandwidth_chunk_size_then_result) {
    client c(io_, streams_, session_settings{8192, 1000000, 2000000});
    const auto sent = c.connect();
    ASSERT_EQ(sent.size(), 4u);
    for (const auto& e : sent) EXPECT_FALSE(e.media);
    const auto window = protocol::parse_control(sent[0].m);
    ASSERT_TRUE(window);
    EXPECT_EQ(window->type, message_type::window_ack_size);
    EXPECT_EQ(window->value, 1000000u);
    const auto bandwidth = protocol::parse_control(sent[1].m);
    ASSERT_TRUE(bandwidth);
    EXPECT_EQ(bandwidth->type, message_type::set_peer_bandwidth);
    EXPECT_EQ(bandwidth->value, 2000000u);
    EXPECT_EQ(bandwidth->limit, protocol::peer_bandwidth_limit::dynamic);
    const auto chunk_size = protocol::parse_control(sent[2].m);
    ASSERT_TRUE(chunk_size);
    EXPECT_EQ(chunk_size->type, message_type::set_chunk_size);
    EXPECT_EQ(chunk_size->value, 8192u);
    const auto result = protocol::parse_command(sent[3].m);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->name, "_result");
    EXPECT_EQ(result->transaction_id, 1);
    ASSERT_EQ(result->arguments.size(), 1u);
    EXPECT_EQ(result->arguments[0].get_string("code"), "NetConnection.Connect.Success");
    EXPECT_EQ(result->arguments[0].get_number("objectEncoding", -1), 0);
}

TEST_F(engine_session, late_joiner_gets_metadata_sequence_headers_then_the_gop_from_its_keyframe) {
    client pub(io_, streams_);
    pub.connect();
    const auto p = pub.publish("late");
    EXPECT_EQ(signals(pub.out.take()), (std::vector<std::string>{"StreamBegin " + std::to_string(p),
                                                                 "NetStream.Publish.Start"}));
    pub.metadata(p);
    pub.video(p, 0, avc_sequence_header());
    pub.audio(p, 0, aac_sequence_header());
    pub.video(p, 0, avc_keyframe(1));  // the first GOP: replaced by the second
    pub.audio(p, 0, aac_frame(1));
    pub.video(p, 40, avc_inter_frame(2));
    pub.video(p, 80, avc_keyframe(3));
    pub.audio(p, 80, aac_frame(4));
    pub.video(p, 120, avc_inter_frame(5));

    client player(io_, streams_);
    player.connect();
    const auto id = player.play("late");
    const auto sent = player.out.take();
    EXPECT_EQ(signals(sent), play_start(id));
    // Every status and control message comes before the first media message.
    std::size_t first_media = 0;
    while (first_media < sent.size() && !sent[first_media].media) ++first_media;
    EXPECT_EQ(first_media, play_start(id).size());
    for (std::size_t i = 1; i < first_media; ++i)  // after StreamBegin, all on the player's stream
        EXPECT_EQ(sent[i].m.message_stream_id, id) << describe(sent[i].m);

    const auto media = media_of(sent);
    ASSERT_EQ(media.size(), 6u);
    const auto metadata = protocol::parse_data(media[0].m);
    ASSERT_TRUE(metadata);
    EXPECT_EQ(metadata->name, "onMetaData");  // @setDataFrame stripped
    ASSERT_EQ(metadata->values.size(), 1u);
    EXPECT_EQ(metadata->values[0].get_number("width"), 640);
    EXPECT_EQ(payloads(media, 1),
              (std::vector<bytes>{avc_sequence_header(), aac_sequence_header(), avc_keyframe(3),
                                  aac_frame(4), avc_inter_frame(5)}));
    EXPECT_EQ(classes(media),
              (std::vector<media_class>{media_class::essential, media_class::essential,
                                        media_class::essential, media_class::keyframe,
                                        media_class::frame, media_class::frame}));
    EXPECT_EQ(media[3].m.timestamp, 80u);  // timestamps as published
    EXPECT_EQ(media[5].m.timestamp, 120u);
    for (const auto& e : media) EXPECT_EQ(e.m.message_stream_id, id);

    // Then it follows the stream live.
    pub.video(p, 160, avc_inter_frame(6));
    const auto live = media_of(player.out.take());
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(payloads(live)[0], avc_inter_frame(6));
}

TEST_F(engine_session, a_gop_larger_than_the_cache_bound_is_not_replayed) {
    stream_registry streams(stream_settings{true, 1000});
    client pub(io_, streams);
    pub.connect();
    const auto p = pub.publish("big");
    pub.video(p, 0, avc_sequence_header());
    pub.video(p, 0, padded(avc_keyframe(1), 400));  // 800 octets in all: within the bound
    pub.video(p, 40, padded(avc_inter_frame(2), 400));

    client first(io_, streams);
    first.connect();
    first.play("big");
    EXPECT_EQ(payloads(media_of(first.out.take())),
              (std::vector<bytes>{avc_sequence_header(), padded(avc_keyframe(1), 400),
                                  padded(avc_inter_frame(2), 400)}));

    pub.video(p, 80, padded(avc_keyframe(3), 400));  // 1200 octets by its third frame
    pub.video(p, 120, padded(avc_inter_frame(4), 400));
    pub.video(p, 160, padded(avc_inter_frame(5), 400));
    EXPECT_EQ(media_of(first.out.take()).size(), 3u);  // a player on the stream gets it all

    client second(io_, streams);
    second.connect();
    second.play("big");
    EXPECT_EQ(payloads(media_of(second.out.take())), std::vector<bytes>{avc_sequence_header()});

    // The next keyframe starts a GOP that fits again.
    pub.video(p, 200, avc_keyframe(6));
    client third(io_, streams);
    third.connect();
    third.play("big");
    EXPECT_EQ(payloads(media_of(third.out.take())),
              (std::vector<bytes>{avc_sequence_header(), avc_keyframe(6)}));
}

// A publisher on "name" with the sequence headers and a first GOP sent, and a player playing it
// that has received them; both outputs emptied.
struct live_pair {
    live_pair(asio::io_context& io, stream_registry& streams, std::string_view name)
        : pub(io, streams), player(io, streams) {
        pub.connect();
        p = pub.publish(name);
        pub.video(p, 0, avc_sequence_header());
        pub.audio(p, 0, aac_sequence_header());
        pub.video(p, 0, avc_keyframe(1));
        pub.audio(p, 0, aac_frame(1));
        player.connect();
        id = player.play(name);
        EXPECT_EQ(media_of(player.out.take()).size(), 4u);
        pub.out.take();
    }
    client pub, player;
    std::uint32_t p = 0, id = 0;
};

TEST_F(engine_session, paused_player_gets_only_essential_messages_and_resumes_on_a_keyframe) {
    live_pair s(io_, streams_, "p");
    s.player.command(s.id, "pause", {amf_value::make_boolean(true), amf_value::make_number(0)});
    EXPECT_EQ(signals(s.player.out.take()), std::vector<std::string>{"NetStream.Pause.Notify"});

    s.pub.video(s.p, 40, avc_inter_frame(2));
    s.pub.audio(s.p, 40, aac_frame(2));
    s.pub.metadata(s.p, 1280);
    s.pub.video(s.p, 80, avc_sequence_header(2));  // new parameters while it is paused
    s.pub.video(s.p, 80, avc_keyframe(3));
    auto media = media_of(s.player.out.take());
    ASSERT_EQ(media.size(), 2u);
    EXPECT_EQ(protocol::parse_data(media[0].m)->values[0].get_number("width"), 1280);
    EXPECT_EQ(payloads(media)[1], avc_sequence_header(2));
    EXPECT_EQ(classes(media), std::vector<media_class>(2, media_class::essential));

    s.player.command(s.id, "pause", {amf_value::make_boolean(false), amf_value::make_number(0)});
    EXPECT_EQ(signals(s.player.out.take()), std::vector<std::string>{"NetStream.Unpause.Notify"});
    s.pub.video(s.p, 120, avc_inter_frame(4));  // no place for a decoder to start
    s.pub.audio(s.p, 120, aac_frame(5));        // audio does not wait for a keyframe
    s.pub.video(s.p, 160, avc_keyframe(6));
    s.pub.video(s.p, 200, avc_inter_frame(7));
    EXPECT_EQ(payloads(media_of(s.player.out.take())),
              (std::vector<bytes>{aac_frame(5), avc_keyframe(6), avc_inter_frame(7)}));
}

TEST_F(engine_session, receive_video_off_then_on_resumes_video_on_a_keyframe_and_leaves_audio) {
    live_pair s(io_, streams_, "rv");
    s.player.command(s.id, "receiveVideo", {amf_value::make_boolean(false)});
    EXPECT_EQ(signals(s.player.out.take()), std::vector<std::string>{});  // no answer
    s.pub.video(s.p, 40, avc_inter_frame(2));
    s.pub.audio(s.p, 40, aac_frame(3));
    s.pub.video(s.p, 80, avc_keyframe(4));
    s.pub.audio(s.p, 80, aac_frame(5));
    EXPECT_EQ(payloads(media_of(s.player.out.take())),
              (std::vector<bytes>{aac_frame(3), aac_frame(5)}));

    s.player.command(s.id, "receiveVideo", {amf_value::make_boolean(true)});
    s.pub.video(s.p, 120, avc_inter_frame(6));
    s.pub.audio(s.p, 120, aac_frame(7));
    s.pub.video(s.p, 160, avc_keyframe(8));
    s.pub.video(s.p, 200, avc_inter_frame(9));
    EXPECT_EQ(payloads(media_of(s.player.out.take())),
              (std::vector<bytes>{aac_frame(7), avc_keyframe(8), avc_inter_frame(9)}));
}

// The output queue (rtmp/output_queue) drops a slow player's frames up to the next keyframe and
// never drops what is essential: it can only do so if send_media is told each message's class.
TEST_F(engine_session, media_reaches_the_output_classified_for_its_queue) {
    client pub(io_, streams_);
    pub.connect();
    const auto p = pub.publish("c");
    client player(io_, streams_);
    player.connect();
    const auto id = player.play("c");
    player.out.take();

    pub.metadata(p);
    pub.video(p, 0, avc_sequence_header());
    pub.audio(p, 0, aac_sequence_header());
    pub.video(p, 0, avc_keyframe(1));
    pub.video(p, 40, avc_inter_frame(2));
    pub.audio(p, 40, aac_frame(3));
    const amf_value cue[] = {amf_value::make_object({{"name", amf_value::make_string("ad")}})};
    pub.receive(protocol::make_data(4, p, "onCuePoint", cue));
    const auto sent = player.out.take();
    EXPECT_EQ(signals(sent), std::vector<std::string>{});  // all of it through send_media
    const auto media = media_of(sent);
    EXPECT_EQ(classes(media), (std::vector<media_class>{
                                  media_class::essential, media_class::essential,
                                  media_class::essential, media_class::keyframe, media_class::frame,
                                  media_class::frame, media_class::frame}));
    // On the player's stream id, on the chunk streams nginx-rtmp and ffmpeg use.
    const std::uint32_t chunk_streams[] = {5, 7, 6, 7, 7, 6, 5};
    ASSERT_EQ(media.size(), std::size(chunk_streams));
    for (std::size_t i = 0; i < media.size(); ++i) {
        EXPECT_EQ(media[i].m.chunk_stream_id, chunk_streams[i]) << i;
        EXPECT_EQ(media[i].m.message_stream_id, id) << i;
    }
}

// What one read of the publisher brings (several messages, here the publisher leaving and coming
// back on another stream with new headers) reaches a player's output in order, and the output is
// flushed once it is all given.
TEST_F(engine_session, a_burst_reaches_the_player_in_order_with_publisher_changes_then_a_flush) {
    live_pair s(io_, streams_, "burst");
    const auto p2 = s.pub.create_stream();
    s.pub.begin_read();
    s.pub.video(s.p, 40, avc_inter_frame(2));
    s.pub.audio(s.p, 40, aac_frame(2));
    s.pub.command(s.p, "closeStream");
    s.pub.command(p2, "publish", {amf_value::make_string("burst"), amf_value::make_string("live")});
    s.pub.video(p2, 0, avc_sequence_header(9));
    s.pub.video(p2, 0, avc_keyframe(10));
    EXPECT_TRUE(s.player.out.sent.empty());
    s.pub.end_read();

    const auto sent = s.player.out.take();
    EXPECT_EQ(s.player.out.flushed, sent.size());
    std::vector<std::string> order;
    for (const auto& e : sent) order.push_back(describe(e.m));
    const std::vector<std::string> expected = {"media",
                                               "media",
                                               "NetStream.Play.UnpublishNotify",
                                               "StreamEOF " + std::to_string(s.id),
                                               "StreamBegin " + std::to_string(s.id),
                                               "NetStream.Play.Reset",
                                               "NetStream.Play.Start",
                                               "|RtmpSampleAccess",
                                               "media",
                                               "media"};
    EXPECT_EQ(order, expected);
    EXPECT_EQ(payloads(media_of(sent)),
              (std::vector<bytes>{avc_inter_frame(2), aac_frame(2), avc_sequence_header(9),
                                  avc_keyframe(10)}));
}

TEST_F(engine_session, players_hear_the_publisher_leave_and_come_back_with_new_headers) {
    live_pair s(io_, streams_, "back");
    s.pub.metadata(s.p);
    s.player.out.take();

    s.pub.command(s.p, "closeStream");
    EXPECT_EQ(signals(s.pub.out.take()), std::vector<std::string>{"NetStream.Unpublish.Success"});
    auto sent = s.player.out.take();
    EXPECT_EQ(signals(sent), (std::vector<std::string>{"NetStream.Play.UnpublishNotify",
                                                       "StreamEOF " + std::to_string(s.id)}));
    EXPECT_TRUE(media_of(sent).empty());
    EXPECT_EQ(counted(streams_), (counts{1, 0, 0, 1}));

    // Another encoder takes the name: video only, other parameters. Nothing of the first one
    // (metadata, sequence headers, GOP) reaches the player that stayed or one that joins.
    client again(io_, streams_);
    again.connect();
    const auto p2 = again.publish("back");
    sent = s.player.out.take();
    EXPECT_EQ(signals(sent), play_start(s.id));
    EXPECT_TRUE(media_of(sent).empty());
    EXPECT_EQ(counted(streams_), (counts{1, 1, 1, 0}));
    client early(io_, streams_);
    early.connect();
    const auto early_id = early.play("back");
    sent = early.out.take();
    EXPECT_EQ(signals(sent), play_start(early_id));
    EXPECT_TRUE(media_of(sent).empty());

    again.metadata(p2, 1280);
    again.video(p2, 0, avc_sequence_header(9));
    again.video(p2, 0, avc_keyframe(10));
    const auto fresh = media_of(s.player.out.take());
    ASSERT_EQ(fresh.size(), 3u);
    EXPECT_EQ(protocol::parse_data(fresh[0].m)->values[0].get_number("width"), 1280);
    EXPECT_EQ(payloads(fresh, 1), (std::vector<bytes>{avc_sequence_header(9), avc_keyframe(10)}));
    client late(io_, streams_);
    late.connect();
    late.play("back");
    const auto replay = media_of(late.out.take());
    ASSERT_EQ(replay.size(), 3u);
    EXPECT_EQ(protocol::parse_data(replay[0].m)->values[0].get_number("width"), 1280);
    EXPECT_EQ(payloads(replay, 1), (std::vector<bytes>{avc_sequence_header(9), avc_keyframe(10)}));

    // A publisher whose connection ends without closeStream is heard of the same way.
    again.leave();
    EXPECT_EQ(signals(s.player.out.take()),
              (std::vector<std::string>{"NetStream.Play.UnpublishNotify",
                                        "StreamEOF " + std::to_string(s.id)}));
    EXPECT_EQ(counted(streams_), (counts{1, 0, 0, 3}));
}

TEST_F(engine_session, second_publisher_of_a_name_is_refused_and_the_first_undisturbed) {
    live_pair s(io_, streams_, "one");
    client second(io_, streams_);
    second.connect();
    const auto p2 = second.publish("one");
    const auto sent = second.out.take();
    ASSERT_EQ(sent.size(), 1u);
    const auto status = protocol::parse_command(sent[0].m);
    ASSERT_TRUE(status && status->name == "onStatus" && !status->arguments.empty());
    EXPECT_EQ(status->arguments[0].get_string("code"), "NetStream.Publish.BadName");
    EXPECT_EQ(status->arguments[0].get_string("level"), "error");
    EXPECT_EQ(sent[0].m.message_stream_id, p2);
    EXPECT_FALSE(second.out.closed);  // it may try another name
    EXPECT_EQ(second.out.refusals, std::vector<refusal>{refusal::stream_busy});
    EXPECT_EQ(counted(streams_), (counts{1, 1, 1, 0}));

    second.video(p2, 40, avc_keyframe(50));  // the refused one's media goes nowhere
    s.pub.video(s.p, 40, avc_inter_frame(2));
    EXPECT_EQ(payloads(media_of(s.player.out.take())), std::vector<bytes>{avc_inter_frame(2)});
    EXPECT_TRUE(signals(s.pub.out.take()).empty());

    // Once the first has gone, the name is free.
    s.pub.leave();
    const auto p3 = second.publish("one");
    EXPECT_EQ(
        signals(second.out.take()),
        (std::vector<std::string>{"StreamBegin " + std::to_string(p3), "NetStream.Publish.Start"}));
}

// A stream name over the limit, with its query: an error onStatus, counted, and the connection
// closes; the session takes nothing more and no stream is made.
TEST_F(engine_session, stream_names_over_the_limit_are_refused_and_close_the_connection) {
    session_settings settings;
    settings.max_name_length = 64;
    struct refused_case {
        const char* command;
        const char* code;
    };
    for (const auto& [command, code] : {refused_case{"publish", "NetStream.Publish.BadName"},
                                        refused_case{"play", "NetStream.Play.Failed"},
                                        refused_case{"play2", "NetStream.Play.Failed"}}) {
        SCOPED_TRACE(command);
        client c(io_, streams_, settings);
        c.connect();
        const auto id = c.create_stream();
        const std::string name = "key?token=" + std::string(55, 't');  // 65 octets
        if (std::string_view(command) == "play2")
            c.command(id, command,
                      {amf_value::make_object({{"streamName", amf_value::make_string(name)}})});
        else
            c.command(id, command, {amf_value::make_string(name)});
        const auto sent = c.out.take();
        ASSERT_EQ(sent.size(), 1u);
        const auto status = protocol::parse_command(sent[0].m);
        ASSERT_TRUE(status && status->name == "onStatus" && !status->arguments.empty());
        EXPECT_EQ(status->arguments[0].get_string("code"), code);
        EXPECT_EQ(status->arguments[0].get_string("level"), "error");
        EXPECT_EQ(status->arguments[0].get_string("description"),
                  "Stream name longer than 64 bytes.");
        EXPECT_EQ(c.out.refusals, std::vector<refusal>{refusal::stream_name_too_long});
        EXPECT_EQ(c.out.refusal_reason, std::string(command) +
                                            ": stream name of 65 bytes, over "
                                            "limits.max_name_length (64)");
        EXPECT_EQ(counted(streams_), (counts{0, 0, 0, 0}));
        c.command(id, "publish", {amf_value::make_string("ok")});  // nothing more is served
        c.command(0, "createStream");
        EXPECT_TRUE(c.out.take().empty());
        EXPECT_EQ(counted(streams_), (counts{0, 0, 0, 0}));
    }
    // At the limit, a name is served.
    client c(io_, streams_, settings);
    c.connect();
    const auto id = c.publish("key?token=" + std::string(54, 't'));
    EXPECT_EQ(signals(c.out.take()), (std::vector<std::string>{"StreamBegin " + std::to_string(id),
                                                               "NetStream.Publish.Start"}));
    EXPECT_TRUE(c.out.refusals.empty());
    EXPECT_FALSE(c.out.closed);
}

TEST_F(engine_session, playing_before_publishing_waits_then_starts) {
    client player(io_, streams_);
    player.connect();
    const auto id = player.play("early");
    EXPECT_TRUE(player.out.take().empty());  // no Play.Start: nothing to play yet
    EXPECT_EQ(counted(streams_), (counts{1, 0, 0, 1}));

    client pub(io_, streams_);
    pub.connect();
    const auto p = pub.publish("early");
    EXPECT_EQ(signals(player.out.take()), play_start(id));
    EXPECT_EQ(counted(streams_), (counts{1, 1, 1, 0}));
    pub.video(p, 0, avc_sequence_header());
    pub.video(p, 0, avc_keyframe(1));
    EXPECT_EQ(payloads(media_of(player.out.take())),
              (std::vector<bytes>{avc_sequence_header(), avc_keyframe(1)}));

    player.leave();
    EXPECT_EQ(counted(streams_), (counts{1, 1, 0, 0}));
    pub.leave();
    EXPECT_EQ(counted(streams_), (counts{0, 0, 0, 0}));
}

}  // namespace
}  // namespace rtmpgate::gateway::engine
