#include "gateway/upstream/play_sequence.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "tests/gateway/upstream/command_names.hpp"

// play_sequence against the replies nginx-rtmp sends, built with protocol/'s server-side
// builders; what the client sends is read back with protocol/'s parsers.

namespace rtmpgate::gateway::upstream {
namespace {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;
using protocol::user_control_event;
using testing::names;
using state = play_sequence::state;

play_sequence make() { return play_sequence({"live", "rtmp://origin:1935/live", "a?t=1", 1000}); }

message media(message_type type, std::uint32_t stream_id, std::vector<std::uint8_t> body) {
    message m;
    m.chunk_stream_id = type == message_type::audio ? 4 : 6;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = stream_id;
    m.payload = protocol::shared_bytes(body);
    return m;
}

// Runs the sequence as nginx-rtmp answers it up to the play, on message stream `id`.
void up_to_play(play_sequence& s, std::uint32_t id = 1) {
    std::vector<message> out;
    s.start(out);
    s.on_message(protocol::make_window_ack_size(5000000), out);
    s.on_message(
        protocol::make_set_peer_bandwidth(5000000, protocol::peer_bandwidth_limit::dynamic), out);
    s.on_message(protocol::make_connect_result(1, 0), out);
    const amf_value result[] = {amf_value::make_number(id)};
    s.on_message(protocol::make_result(2, result), out);
}

TEST(play_sequence, connect_create_stream_play_as_nginx_rtmp_answers) {
    auto s = make();
    std::vector<message> out;
    s.start(out);
    ASSERT_EQ(names(out), (std::vector<std::string>{"connect"}));
    auto connect = protocol::parse_command(out[0]);
    ASSERT_TRUE(connect);
    auto c = protocol::parse_connect(*connect);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->app, "live");
    EXPECT_EQ(c->tc_url, "rtmp://origin:1935/live");
    EXPECT_EQ(c->flash_ver, "LNX 9,0,124,2 (rtmpgate)");
    EXPECT_EQ(c->object_encoding, 0);
    EXPECT_EQ(c->properties.get_number("videoCodecs"), 252);

    out.clear();
    EXPECT_EQ(s.on_message(protocol::make_window_ack_size(5000000), out), state::connecting);
    EXPECT_EQ(s.on_message(protocol::make_set_peer_bandwidth(
                               5000000, protocol::peer_bandwidth_limit::dynamic),
                           out),
              state::connecting);
    EXPECT_EQ(s.on_message(protocol::make_set_peer_bandwidth(
                               5000000, protocol::peer_bandwidth_limit::dynamic),
                           out),
              state::connecting);
    ASSERT_EQ(names(out), (std::vector<std::string>{"type 5"}));  // our window, once

    out.clear();
    EXPECT_EQ(s.on_message(protocol::make_connect_result(1, 0), out), state::creating_stream);
    ASSERT_EQ(names(out), (std::vector<std::string>{"createStream"}));
    EXPECT_EQ(protocol::parse_command(out[0])->transaction_id, 2);

    out.clear();
    // onBWDone and the like change nothing.
    EXPECT_EQ(
        s.on_message(protocol::make_command(3, 0, "onBWDone", 0, amf_value::make_null()), out),
        state::creating_stream);
    const amf_value id[] = {amf_value::make_number(7)};
    EXPECT_EQ(s.on_message(protocol::make_result(2, id), out), state::starting);
    ASSERT_EQ(names(out), (std::vector<std::string>{"play", "type 4"}));
    EXPECT_EQ(out[0].message_stream_id, 7u);
    auto play = protocol::parse_command(out[0]);
    ASSERT_TRUE(play);
    EXPECT_EQ(play->transaction_id, 0);
    auto p = protocol::parse_play(*play);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "a?t=1");  // the query goes with the name, for the server's hooks
    EXPECT_EQ(p->start, -1);      // live only
    auto buffer = protocol::parse_control(out[1]);
    ASSERT_TRUE(buffer);
    EXPECT_EQ(buffer->event, user_control_event::set_buffer_length);
    EXPECT_EQ(buffer->value, 7u);
    EXPECT_EQ(buffer->value2, 1000u);

