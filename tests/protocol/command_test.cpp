#include "protocol/command.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "protocol/amf0.hpp"
#include "protocol/amf_wire.hpp"
#include "protocol/chunk_decoder.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::text;
using test::wire;
using bytes_t = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Helpers

bytes_t load(const std::string& name) {
    std::ifstream file(std::string(RTMPGATE_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The messages of a capture (bytes ffmpeg sent after C2), decoded by the chunk decoder.
std::vector<message> decode_capture(const std::string& name) {
    const bytes_t capture = load(name);
    EXPECT_FALSE(capture.empty()) << name;
    chunk_decoder decoder;
    std::vector<message> out;
    error_code ec;
    decoder.feed(capture, out, ec);
    EXPECT_EQ(ec, error::need_more) << ec.message();
    return out;
}

// The n-th command message of a capture (types 20 and 17), parsed.
command nth_command(const std::vector<message>& messages, std::size_t n) {
    for (const auto& m : messages) {
        if (m.type() != message_type::command_amf0 && m.type() != message_type::command_amf3)
            continue;
        if (n-- > 0) continue;
        auto c = parse_command(m);
        EXPECT_TRUE(c) << c.error().message();
        return c ? *c : command{};
    }
    ADD_FAILURE() << "no such command";
    return {};
}

const message* first_of_type(const std::vector<message>& messages, message_type type) {
    for (const auto& m : messages)
        if (m.type() == type) return &m;
    return nullptr;
}

message message_of(message_type type, std::span<const std::uint8_t> body,
                   std::uint32_t message_stream_id = 0) {
    message m;
    m.chunk_stream_id = 3;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = message_stream_id;
    m.payload = shared_bytes(bytes_t(body.begin(), body.end()));
    return m;
}

bytes_t payload_of(const message& m) { return {m.payload.span().begin(), m.payload.span().end()}; }

bytes_t encode_all(std::initializer_list<amf_value> values) {
    bytes_t out;
    for (const auto& v : values) amf0::encode(v, out);
    return out;
}

message command_message(std::initializer_list<amf_value> values) {
    return message_of(message_type::command_amf0, encode_all(values));
}

// A command as parse_command gives it: name, transaction id 7, null command object, arguments.
command stream_command(std::vector<amf_value> arguments) {
    command c;
    c.name = "any";
    c.transaction_id = 7;
    c.command_object = amf_value::make_null();
    c.arguments = std::move(arguments);
    return c;
}

amf_value str(std::string_view s) { return amf_value::make_string(s); }
amf_value num(double n) { return amf_value::make_number(n); }
amf_value boolean(bool b) { return amf_value::make_boolean(b); }
amf_value null() { return amf_value::make_null(); }

// ---------------------------------------------------------------------------------------------
// Wire vectors

// onStatus(0, null, {level "status", code "NetStream.Publish.Start",
// description "key is now published.", details "key"}) on message stream 1.
constexpr auto on_status_publish_start =
    wire(bytes(0x02, 0x00, 0x08), text("onStatus"),                    // command name
         bytes(0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),  // transaction id 0.0
         bytes(0x05),                                                  // command object: null
         bytes(0x03),                                                  // information object
         bytes(0x00, 0x05), text("level"),                             //   key
         bytes(0x02, 0x00, 0x06), text("status"),                      //   string
         bytes(0x00, 0x04), text("code"),                              //   key
         bytes(0x02, 0x00, 0x17), text("NetStream.Publish.Start"),     //   string (23)
         bytes(0x00, 0x0B), text("description"),                       //   key
         bytes(0x02, 0x00, 0x15), text("key is now published."),       //   string (21)
         bytes(0x00, 0x07), text("details"),                           //   key
         bytes(0x02, 0x00, 0x03), text("key"),                         //   string
         bytes(0x00, 0x00, 0x09));                                     //   object end

// _result(1, {fmsVer, capabilities 31, mode 1},
//         {level "status", code "NetConnection.Connect.Success", description, objectEncoding 3}).
constexpr auto connect_result_amf3 =
    wire(bytes(0x02, 0x00, 0x07), text("_result"),                        // command name
         bytes(0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),     // transaction id 1.0
         bytes(0x03),                                                     // properties object
         bytes(0x00, 0x06), text("fmsVer"),                               //   key
         bytes(0x02, 0x00, 0x0D), text("FMS/3,0,1,123"),                  //   string (13)
         bytes(0x00, 0x0C), text("capabilities"),                         //   key
         bytes(0x00, 0x40, 0x3F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),     //   31.0
         bytes(0x00, 0x04), text("mode"),                                 //   key
         bytes(0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),     //   1.0
         bytes(0x00, 0x00, 0x09),                                         //   object end
         bytes(0x03),                                                     // information object
         bytes(0x00, 0x05), text("level"),                                //   key
         bytes(0x02, 0x00, 0x06), text("status"),                         //   string
         bytes(0x00, 0x04), text("code"),                                 //   key
         bytes(0x02, 0x00, 0x1D), text("NetConnection.Connect.Success"),  //   string (29)
         bytes(0x00, 0x0B), text("description"),                          //   key
         bytes(0x02, 0x00, 0x15), text("Connection succeeded."),          //   string (21)
         bytes(0x00, 0x0E), text("objectEncoding"),                       //   key
         bytes(0x00, 0x40, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),     //   3.0
         bytes(0x00, 0x00, 0x09));                                        //   object end

// _error(2, null, {level "error", code "NetConnection.Connect.Rejected", description "no"}).
constexpr auto error_rejected =
    wire(bytes(0x02, 0x00, 0x06), text("_error"),                          // command name
         bytes(0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),      // transaction id 2.0
         bytes(0x05),                                                      // command object: null
         bytes(0x03),                                                      // information object
         bytes(0x00, 0x05), text("level"),                                 //   key
         bytes(0x02, 0x00, 0x05), text("error"),                           //   string
         bytes(0x00, 0x04), text("code"),                                  //   key
         bytes(0x02, 0x00, 0x1E), text("NetConnection.Connect.Rejected"),  //   string (30)
         bytes(0x00, 0x0B), text("description"),                           //   key
         bytes(0x02, 0x00, 0x02), text("no"),                              //   string
         bytes(0x00, 0x00, 0x09));                                         //   object end

// _result(4, null, 1.0): createStream's answer.
constexpr auto result_stream_1 =
    wire(bytes(0x02, 0x00, 0x07), text("_result"),                      // command name
         bytes(0x00, 0x40, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),   // transaction id 4.0
         bytes(0x05),                                                   // command object: null
         bytes(0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00));  // stream id 1.0

// onMetaData data message: "onMetaData", ECMA array {width: 320.0}.
constexpr auto on_meta_data =
    wire(bytes(0x02, 0x00, 0x0A), text("onMetaData"),                  // handler name
         bytes(0x08, 0x00, 0x00, 0x00, 0x01),                          // ECMA array, count 1
         bytes(0x00, 0x05), text("width"),                             //   key
         bytes(0x00, 0x40, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),  //   320.0
         bytes(0x00, 0x00, 0x09));                                     //   object end

// "@setDataFrame" then the onMetaData above, as a publisher sends it.
constexpr auto set_data_frame =
    wire(bytes(0x02, 0x00, 0x0D), text("@setDataFrame"),  // handler name
         on_meta_data);                                   // what players get

// createStream(2, null) with the AMF3 format byte of type 17 in front.
constexpr auto create_stream_amf3 =
    wire(bytes(0x00),                                                  // AMF3 format byte
         bytes(0x02, 0x00, 0x0C), text("createStream"),                // command name
         bytes(0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),  // transaction id 2.0
         bytes(0x05));                                                 // command object: null

// ---------------------------------------------------------------------------------------------
// ffmpeg 5.1 captures

TEST(command_capture, ffmpeg_publish_sequence) {
    const auto messages = decode_capture("ffmpeg51_publish.bin");

    const command connect = nth_command(messages, 0);
    EXPECT_EQ(connect.name, "connect");
    auto cc = parse_connect(connect);
    ASSERT_TRUE(cc) << cc.error().message();
    EXPECT_EQ(cc->transaction_id, 1);
    EXPECT_EQ(cc->app, "live");
    EXPECT_EQ(cc->flash_ver, "FMLE/3.0 (compatible; Lavf59.27.100)");
    EXPECT_EQ(cc->tc_url, "rtmp://127.0.0.1:35759/live");
    EXPECT_EQ(cc->swf_url, "");
    EXPECT_EQ(cc->page_url, "");
    EXPECT_EQ(cc->object_encoding, 0);
    EXPECT_TRUE(cc->four_cc_list.empty());
    EXPECT_EQ(cc->properties.get_string("type"), "nonprivate");

    const command release = nth_command(messages, 1);
    EXPECT_EQ(release.name, "releaseStream");
    auto rs = parse_stream_name_command(release);
    ASSERT_TRUE(rs);
    EXPECT_EQ(rs->transaction_id, 2);
    EXPECT_EQ(rs->name, "key");

    const command fc_publish = nth_command(messages, 2);
    EXPECT_EQ(fc_publish.name, "FCPublish");
    auto fp = parse_stream_name_command(fc_publish);
    ASSERT_TRUE(fp);
    EXPECT_EQ(fp->transaction_id, 3);
    EXPECT_EQ(fp->name, "key");

    const command create = nth_command(messages, 3);
    EXPECT_EQ(create.name, "createStream");
    EXPECT_TRUE(create.command_object.is(amf_kind::null));
    auto cs = parse_create_stream(create);
    ASSERT_TRUE(cs);
    EXPECT_EQ(cs->transaction_id, 4);

    const command publish = nth_command(messages, 4);
    EXPECT_EQ(publish.name, "publish");
    auto p = parse_publish(publish);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->transaction_id, 5);
    EXPECT_EQ(p->name, "key");
    EXPECT_EQ(p->type, "live");

    const message* data = first_of_type(messages, message_type::data_amf0);
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(data->message_stream_id, 1u);
    auto d = parse_data(*data);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->name, "@setDataFrame");
    ASSERT_EQ(d->values.size(), 2u);
    EXPECT_EQ(d->values[0], str("onMetaData"));
    ASSERT_TRUE(d->values[1].is(amf_kind::ecma_array));
    EXPECT_EQ(d->values[1].get_number("width"), 128);
    EXPECT_EQ(d->values[1].get_number("height"), 72);
    EXPECT_EQ(d->values[1].get_string("encoder"), "Lavf59.27.100");

    // Stripping slices off the 16 bytes of the "@setDataFrame" string and nothing else.
    auto stripped = strip_set_data_frame(*data);
    ASSERT_TRUE(stripped) << stripped.error().message();
    const auto whole = data->payload.span();
    ASSERT_EQ(stripped->size(), whole.size() - 16);
    EXPECT_TRUE(std::equal(whole.begin() + 16, whole.end(), stripped->span().begin()));
    message for_players = *data;
    for_players.payload = *stripped;
    auto meta = parse_data(for_players);
    ASSERT_TRUE(meta);
    EXPECT_EQ(meta->name, "onMetaData");
    ASSERT_EQ(meta->values.size(), 1u);
    EXPECT_EQ(meta->values[0], d->values[1]);
}

TEST(command_capture, ffmpeg_play_sequence) {
    const auto messages = decode_capture("ffmpeg51_play.bin");

    auto cc = parse_connect(nth_command(messages, 0));
    ASSERT_TRUE(cc) << cc.error().message();
    EXPECT_EQ(cc->transaction_id, 1);
    EXPECT_EQ(cc->app, "live");
    EXPECT_EQ(cc->flash_ver, "LNX 9,0,124,2");
    EXPECT_EQ(cc->tc_url, "rtmp://127.0.0.1:44043/live");
    EXPECT_EQ(cc->object_encoding, 0);
    EXPECT_EQ(cc->properties.get_number("capabilities"), 15);
    EXPECT_EQ(cc->properties.get_number("audioCodecs"), 4071);
    EXPECT_EQ(cc->properties.get_number("videoCodecs"), 252);
    ASSERT_NE(cc->properties.find("fpad"), nullptr);
    EXPECT_EQ(*cc->properties.find("fpad"), boolean(false));

    const command create = nth_command(messages, 1);
    EXPECT_EQ(create.name, "createStream");
    EXPECT_EQ(parse_create_stream(create)->transaction_id, 2);

    const command length = nth_command(messages, 2);
    EXPECT_EQ(length.name, "getStreamLength");
    auto gl = parse_get_stream_length(length);
    ASSERT_TRUE(gl);
    EXPECT_EQ(gl->transaction_id, 3);
    EXPECT_EQ(gl->name, "key");

    const command play = nth_command(messages, 3);
    EXPECT_EQ(play.name, "play");
    ASSERT_EQ(play.arguments.size(), 2u);
    EXPECT_EQ(play.arguments[1], num(-2000));  // ffmpeg writes live * 1000
    auto p = parse_play(play);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->transaction_id, 4);
    EXPECT_EQ(p->name, "key");
    EXPECT_EQ(p->start, -2);
    EXPECT_EQ(p->duration, -1);
    EXPECT_TRUE(p->reset);
}

