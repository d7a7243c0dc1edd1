#include "protocol/command.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>

#include "protocol/amf0.hpp"
#include "protocol/amf0_marker.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol {
namespace {

constexpr std::string_view set_data_frame = "@setDataFrame";
constexpr std::string_view on_metadata = "onMetaData";

bool is_command(const message& m) noexcept {
    return m.type() == message_type::command_amf0 || m.type() == message_type::command_amf3;
}
bool is_data(const message& m) noexcept {
    return m.type() == message_type::data_amf0 || m.type() == message_type::data_amf3;
}

// Types 17 and 15 carry one format byte before their AMF0 values (RTMP 1.0 spec 7.1.1 leaves it
// unexplained; Red5 and librtmp skip it whatever its value, and so do we).
bool has_format_byte(const message& m) noexcept {
    return m.type() == message_type::command_amf3 || m.type() == message_type::data_amf3;
}

// Reads a data message's handler name in place, leaving `body` after it: type 15's format byte
// into `format_byte` (empty for type 18), then an AMF0 string or long string. False when the body
// does not start so (an AMF3 name after AVM+ included: no encoder sends one).
bool read_handler_name(const message& m, byte_reader& body,
                       std::span<const std::uint8_t>& format_byte,
                       std::string_view& name) noexcept {
    std::uint8_t marker = 0;
    if ((has_format_byte(m) && !body.read_bytes(1, format_byte)) || !body.read_u8(marker))
        return false;
    if (marker == amf0::string_marker) {
        std::uint16_t length = 0;
        return body.read_u16be(length) && body.read_string(length, name);
    }
    if (marker == amf0::long_string_marker) {
        std::uint32_t length = 0;
        return body.read_u32be(length) && body.read_string(length, name);
    }
    return false;
}

// Decodes every value of a command or data body, which must start with a string (the command
// or handler name): error::message_malformed when it does not.
result<std::vector<amf_value>> decode_named_body(const message& m, const amf_limits& limits) {
    byte_reader body(m.payload.span());
    std::uint8_t marker = 0;
    if ((has_format_byte(m) && !body.skip(1)) || !body.peek_u8(marker))
        return error::message_malformed;
    // A name is an AMF0 string, a long string, or the AVM+ switch to an AMF3 string.
    if (marker != amf0::string_marker && marker != amf0::long_string_marker &&
        marker != amf0::avmplus_marker)
        return error::message_malformed;
    auto values = amf0::decode_all(body, limits);
    if (!values) return values.error();
    // An AVM+ marker may introduce any AMF3 value: only a string names a command.
    if (values->empty() || !values->front().is(amf_kind::string)) return error::message_malformed;
    return values;
}

// ---------------------------------------------------------------------------------------------
// Arguments. The rule every parse_* follows: a required argument that is absent or of another
// type is error::command_malformed; an optional one that is absent, null or undefined takes its
// default (librtmp sends play without a duration, ffmpeg publish with a type), and one of another
// type is error::command_malformed too.

const amf_value* optional_argument(const command& c, std::size_t index) noexcept {
    if (index >= c.arguments.size() || c.arguments[index].is_null_or_undefined()) return nullptr;
    return &c.arguments[index];
}

bool read_string(const amf_value* v, std::string& out) {
    if (v == nullptr || !v->is(amf_kind::string)) return false;
    out = v->string;
    return true;
}
bool read_optional_string(const amf_value* v, std::string& out) {
    return v == nullptr || read_string(v, out);
}
bool read_number(const amf_value* v, double& out) noexcept {
    return v != nullptr && v->as_number(out);
}
bool read_optional_number(const amf_value* v, double& out) noexcept {
    return v == nullptr || v->as_number(out);
}
bool read_boolean(const amf_value* v, bool& out) noexcept {
    if (v == nullptr || !v->is(amf_kind::boolean)) return false;
    out = v->boolean;
    return true;
}

// Command object properties follow the same rule, absent or null meaning "not sent".
const amf_value* optional_property(const amf_value& object, std::string_view name) noexcept {
    const amf_value* v = object.find(name);
    return v == nullptr || v->is_null_or_undefined() ? nullptr : v;
}

// Enhanced RTMP (veovera enhanced-rtmp v1, "Enhancing NetConnection connect Command"):
// fourCcList is a strict array of FourCC strings, "*" meaning any codec.
bool read_four_cc_list(const amf_value* v, std::vector<std::string>& out) {
    if (v == nullptr) return true;
    if (!v->is(amf_kind::strict_array)) return false;
    out.reserve(v->elements.size());
    for (const auto& element : v->elements) {
        if (!element.is(amf_kind::string)) return false;
        out.push_back(element.string);
    }
    return true;
}

// RTMP 1.0 spec 7.2.2.1 gives play's start in seconds with -2 and -1 special; clients send
// milliseconds (ffmpeg rtmpproto.c writes live * 1000, i.e. -2000; librtmp -1000 for live).
// Both spellings of "live only" become -1; every other negative value is the default, -2.
double normalise_play_start(double start) noexcept {
    if (std::isnan(start)) return -2;
    if (start == -1 || start == -1000) return -1;
    return start < 0 ? -2 : start;
}

// ---------------------------------------------------------------------------------------------
// Building.

class command_writer {
public:
    void value(const amf_value& v) { amf0::encode(v, body_); }
    void string(std::string_view s) { value(amf_value::make_string(s)); }
    void number(double n) { value(amf_value::make_number(n)); }
    void null() { value(amf_value::make_null()); }

