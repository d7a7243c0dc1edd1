// Commands (RTMP 1.0 spec 7.2) and data messages: parsing into typed structs and building the
// replies a server sends. Commands arrive as type 20 (AMF0) or type 17 (AMF3: a 0x00 format
// byte, then AMF0 values that may switch to AMF3); data as type 18 or 15.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/error.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::protocol {

// Any command, before it is given a type: name, transaction id, command object, arguments.
struct command {
    std::string name;
    double transaction_id = 0;
    amf_value command_object;          // null for most stream commands
    std::vector<amf_value> arguments;  // what follows the command object
};

// For types 20 and 17. error::message_malformed for another type or a body that does not start
// with a string; error::command_malformed when the transaction id is missing or not a number;
// AMF errors as the decoder reports them. A missing command object reads as null.
result<command> parse_command(const message& m, const amf_limits& limits = {});

struct connect_command {
    double transaction_id = 1;
    std::string app;  // "live" of rtmp://host/live; query string kept as sent
    std::string tc_url;
    std::string flash_ver;
    std::string swf_url;
    std::string page_url;
    double object_encoding = 0;             // 0 (AMF0) or 3 (AMF3)
    std::vector<std::string> four_cc_list;  // Enhanced RTMP codecs the client takes ("hvc1", "*")
    amf_value properties;                   // the whole command object
};
struct create_stream_command {
    double transaction_id = 0;
};
struct publish_command {
    double transaction_id = 0;
    std::string name;           // stream key, query string kept as sent
    std::string type = "live";  // "live", "record" or "append"
};
struct play_command {
    double transaction_id = 0;
    std::string name;
    // Clients send milliseconds: ffmpeg -2000, librtmp -1000 for live. Negative values are
    // normalised to -2 (live or recorded) or -1 (live only); >= 0: recorded, from there (ms).
    double start = -2;
    double duration = -1;  // ms; any negative value: to the end (-1)
    bool reset = true;
};
struct play2_command {
    double transaction_id = 0;
    amf_value parameters;     // NetStreamPlayOptions object
    std::string stream_name;  // parameters.streamName
};
struct delete_stream_command {
    double transaction_id = 0;
    std::uint32_t stream_id = 0;
};
struct close_stream_command {
    double transaction_id = 0;
};
// releaseStream, FCPublish, FCUnpublish: a stream name after the null command object.
struct stream_name_command {
    double transaction_id = 0;
    std::string name;
};
struct pause_command {
    double transaction_id = 0;
    bool pause = true;
    double milliseconds = 0;
};
// receiveAudio / receiveVideo
struct receive_media_command {
    double transaction_id = 0;
    bool enable = true;
};
struct get_stream_length_command {
    double transaction_id = 0;
    std::string name;
};

// Each fails with error::command_malformed when a required argument is missing or mistyped.
// Optional arguments (and connect's optional properties) that are absent, null or undefined take
// their defaults; present with another type, they are command_malformed too. The command name is
// not checked: the caller picks the parser by name. connect requires a string app; its
// objectEncoding must be 0 or 3 and fourCcList a strict array of strings.
result<connect_command> parse_connect(const command& c);
result<create_stream_command> parse_create_stream(const command& c);
result<publish_command> parse_publish(const command& c);
result<play_command> parse_play(const command& c);
result<play2_command> parse_play2(const command& c);
result<delete_stream_command> parse_delete_stream(const command& c);
result<close_stream_command> parse_close_stream(const command& c);
result<stream_name_command> parse_stream_name_command(const command& c);
result<pause_command> parse_pause(const command& c);
result<receive_media_command> parse_receive_media(const command& c);
result<get_stream_length_command> parse_get_stream_length(const command& c);

// The longest strings a server takes from connect, publish and play, in octets. nginx-rtmp keeps
// 256 octets of each name and URL (NGX_RTMP_MAX_NAME, NGX_RTMP_MAX_URL) and drops the rest;
// ffmpeg sends at most 1024 of app and of tcUrl (APP_MAX_LENGTH, TCURL_MAX_LENGTH).
struct name_limits {
    std::size_t max_name = 1024;  // app, stream names; each with its query string
    std::size_t max_url = 2048;   // tcUrl, swfUrl, pageUrl, flashVer
};
// The first string of `c` that is longer than `limits` allow, by its property name ("app",
// "tcUrl", "swfUrl", "pageUrl", "flashVer"); nullptr when every one fits.
const char* oversized_connect_field(const connect_command& c, const name_limits& limits);

// A command message in AMF0 (type 20) on `chunk_stream_id` / `message_stream_id`.
message make_command(std::uint32_t chunk_stream_id, std::uint32_t message_stream_id,
                     std::string_view name, double transaction_id, const amf_value& command_object,
                     std::span<const amf_value> arguments = {});

// connect's _result: properties {fmsVer, capabilities, mode} and information {level "status",
// code NetConnection.Connect.Success, description, objectEncoding}.
message make_connect_result(double transaction_id, double object_encoding);
// _result with a null command object and the given arguments (createStream: the stream id).
message make_result(double transaction_id, std::span<const amf_value> arguments);
// _error with an information object {level "error", code, description}.
message make_error(double transaction_id, std::string_view code, std::string_view description);
// onStatus(0, null, {level, code, description, details?}) on `message_stream_id`.
// `level` is "status", "warning" or "error".
message make_on_status(std::uint32_t message_stream_id, std::string_view level,
                       std::string_view code, std::string_view description,
                       std::string_view details = {});

// Data messages (types 18 and 15): a handler name and values.
struct data_message {
    std::string name;  // "@setDataFrame", "onMetaData", "onTextData", ...
    std::vector<amf_value> values;
};
// For types 18 and 15: error::message_malformed for another type or a body that does not start
// with a string; AMF errors as the decoder reports them.
result<data_message> parse_data(const message& m, const amf_limits& limits = {});
// An AMF0 data message (type 18): the handler name, then `values`.
message make_data(std::uint32_t chunk_stream_id, std::uint32_t message_stream_id,
                  std::string_view name, std::span<const amf_value> values = {});

// For a publisher's "@setDataFrame", "onMetaData", {...}: the payload players receive, that is
// the same AMF0 bytes with the leading "@setDataFrame" string removed. Other data messages are
// returned unchanged (the same shared bytes). A type 15 message keeps its leading format byte.
// error::message_malformed for a message that is not data or whose payload does not start with
// an AMF0 string or long string.
result<shared_bytes> strip_set_data_frame(const message& m);
// Whether `m` is a data message (type 18 or 15) named "onMetaData": what players must get before
// any frame, whether the publisher sent it so or strip_set_data_frame made it. The name is read
// as strip_set_data_frame reads it (AMF0 string or long string, after type 15's format byte).
bool is_on_metadata(const message& m) noexcept;

}  // namespace rtmpgate::protocol
