#include "gateway/upstream/publish_sequence.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "tests/gateway/upstream/command_names.hpp"

// publish_sequence against the replies nginx-rtmp sends, built with protocol/'s server-side
// builders; what the client sends is read back with protocol/'s parsers.

namespace rtmpgate::gateway::upstream {
namespace {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;
using testing::names;
using state = publish_sequence::state;

publish_sequence make() {
    return publish_sequence({"live", "rtmp://origin:1935/live", "key", 4096});
}

// Runs the sequence as nginx-rtmp answers it, up to NetStream.Publish.Start.
void publish(publish_sequence& s) {
    std::vector<message> out;
    s.start(out);
    s.on_message(protocol::make_window_ack_size(5000000), out);
    s.on_message(
        protocol::make_set_peer_bandwidth(5000000, protocol::peer_bandwidth_limit::dynamic), out);
    s.on_message(protocol::make_connect_result(1, 0), out);
    const amf_value id[] = {amf_value::make_number(1)};
    s.on_message(protocol::make_result(4, id), out);
    s.on_message(
        protocol::make_on_status(1, "status", "NetStream.Publish.Start", "Start publishing"), out);
}

TEST(publish_sequence, connect_create_stream_publish_as_nginx_rtmp_answers) {
    auto s = make();
    std::vector<message> out;
    s.start(out);
    ASSERT_EQ(names(out), (std::vector<std::string>{"type 1", "connect"}));
    auto size = protocol::parse_control(out[0]);
    ASSERT_TRUE(size);
    EXPECT_EQ(size->value, 4096u);
    auto connect = protocol::parse_command(out[1]);
    ASSERT_TRUE(connect);
    auto c = protocol::parse_connect(*connect);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->app, "live");
    EXPECT_EQ(c->tc_url, "rtmp://origin:1935/live");
    EXPECT_EQ(c->flash_ver, "FMLE/3.0 (compatible; rtmpgate)");
    EXPECT_EQ(c->object_encoding, 0);

    out.clear();
    EXPECT_EQ(s.on_message(protocol::make_window_ack_size(5000000), out), state::connecting);
    EXPECT_EQ(s.on_message(protocol::make_set_peer_bandwidth(
                               5000000, protocol::peer_bandwidth_limit::dynamic),
                           out),
              state::connecting);
    ASSERT_EQ(names(out), (std::vector<std::string>{"type 5"}));  // our window, once

    out.clear();
    EXPECT_EQ(s.on_message(protocol::make_connect_result(1, 0), out), state::creating_stream);
    ASSERT_EQ(names(out), (std::vector<std::string>{"releaseStream", "FCPublish", "createStream"}));
    auto fc = protocol::parse_stream_name_command(*protocol::parse_command(out[1]));
    ASSERT_TRUE(fc);
    EXPECT_EQ(fc->name, "key");

    out.clear();
    // nginx-rtmp answers nothing to releaseStream and FCPublish; others answer _error.
    EXPECT_EQ(s.on_message(protocol::make_error(2, "NetConnection.Call.Failed", "no"), out),
              state::creating_stream);
    const amf_value id[] = {amf_value::make_number(7)};
    EXPECT_EQ(s.on_message(protocol::make_result(4, id), out), state::publishing);
    ASSERT_EQ(names(out), (std::vector<std::string>{"publish"}));
    EXPECT_EQ(out[0].message_stream_id, 7u);
    auto p = protocol::parse_publish(*protocol::parse_command(out[0]));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "key");
    EXPECT_EQ(p->type, "live");

    out.clear();
    EXPECT_EQ(
        s.on_message(protocol::make_on_status(7, "status", "NetStream.Publish.Start", "ok"), out),
        state::published);
    EXPECT_EQ(s.message_stream_id(), 7u);

    s.finish(out);
    ASSERT_EQ(names(out), (std::vector<std::string>{"FCUnpublish", "deleteStream"}));
    auto d = protocol::parse_delete_stream(*protocol::parse_command(out[1]));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->stream_id, 7u);
}

TEST(publish_sequence, refusals_fail_with_the_server_code) {
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        EXPECT_EQ(
            s.on_message(protocol::make_error(1, "NetConnection.Connect.Rejected", "go away"), out),
            state::failed);
        EXPECT_EQ(s.failure(), "connect refused: NetConnection.Connect.Rejected: go away");
    }
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        s.on_message(protocol::make_connect_result(1, 0), out);
        const amf_value id[] = {amf_value::make_number(1)};
        s.on_message(protocol::make_result(4, id), out);
        EXPECT_EQ(s.on_message(protocol::make_on_status(1, "error", "NetStream.Publish.BadName",
                                                        "Already publishing"),
                               out),
                  state::failed);
        EXPECT_EQ(s.failure(), "onStatus NetStream.Publish.BadName: Already publishing");
        out.clear();
        s.finish(out);  // nothing to unpublish
        EXPECT_TRUE(out.empty());
    }
    {
        auto s = make();
        std::vector<message> out;
        s.start(out);
        s.on_message(protocol::make_connect_result(1, 0), out);
        EXPECT_EQ(s.on_message(protocol::make_result(4, {}), out), state::failed);
        EXPECT_EQ(s.failure(), "createStream answered without a stream id");
    }
}

TEST(publish_sequence, pings_and_acknowledgements_while_published) {
    auto s = make();
    publish(s);
    ASSERT_EQ(s.current(), state::published);
    std::vector<message> out;
    s.on_message(protocol::make_user_control(protocol::user_control_event::ping_request, 1234),
                 out);
    ASSERT_EQ(out.size(), 1u);
    auto pong = protocol::parse_control(out[0]);
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->event, protocol::user_control_event::ping_response);
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

    // The server ends the publish on its side: the push is over.
    EXPECT_EQ(s.on_message(
                  protocol::make_on_status(1, "status", "NetStream.Unpublish.Success", "x"), out),
              state::failed);
}

}  // namespace
}  // namespace rtmpgate::gateway::upstream