// ---------------------------------------------------------------------------------------------
// Builders

TEST(command_build, on_status_bytes) {
    const message m =
        make_on_status(1, "status", "NetStream.Publish.Start", "key is now published.", "key");
    EXPECT_EQ(payload_of(m), test::to_vector(on_status_publish_start));
    EXPECT_EQ(m.type(), message_type::command_amf0);
    EXPECT_EQ(m.chunk_stream_id, chunk_stream::stream_command);
    EXPECT_EQ(m.message_stream_id, 1u);
    EXPECT_EQ(m.timestamp, 0u);
}

TEST(command_build, on_status_without_details_has_no_details_key) {
    const message m = make_on_status(1, "error", "NetStream.Publish.BadName", "taken");
    auto c = parse_command(m);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->arguments.size(), 1u);
    EXPECT_EQ(c->arguments[0].find("details"), nullptr);
    EXPECT_EQ(c->arguments[0].get_string("level"), "error");
    EXPECT_EQ(c->arguments[0].get_string("code"), "NetStream.Publish.BadName");
    EXPECT_EQ(c->arguments[0].get_string("description"), "taken");
}

TEST(command_build, connect_result_bytes) {
    const message m = make_connect_result(1, 3);
    EXPECT_EQ(payload_of(m), test::to_vector(connect_result_amf3));
    EXPECT_EQ(m.type(), message_type::command_amf0);
    EXPECT_EQ(m.chunk_stream_id, chunk_stream::command);
    EXPECT_EQ(m.message_stream_id, 0u);
}