    message finish(std::uint32_t chunk_stream_id, std::uint32_t message_stream_id,
                   message_type type) {
        message m;
        m.chunk_stream_id = chunk_stream_id;
        m.message_stream_id = message_stream_id;
        m.message_type_id = static_cast<std::uint8_t>(type);
        m.payload = shared_bytes(body_);  // copied into one block; the builder is done with it
        return m;
    }

private:
    std::vector<std::uint8_t> body_;
};

amf_value information(std::string_view level, std::string_view code, std::string_view description) {
    return amf_value::make_object({
        {"level", amf_value::make_string(level)},
        {"code", amf_value::make_string(code)},
        {"description", amf_value::make_string(description)},
    });
}

}  // namespace

result<command> parse_command(const message& m, const amf_limits& limits) {
    if (!is_command(m)) return error::message_malformed;
    auto values = decode_named_body(m, limits);
    if (!values) return values.error();
    auto& v = *values;
    command c;
    c.name = std::move(v[0].string);
    if (v.size() < 2 || !v[1].as_number(c.transaction_id)) return error::command_malformed;
    // Every client sends the command object, if only as null; a bare name and transaction id
    // are read as a null one.
    c.command_object = v.size() > 2 ? std::move(v[2]) : amf_value::make_null();
    for (std::size_t i = 3; i < v.size(); ++i) c.arguments.push_back(std::move(v[i]));
    return c;
}

result<connect_command> parse_connect(const command& c) {
    // ffmpeg and librtmp send app, flashVer and tcUrl; Flash adds swfUrl, pageUrl and
    // objectEncoding. Only app is required: it picks the route.
    const amf_value& object = c.command_object;
    if (!object.is_object_like()) return error::command_malformed;
    connect_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_property(object, "app"), out.app) ||
        !read_optional_string(optional_property(object, "tcUrl"), out.tc_url) ||
        !read_optional_string(optional_property(object, "flashVer"), out.flash_ver) ||
        !read_optional_string(optional_property(object, "swfUrl"), out.swf_url) ||
        !read_optional_string(optional_property(object, "pageUrl"), out.page_url) ||
        !read_optional_number(optional_property(object, "objectEncoding"), out.object_encoding) ||
        !read_four_cc_list(optional_property(object, "fourCcList"), out.four_cc_list))
        return error::command_malformed;
    // NetConnection.objectEncoding is AMF0 (0) or AMF3 (3); nothing else can be answered.
    if (out.object_encoding != 0 && out.object_encoding != 3) return error::command_malformed;
    out.properties = object;
    return out;
}