    out.clear();
    EXPECT_EQ(s.on_message(
                  protocol::make_on_status(7, "status", "NetStream.Play.Start", "Start live"), out),
              state::playing);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(s.message_stream_id(), 7u);

    s.finish(out);
    ASSERT_EQ(names(out), (std::vector<std::string>{"closeStream", "deleteStream"}));
    EXPECT_EQ(out[0].message_stream_id, 7u);
    auto d = protocol::parse_delete_stream(*protocol::parse_command(out[1]));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->stream_id, 7u);
}

TEST(play_sequence, the_play_starts_at_reset_stream_begin_or_media) {
    {
        // rtmpgate's engine: StreamBegin, then Play.Reset, then Play.Start.
        auto s = make();
        up_to_play(s, 3);
        std::vector<message> out;
        EXPECT_EQ(
            s.on_message(protocol::make_user_control(user_control_event::stream_begin, 9), out),
            state::starting);  // another stream's
        EXPECT_EQ(
            s.on_message(protocol::make_user_control(user_control_event::stream_begin, 3), out),
            state::playing);
    }
    {
        auto s = make();
        up_to_play(s);
        std::vector<message> out;
        EXPECT_EQ(
            s.on_message(protocol::make_on_status(1, "status", "NetStream.Play.Reset", "r"), out),
            state::playing);
    }
    {
        auto s = make();
        up_to_play(s);
        std::vector<message> out;
        const auto frame = media(message_type::video, 1, {0x17, 0x01, 0, 0, 0});
        EXPECT_FALSE(s.is_stream_media(frame));  // not before the start
        EXPECT_EQ(s.on_message(frame, out), state::playing);
        EXPECT_TRUE(s.is_stream_media(frame));
    }
}

TEST(play_sequence, what_belongs_to_the_stream) {
    auto s = make();
    up_to_play(s);
    std::vector<message> out;
    s.on_message(protocol::make_on_status(1, "status", "NetStream.Play.Start", "Start live"), out);
    EXPECT_TRUE(s.is_stream_media(media(message_type::audio, 1, {0xAF, 0x01, 0x21})));
    EXPECT_TRUE(s.is_stream_media(media(message_type::video, 1, {0x27, 0x01, 0, 0, 0})));
    EXPECT_TRUE(s.is_stream_media(media(message_type::aggregate, 1, {})));
    EXPECT_FALSE(s.is_stream_media(media(message_type::audio, 2, {0xAF, 0x01, 0x21})));

    const amf_value meta[] = {amf_value::make_ecma_array({{"width", amf_value::make_number(640)}})};
    EXPECT_TRUE(s.is_stream_media(protocol::make_data(5, 1, "onMetaData", meta)));
    EXPECT_TRUE(s.is_stream_media(protocol::make_data(5, 1, "onTextData", meta)));
    // What nginx-rtmp says after Play.Start, and FMS at a recording's end: not the publisher's.
    const amf_value allow[] = {amf_value::make_boolean(true), amf_value::make_boolean(true)};
    EXPECT_FALSE(s.is_stream_media(protocol::make_data(5, 1, "|RtmpSampleAccess", allow)));
    EXPECT_FALSE(s.is_stream_media(protocol::make_data(5, 1, "onPlayStatus", meta)));
    EXPECT_FALSE(s.is_stream_media(
        protocol::make_on_status(1, "status", "NetStream.Play.Start", "commands are not media")));
}