TEST(command_build, error_bytes) {
    const message m = make_error(2, "NetConnection.Connect.Rejected", "no");
    EXPECT_EQ(payload_of(m), test::to_vector(error_rejected));
    EXPECT_EQ(m.chunk_stream_id, chunk_stream::command);
    EXPECT_EQ(m.message_stream_id, 0u);
}

TEST(command_build, result_bytes) {
    const std::array<amf_value, 1> stream_id = {num(1)};
    const message m = make_result(4, stream_id);
    EXPECT_EQ(payload_of(m), test::to_vector(result_stream_1));
    EXPECT_EQ(m.type(), message_type::command_amf0);
    EXPECT_EQ(m.chunk_stream_id, chunk_stream::command);
}

TEST(command_build, make_command_round_trips) {
    const std::array<amf_value, 2> arguments = {str("key"), str("record")};
    const message m = make_command(8, 1, "publish", 5, null(), arguments);
    EXPECT_EQ(m.type(), message_type::command_amf0);
    EXPECT_EQ(m.chunk_stream_id, 8u);
    EXPECT_EQ(m.message_stream_id, 1u);
    auto c = parse_command(m);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "publish");
    EXPECT_EQ(c->transaction_id, 5);
    EXPECT_TRUE(c->command_object.is(amf_kind::null));
    auto p = parse_publish(*c);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "key");
    EXPECT_EQ(p->type, "record");
}