const char* oversized_connect_field(const connect_command& c, const name_limits& limits) {
    if (c.app.size() > limits.max_name) return "app";
    const std::pair<const char*, const std::string*> urls[] = {
        {"tcUrl", &c.tc_url},
        {"swfUrl", &c.swf_url},
        {"pageUrl", &c.page_url},
        {"flashVer", &c.flash_ver},
    };
    for (const auto& [name, value] : urls)
        if (value->size() > limits.max_url) return name;
    return nullptr;
}

result<create_stream_command> parse_create_stream(const command& c) {
    return create_stream_command{c.transaction_id};
}

result<publish_command> parse_publish(const command& c) {
    // Flash's NetStream.publish(false) sends a boolean to stop publishing; FMS answers it with
    // Unpublish.Success, but no encoder we serve does that: a name that is not a string is
    // refused here. ffmpeg and librtmp send the type ("live"); FMLE omits it sometimes.
    publish_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_argument(c, 0), out.name) ||
        !read_optional_string(optional_argument(c, 1), out.type))
        return error::command_malformed;
    return out;
}

result<play_command> parse_play(const command& c) {
    play_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_argument(c, 0), out.name) ||
        !read_optional_number(optional_argument(c, 1), out.start) ||
        !read_optional_number(optional_argument(c, 2), out.duration))
        return error::command_malformed;
    // Spec 7.2.2.1: reset is a Boolean. Some Flash-era SDKs write it as a number.
    if (const amf_value* reset = optional_argument(c, 3)) {
        double as_number = 0;
        if (reset->as_number(as_number))
            out.reset = as_number != 0;
        else if (!read_boolean(reset, out.reset))
            return error::command_malformed;
    }
    out.start = normalise_play_start(out.start);
    if (!(out.duration >= 0)) out.duration = -1;
    return out;
}

result<play2_command> parse_play2(const command& c) {
    // Spec 7.2.2.2: one NetStreamPlayOptions object; streamName names what to switch to.
    const amf_value* parameters = optional_argument(c, 0);
    if (parameters == nullptr || !parameters->is_object_like()) return error::command_malformed;
    play2_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_property(*parameters, "streamName"), out.stream_name))
        return error::command_malformed;
    out.parameters = *parameters;
    return out;
}

result<delete_stream_command> parse_delete_stream(const command& c) {
    double id = 0;
    if (!read_number(optional_argument(c, 0), id)) return error::command_malformed;
    // A message stream id is a u32 on the wire (spec 5.3.1.2.1); anything else names no stream.
    if (!(id >= 0 && id <= std::numeric_limits<std::uint32_t>::max()) || id != std::floor(id))
        return error::command_malformed;
    return delete_stream_command{c.transaction_id, static_cast<std::uint32_t>(id)};
}

result<close_stream_command> parse_close_stream(const command& c) {
    return close_stream_command{c.transaction_id};
}

result<stream_name_command> parse_stream_name_command(const command& c) {
    stream_name_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_argument(c, 0), out.name)) return error::command_malformed;
    return out;
}

result<pause_command> parse_pause(const command& c) {
    // Spec 7.2.2.8: pause flag, then the position in milliseconds; librtmp and ffmpeg send both.
    pause_command out;
    out.transaction_id = c.transaction_id;
    if (!read_boolean(optional_argument(c, 0), out.pause) ||
        !read_optional_number(optional_argument(c, 1), out.milliseconds))
        return error::command_malformed;
    return out;
}

result<receive_media_command> parse_receive_media(const command& c) {
    receive_media_command out;
    out.transaction_id = c.transaction_id;
    if (!read_boolean(optional_argument(c, 0), out.enable)) return error::command_malformed;
    return out;
}

result<get_stream_length_command> parse_get_stream_length(const command& c) {
    get_stream_length_command out;
    out.transaction_id = c.transaction_id;
    if (!read_string(optional_argument(c, 0), out.name)) return error::command_malformed;
    return out;
}