TEST(play_sequence, refusals_fail_with_the_server_code) {
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        EXPECT_EQ(
            s.on_message(protocol::make_error(1, "NetConnection.Connect.Rejected", "go away"), out),
            state::failed);
        EXPECT_EQ(s.failure(), "connect refused: NetConnection.Connect.Rejected: go away");
        out.clear();
        s.finish(out);  // no stream to close
        EXPECT_TRUE(out.empty());
        // Nothing more is taken.
        EXPECT_EQ(s.on_message(protocol::make_connect_result(1, 0), out), state::failed);
        EXPECT_TRUE(out.empty());
    }
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        s.on_message(protocol::make_connect_result(1, 0), out);
        EXPECT_EQ(s.on_message(protocol::make_error(2, "NetConnection.Call.Failed", "no"), out),
                  state::failed);
        EXPECT_EQ(s.failure(), "createStream refused: NetConnection.Call.Failed: no");
    }
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        s.on_message(protocol::make_connect_result(1, 0), out);
        EXPECT_EQ(s.on_message(protocol::make_result(2, {}), out), state::failed);
        EXPECT_EQ(s.failure(), "createStream answered without a stream id");
    }
    {
        // nginx-rtmp with idle_streams off, for a stream nobody publishes.
        auto s = make();
        up_to_play(s);
        std::vector<message> out;
        EXPECT_EQ(s.on_message(protocol::make_on_status(1, "error", "NetStream.Play.StreamNotFound",
                                                        "Live stream not found"),
                               out),
                  state::failed);
        EXPECT_EQ(s.failure(), "onStatus NetStream.Play.StreamNotFound: Live stream not found");
    }
    {
        auto s = make();
        up_to_play(s);
        std::vector<message> out;
        EXPECT_EQ(s.on_message(protocol::make_error(0, "NetStream.Play.Failed", "no"), out),
                  state::failed);
        EXPECT_EQ(s.failure(), "play refused: NetStream.Play.Failed: no");
    }
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        message broken = protocol::make_window_ack_size(1);
        broken.payload = protocol::shared_bytes(std::vector<std::uint8_t>{0x01});
        EXPECT_EQ(s.on_message(broken, out), state::failed);
        EXPECT_EQ(s.failure(), "malformed control message from the server");
    }
}

TEST(play_sequence, the_end_of_the_stream_on_the_server) {
    struct ending {
        message m;
        std::string why;
    };
    const std::vector<ending> endings = {
        // nginx-rtmp by default: StreamEOF alone; with play_restart: Play.Stop.
        {protocol::make_user_control(user_control_event::stream_eof, 1), "StreamEOF"},
        {protocol::make_on_status(1, "status", "NetStream.Play.Stop", "Stop live"),
         "onStatus NetStream.Play.Stop: Stop live"},
        // rtmpgate's engine, and nginx-rtmp with publish_notify.
        {protocol::make_on_status(1, "status", "NetStream.Play.UnpublishNotify", "gone"),
         "onStatus NetStream.Play.UnpublishNotify: gone"},
    };
    for (const auto& e : endings) {
        auto s = make();
        up_to_play(s);
        std::vector<message> out;
        // Not before the play has started: nginx-rtmp may close the stream of an earlier
        // publisher as a player joins.
        EXPECT_EQ(s.on_message(e.m, out), state::starting) << e.why;
        s.on_message(protocol::make_on_status(1, "status", "NetStream.Play.Start", "s"), out);
        // Another stream's end is not this one's.
        EXPECT_EQ(s.on_message(protocol::make_user_control(user_control_event::stream_eof, 2), out),
                  state::playing);
        EXPECT_EQ(s.on_message(e.m, out), state::ended) << e.why;
        EXPECT_EQ(s.failure(), e.why);
        EXPECT_FALSE(s.is_stream_media(media(message_type::audio, 1, {0xAF, 0x01, 0x21})));
    }
}

TEST(play_sequence, pings_and_acknowledgements_while_playing) {
    auto s = make();
    up_to_play(s);
    std::vector<message> out;
    s.on_message(protocol::make_on_status(1, "status", "NetStream.Play.Start", "s"), out);
    s.on_message(protocol::make_user_control(user_control_event::ping_request, 1234), out);
    ASSERT_EQ(out.size(), 1u);
    auto pong = protocol::parse_control(out[0]);
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->event, user_control_event::ping_response);
    EXPECT_EQ(pong->value, 1234u);

    out.clear();
    s.acknowledge(4999999, out);
    EXPECT_TRUE(out.empty());
    s.acknowledge(5000000, out);
    ASSERT_EQ(out.size(), 1u);
    auto ack = protocol::parse_control(out[0]);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->type, message_type::acknowledgement);
    EXPECT_EQ(ack->value, 5000000u);
    out.clear();
    s.acknowledge(9999999, out);  // not a whole window since the last
    EXPECT_TRUE(out.empty());
    // The sequence number wraps at 2^32 (spec 5.4.3).
    s.acknowledge((std::uint64_t{1} << 32) + 10, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(protocol::parse_control(out[0])->value, 10u);
}

}  // namespace
}  // namespace rtmpgate::gateway::upstream