TEST(command_build, make_data_bytes) {
    const std::array<amf_value, 1> values = {amf_value::make_ecma_array({{"width", num(320)}})};
    const message m = make_data(5, 1, "onMetaData", values);
    EXPECT_EQ(payload_of(m), test::to_vector(on_meta_data));
    EXPECT_EQ(m.type(), message_type::data_amf0);
    EXPECT_EQ(m.chunk_stream_id, 5u);
    EXPECT_EQ(m.message_stream_id, 1u);
    EXPECT_EQ(payload_of(make_data(5, 1, "onMetaData")),
              test::to_vector(wire(bytes(0x02, 0x00, 0x0A), text("onMetaData"))));
}

// ---------------------------------------------------------------------------------------------
// parse_command

TEST(command_parse, amf3_command_skips_format_byte) {
    auto c = parse_command(message_of(message_type::command_amf3, create_stream_amf3));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->name, "createStream");
    EXPECT_EQ(c->transaction_id, 2);
    EXPECT_TRUE(c->command_object.is(amf_kind::null));
    EXPECT_TRUE(c->arguments.empty());
    // The same bytes without the format byte as type 20 mean the same command.
    auto same = parse_command(
        message_of(message_type::command_amf0, std::span(create_stream_amf3).subspan(1)));
    ASSERT_TRUE(same);
    EXPECT_EQ(same->name, c->name);
    EXPECT_EQ(same->transaction_id, c->transaction_id);
}

TEST(command_parse, missing_command_object_reads_as_null) {
    auto c = parse_command(command_message({str("closeStream"), num(0)}));
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->command_object.is(amf_kind::null));
    EXPECT_TRUE(c->arguments.empty());
}

TEST(command_parse, long_string_name_accepted) {
    constexpr auto body = wire(bytes(0x0C, 0x00, 0x00, 0x00, 0x04), text("play"),  // long string
                               bytes(0x00, 0, 0, 0, 0, 0, 0, 0, 0));               // 0.0
    auto c = parse_command(message_of(message_type::command_amf0, body));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->name, "play");
}

TEST(command_parse, integer_transaction_id_from_amf3_is_a_number) {
    // as_number accepts AMF3 integers; build the value directly, as an AMF3 decoder gives it.
    amf_value integer;
    integer.kind = amf_kind::integer;
    integer.integer = 9;
    command c = stream_command({integer});
    auto d = parse_delete_stream(c);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->stream_id, 9u);
}