message make_command(std::uint32_t chunk_stream_id, std::uint32_t message_stream_id,
                     std::string_view name, double transaction_id, const amf_value& command_object,
                     std::span<const amf_value> arguments) {
    command_writer w;
    w.string(name);
    w.number(transaction_id);
    w.value(command_object);
    for (const auto& argument : arguments) w.value(argument);
    return w.finish(chunk_stream_id, message_stream_id, message_type::command_amf0);
}

message make_connect_result(double transaction_id, double object_encoding) {
    // The properties nginx-rtmp and FMS 3 answer with: ffmpeg and librtmp read only the code,
    // but Flash-era SDKs check fmsVer and capabilities.
    const auto properties = amf_value::make_object({
        {"fmsVer", amf_value::make_string("FMS/3,0,1,123")},
        {"capabilities", amf_value::make_number(31)},
        {"mode", amf_value::make_number(1)},
    });
    auto info = information("status", "NetConnection.Connect.Success", "Connection succeeded.");
    info.set("objectEncoding", amf_value::make_number(object_encoding));
    command_writer w;
    w.string("_result");
    w.number(transaction_id);
    w.value(properties);
    w.value(info);
    return w.finish(chunk_stream::command, 0, message_type::command_amf0);
}

message make_result(double transaction_id, std::span<const amf_value> arguments) {
    return make_command(chunk_stream::command, 0, "_result", transaction_id, amf_value::make_null(),
                        arguments);
}

message make_error(double transaction_id, std::string_view code, std::string_view description) {
    const amf_value info = information("error", code, description);
    return make_command(chunk_stream::command, 0, "_error", transaction_id, amf_value::make_null(),
                        std::span(&info, 1));
}

message make_on_status(std::uint32_t message_stream_id, std::string_view level,
                       std::string_view code, std::string_view description,
                       std::string_view details) {
    // Spec 7.2.2: onStatus carries transaction id 0 and a null command object.
    auto info = information(level, code, description);
    if (!details.empty()) info.set("details", amf_value::make_string(details));
    return make_command(chunk_stream::stream_command, message_stream_id, "onStatus", 0,
                        amf_value::make_null(), std::span(&info, 1));
}

result<data_message> parse_data(const message& m, const amf_limits& limits) {
    if (!is_data(m)) return error::message_malformed;
    auto values = decode_named_body(m, limits);
    if (!values) return values.error();
    data_message out;
    out.name = std::move(values->front().string);
    out.values.assign(std::make_move_iterator(values->begin() + 1),
                      std::make_move_iterator(values->end()));
    return out;
}

message make_data(std::uint32_t chunk_stream_id, std::uint32_t message_stream_id,
                  std::string_view name, std::span<const amf_value> values) {
    command_writer w;
    w.string(name);
    for (const auto& v : values) w.value(v);
    return w.finish(chunk_stream_id, message_stream_id, message_type::data_amf0);
}

result<shared_bytes> strip_set_data_frame(const message& m) {
    // The rest is sliced, not decoded and re-encoded: players get the publisher's metadata
    // byte for byte (ECMA array counts, number spellings and property order included), as
    // nginx-rtmp and SRS relay it.
    if (!is_data(m)) return error::message_malformed;
    byte_reader body(m.payload.span());
    std::span<const std::uint8_t> format_byte;  // type 15's, kept in front of what remains
    std::string_view name;
    if (!read_handler_name(m, body, format_byte, name)) return error::message_malformed;
    if (name != set_data_frame) return m.payload;
    std::vector<std::uint8_t> stripped;
    stripped.reserve(format_byte.size() + body.remaining());
    byte_writer w(stripped);
    w.bytes(format_byte);
    w.bytes(body.rest());
    return shared_bytes(stripped);
}

bool is_on_metadata(const message& m) noexcept {
    byte_reader body(m.payload.span());
    std::span<const std::uint8_t> format_byte;
    std::string_view name;
    return is_data(m) && read_handler_name(m, body, format_byte, name) && name == on_metadata;
}

}  // namespace rtmpgate::protocol