TEST(command_parse, not_a_command_type_is_message_malformed) {
    const auto body = encode_all({str("connect"), num(1), null()});
    for (auto type : {message_type::audio, message_type::data_amf0, message_type::data_amf3,
                      message_type::shared_object_amf0}) {
        auto c = parse_command(message_of(type, body));
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), error::message_malformed);
    }
}

TEST(command_parse, body_not_starting_with_string_is_message_malformed) {
    const std::vector<bytes_t> bodies = {
        {},                                    // empty
        encode_all({num(1), str("connect")}),  // a number first
        encode_all({null()}),                  // null first
    };
    for (const auto& body : bodies) {
        auto c = parse_command(message_of(message_type::command_amf0, body));
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), error::message_malformed);
    }
    // Type 17: nothing at all, only the format byte, the format byte then a number.
    const std::vector<bytes_t> amf3_bodies = {{}, {0x00}, {0x00, 0x05}};
    for (const auto& body : amf3_bodies) {
        auto c = parse_command(message_of(message_type::command_amf3, body));
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), error::message_malformed);
    }
}

TEST(command_parse, missing_or_mistyped_transaction_id_is_command_malformed) {
    for (const auto& m :
         {command_message({str("connect")}), command_message({str("connect"), str("1")}),
          command_message({str("connect"), null()})}) {
        auto c = parse_command(m);
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error(), error::command_malformed);
    }
}

TEST(command_parse, amf_errors_pass_through) {
    struct case_t {
        bytes_t body;
        amf_limits limits;
        error expected;
    };
    const bytes_t name = encode_all({str("x"), num(1)});
    const auto with = [&](std::initializer_list<std::uint8_t> tail) {
        bytes_t b = name;
        b.insert(b.end(), tail);
        return b;
    };
    amf_limits shallow;
    shallow.max_depth = 1;
    amf_limits short_strings;
    short_strings.max_string_length = 2;
    amf_limits few_elements;
    few_elements.max_elements = 1;
    amf_limits small;
    small.max_total_bytes = 64;
    const std::vector<case_t> cases = {
        {{0x02, 0x00, 0x05, 'a'}, {}, error::truncated},           // name cut short
        {with({0x09}), {}, error::amf_unknown_marker},             // stray object end
        {with({0x0D}), {}, error::amf_unsupported},                // unsupported marker
        {with({0x07, 0x00, 0x05}), {}, error::amf_bad_reference},  // no such reference
        {with({0x03, 0x00, 0x01, 'a', 0x03, 0x00, 0x00, 0x09, 0x00, 0x00, 0x09}), shallow,
         error::amf_depth_exceeded},  // object in object
        {encode_all({str("abc"), num(1)}), short_strings, error::amf_string_too_long},
        {with({0x0A, 0x00, 0x00, 0x00, 0x02, 0x05, 0x05}), few_elements,
         error::amf_too_many_elements},  // 2-element array
        {encode_all({str("x"), num(1), null(), null(), null()}), small, error::amf_too_large},
    };
    for (const auto& c : cases) {
        auto r = parse_command(message_of(message_type::command_amf0, c.body), c.limits);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), c.expected) << r.error().message();
    }
}

// ---------------------------------------------------------------------------------------------
// Typed parsers

amf_value connect_object(std::vector<amf_property> extra) {
    std::vector<amf_property> props = {{"app", str("live")}};
    for (auto& p : extra) props.push_back(std::move(p));
    return amf_value::make_object(std::move(props));
}

command connect_with(amf_value object) {
    command c;
    c.name = "connect";
    c.transaction_id = 1;
    c.command_object = std::move(object);
    return c;
}

TEST(command_typed, connect_flash_fields_and_four_cc_list) {
    amf_value four_cc;
    four_cc.kind = amf_kind::strict_array;
    four_cc.elements = {str("hvc1"), str("av01"), str("vp09")};
    auto cc = parse_connect(connect_with(connect_object({
        {"tcUrl", str("rtmp://h/live")},
        {"swfUrl", str("http://h/player.swf")},
        {"pageUrl", str("http://h/index.html")},
        {"objectEncoding", num(3)},
        {"fourCcList", four_cc},
    })));
    ASSERT_TRUE(cc) << cc.error().message();
    EXPECT_EQ(cc->swf_url, "http://h/player.swf");
    EXPECT_EQ(cc->page_url, "http://h/index.html");
    EXPECT_EQ(cc->object_encoding, 3);
    EXPECT_EQ(cc->four_cc_list, (std::vector<std::string>{"hvc1", "av01", "vp09"}));
}

TEST(command_typed, connect_null_optionals_take_defaults) {
    auto cc = parse_connect(
        connect_with(amf_value::make_ecma_array({{"app", str("live/sub?token=1")},
                                                 {"swfUrl", amf_value::make_undefined()},
                                                 {"objectEncoding", null()}})));
    ASSERT_TRUE(cc) << cc.error().message();
    EXPECT_EQ(cc->app, "live/sub?token=1");
    EXPECT_EQ(cc->swf_url, "");
    EXPECT_EQ(cc->object_encoding, 0);
}

TEST(command_typed, connect_errors_are_command_malformed) {
    amf_value numbers_list;
    numbers_list.kind = amf_kind::strict_array;
    numbers_list.elements = {num(1)};
    const std::vector<amf_value> objects = {
        null(),                                                     // no command object
        amf_value::make_object({{"tcUrl", str("rtmp://h/live")}}),  // no app
        amf_value::make_object({{"app", num(1)}}),                  // app not a string
        connect_object({{"tcUrl", num(1)}}),
        connect_object({{"flashVer", boolean(true)}}),
        connect_object({{"swfUrl", num(1)}}),
        connect_object({{"pageUrl", num(1)}}),
        connect_object({{"objectEncoding", str("3")}}),
        connect_object({{"objectEncoding", num(1)}}),  // neither AMF0 nor AMF3
        connect_object({{"fourCcList", str("hvc1")}}),
        connect_object({{"fourCcList", numbers_list}}),
    };
    for (const auto& object : objects) {
        auto cc = parse_connect(connect_with(object));
        ASSERT_FALSE(cc);
        EXPECT_EQ(cc.error(), error::command_malformed);
    }
}

TEST(command_typed, oversized_connect_field_names_the_first_string_over_its_limit) {
    const name_limits limits{.max_name = 8, .max_url = 16};
    const auto field = [&](std::vector<amf_property> props) {
        auto cc = parse_connect(connect_with(amf_value::make_object(std::move(props))));
        EXPECT_TRUE(cc);
        return cc ? oversized_connect_field(*cc, limits) : "parse failed";
    };
    const std::string url(16, 'u');
    // Every string at its limit fits.
    EXPECT_EQ(field({{"app", str("12345678")},
                     {"tcUrl", str(url)},
                     {"swfUrl", str(url)},
                     {"pageUrl", str(url)},
                     {"flashVer", str(url)}}),
              nullptr);
    // One octet more: the app counts its query string too.
    EXPECT_STREQ(field({{"app", str("live?k=12")}}), "app");
    EXPECT_STREQ(field({{"app", str("live")}, {"tcUrl", str(url + "x")}}), "tcUrl");
    EXPECT_STREQ(field({{"app", str("live")}, {"swfUrl", str(url + "x")}}), "swfUrl");
    EXPECT_STREQ(field({{"app", str("live")}, {"pageUrl", str(url + "x")}}), "pageUrl");
    EXPECT_STREQ(field({{"app", str("live")}, {"flashVer", str(url + "x")}}), "flashVer");
    // The defaults: what ffmpeg sends at most (1024 octets of app) passes.
    auto cc = parse_connect(connect_with(connect_object({{"tcUrl", str(std::string(2048, 't'))}})));
    ASSERT_TRUE(cc);
    cc->app = std::string(1024, 'a');
    EXPECT_EQ(oversized_connect_field(*cc, {}), nullptr);
    cc->app += 'a';
    EXPECT_STREQ(oversized_connect_field(*cc, {}), "app");
}

TEST(command_typed, publish_defaults_and_errors) {
    auto p = parse_publish(stream_command({str("key?sign=1")}));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->transaction_id, 7);
    EXPECT_EQ(p->name, "key?sign=1");
    EXPECT_EQ(p->type, "live");
    EXPECT_EQ(parse_publish(stream_command({str("k"), null()}))->type, "live");
    EXPECT_EQ(parse_publish(stream_command({str("k"), str("append")}))->type, "append");
    for (const auto& args :
         std::vector<std::vector<amf_value>>{{}, {null()}, {boolean(false)}, {str("k"), num(1)}}) {
        auto r = parse_publish(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, play_arguments_and_normalised_start) {
    auto p = parse_play(stream_command({str("key"), num(-1000), num(5000), boolean(false)}));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->start, -1);  // librtmp's live-only
    EXPECT_EQ(p->duration, 5000);
    EXPECT_FALSE(p->reset);
    EXPECT_EQ(parse_play(stream_command({str("k"), num(-1)}))->start, -1);
    EXPECT_EQ(parse_play(stream_command({str("k"), num(-2)}))->start, -2);
    EXPECT_EQ(parse_play(stream_command({str("k"), num(-5)}))->start, -2);
    EXPECT_EQ(parse_play(stream_command({str("k"), num(1500)}))->start, 1500);
    EXPECT_EQ(parse_play(stream_command({str("k"), num(0), num(-1000)}))->duration, -1);
    EXPECT_FALSE(parse_play(stream_command({str("k"), null(), null(), num(0)}))->reset);
    auto defaults = parse_play(stream_command({str("k")}));
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->start, -2);
    EXPECT_EQ(defaults->duration, -1);
    EXPECT_TRUE(defaults->reset);
    for (const auto& args :
         std::vector<std::vector<amf_value>>{{},
                                             {num(1)},
                                             {str("k"), str("0")},
                                             {str("k"), num(0), boolean(true)},
                                             {str("k"), num(0), num(0), str("yes")}}) {
        auto r = parse_play(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, play2_stream_name) {
    const auto options = amf_value::make_object({{"streamName", str("key_720")},
                                                 {"oldStreamName", str("key_480")},
                                                 {"transition", str("switch")},
                                                 {"start", num(-2)}});
    auto p = parse_play2(stream_command({options}));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->transaction_id, 7);
    EXPECT_EQ(p->stream_name, "key_720");
    EXPECT_EQ(p->parameters, options);
    for (const auto& args :
         std::vector<std::vector<amf_value>>{{},
                                             {str("key")},
                                             {amf_value::make_object({{"start", num(0)}})},
                                             {amf_value::make_object({{"streamName", num(1)}})}}) {
        auto r = parse_play2(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, delete_stream_id) {
    auto d = parse_delete_stream(stream_command({num(1)}));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->transaction_id, 7);
    EXPECT_EQ(d->stream_id, 1u);
    EXPECT_EQ(parse_delete_stream(stream_command({num(4294967295.0)}))->stream_id, 4294967295u);
    for (const auto& args :
         std::vector<std::vector<amf_value>>{{},
                                             {null()},
                                             {str("1")},
                                             {num(-1)},
                                             {num(1.5)},
                                             {num(4294967296.0)},
                                             {num(std::numeric_limits<double>::quiet_NaN())}}) {
        auto r = parse_delete_stream(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, close_stream_and_create_stream_take_only_transaction_id) {
    EXPECT_EQ(parse_close_stream(stream_command({}))->transaction_id, 7);
    EXPECT_EQ(parse_create_stream(stream_command({str("ignored")}))->transaction_id, 7);
}

TEST(command_typed, stream_name_command_requires_name) {
    auto s = parse_stream_name_command(stream_command({str("key")}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->name, "key");
    for (const auto& args : std::vector<std::vector<amf_value>>{{}, {null()}, {num(1)}}) {
        auto r = parse_stream_name_command(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, pause_flag_and_position) {
    auto p = parse_pause(stream_command({boolean(false), num(12345)}));
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->pause);
    EXPECT_EQ(p->milliseconds, 12345);
    auto no_position = parse_pause(stream_command({boolean(true)}));
    ASSERT_TRUE(no_position);
    EXPECT_TRUE(no_position->pause);
    EXPECT_EQ(no_position->milliseconds, 0);
    for (const auto& args :
         std::vector<std::vector<amf_value>>{{}, {num(1)}, {boolean(true), str("0")}}) {
        auto r = parse_pause(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, receive_media_flag) {
    EXPECT_FALSE(parse_receive_media(stream_command({boolean(false)}))->enable);
    EXPECT_TRUE(parse_receive_media(stream_command({boolean(true)}))->enable);
    for (const auto& args : std::vector<std::vector<amf_value>>{{}, {null()}, {num(1)}}) {
        auto r = parse_receive_media(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

TEST(command_typed, get_stream_length_requires_name) {
    EXPECT_EQ(parse_get_stream_length(stream_command({str("vod")}))->name, "vod");
    for (const auto& args : std::vector<std::vector<amf_value>>{{}, {num(1)}}) {
        auto r = parse_get_stream_length(stream_command(args));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::command_malformed);
    }
}

// ---------------------------------------------------------------------------------------------
// Data messages

TEST(command_data, parse_type_15_skips_format_byte) {
    bytes_t body = {0x00};
    body.insert(body.end(), on_meta_data.begin(), on_meta_data.end());
    auto d = parse_data(message_of(message_type::data_amf3, body));
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->name, "onMetaData");
    ASSERT_EQ(d->values.size(), 1u);
    EXPECT_EQ(d->values[0].get_number("width"), 320);
}

TEST(command_data, parse_errors) {
    auto wrong_type = parse_data(message_of(message_type::command_amf0, on_meta_data));
    ASSERT_FALSE(wrong_type);
    EXPECT_EQ(wrong_type.error(), error::message_malformed);
    for (const auto& m : {message_of(message_type::data_amf0, bytes_t{}),
                          message_of(message_type::data_amf0, encode_all({num(1)})),
                          message_of(message_type::data_amf3, bytes_t{0x00}),
                          message_of(message_type::data_amf3, bytes_t{})}) {
        auto r = parse_data(m);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::message_malformed);
    }
    auto cut = parse_data(message_of(message_type::data_amf0,
                                     std::span(on_meta_data).first(on_meta_data.size() - 4)));
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error(), error::truncated);
}

TEST(command_data, strip_set_data_frame_slices) {
    const message m = message_of(message_type::data_amf0, set_data_frame, 1);
    auto stripped = strip_set_data_frame(m);
    ASSERT_TRUE(stripped);
    EXPECT_EQ(bytes_t(stripped->span().begin(), stripped->span().end()),
              test::to_vector(on_meta_data));
}

TEST(command_data, strip_set_data_frame_type_15_keeps_format_byte) {
    bytes_t body = {0x00};
    body.insert(body.end(), set_data_frame.begin(), set_data_frame.end());
    auto stripped = strip_set_data_frame(message_of(message_type::data_amf3, body));
    ASSERT_TRUE(stripped);
    bytes_t expected = {0x00};
    expected.insert(expected.end(), on_meta_data.begin(), on_meta_data.end());
    EXPECT_EQ(bytes_t(stripped->span().begin(), stripped->span().end()), expected);
}

TEST(command_data, strip_other_data_returns_same_bytes) {
    const message m = message_of(message_type::data_amf0, on_meta_data, 1);
    auto same = strip_set_data_frame(m);
    ASSERT_TRUE(same);
    EXPECT_EQ(same->data(), m.payload.data());  // shared, not copied
    // A long-string name that is not @setDataFrame is a string too.
    constexpr auto long_name = wire(bytes(0x0C, 0x00, 0x00, 0x00, 0x02), text("hi"));
    auto long_same = strip_set_data_frame(message_of(message_type::data_amf0, long_name));
    ASSERT_TRUE(long_same);
    EXPECT_EQ(long_same->size(), long_name.size());
}

TEST(command_data, is_on_metadata_reads_the_handler_name) {
    EXPECT_TRUE(is_on_metadata(message_of(message_type::data_amf0, on_meta_data)));
    bytes_t amf3_body = {0x00};  // type 15's format byte, whatever its value
    amf3_body.insert(amf3_body.end(), on_meta_data.begin(), on_meta_data.end());
    EXPECT_TRUE(is_on_metadata(message_of(message_type::data_amf3, amf3_body)));
    // A long string names it as well as a string does (as strip_set_data_frame reads names).
    constexpr auto long_name = wire(bytes(0x0C, 0x00, 0x00, 0x00, 0x0A), text("onMetaData"));
    EXPECT_TRUE(is_on_metadata(message_of(message_type::data_amf0, long_name)));

    constexpr auto prefix = wire(bytes(0x02, 0x00, 0x09), text("onMetaDat"));
    constexpr auto longer = wire(bytes(0x02, 0x00, 0x0B), text("onMetaData2"));
    constexpr auto cue_point = wire(bytes(0x02, 0x00, 0x0A), text("onCuePoint"));
    const std::vector<message> not_metadata = {
        message_of(message_type::data_amf0, set_data_frame),  // not stripped yet
        message_of(message_type::data_amf0, prefix),
        message_of(message_type::data_amf0, longer),
        message_of(message_type::data_amf0, cue_point),
        message_of(message_type::data_amf3, on_meta_data),     // its first octet taken as format
        message_of(message_type::command_amf0, on_meta_data),  // not data
        message_of(message_type::data_amf0, std::span(on_meta_data).first(8)),  // cut name
        message_of(message_type::data_amf0, bytes_t{}),
        message_of(message_type::data_amf3, bytes_t{0x00}),
    };
    for (std::size_t i = 0; i < not_metadata.size(); ++i)
        EXPECT_FALSE(is_on_metadata(not_metadata[i])) << i;
}

TEST(command_data, strip_errors_are_message_malformed) {
    const std::vector<message> bad = {
        message_of(message_type::command_amf0, set_data_frame),                    // not data
        message_of(message_type::data_amf0, bytes_t{}),                            // empty
        message_of(message_type::data_amf0, encode_all({num(1)})),                 // not a string
        message_of(message_type::data_amf0, std::span(set_data_frame).first(10)),  // cut name
        message_of(message_type::data_amf0, bytes_t{0x0C, 0x00, 0x00}),  // cut long length
        message_of(message_type::data_amf3, bytes_t{}),                  // no format byte
    };
    for (const auto& m : bad) {
        auto r = strip_set_data_frame(m);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), error::message_malformed);
    }
}

}  // namespace
}  // namespace rtmpgate::protocol
