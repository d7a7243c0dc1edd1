// Protocol control messages (RTMP 1.0 spec 5.4, types 1-6) and user control events (spec 6.2,
// type 4): builders and a parser. All travel on chunk stream 2, message stream 0.
#pragma once

#include <cstdint>

#include "protocol/error.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::protocol {

enum class user_control_event : std::uint16_t {
    stream_begin = 0,
    stream_eof = 1,
    stream_dry = 2,
    set_buffer_length = 3,  // stream id, then buffer length in ms
    stream_is_recorded = 4,
    ping_request = 6,   // timestamp
    ping_response = 7,  // timestamp echoed
};

enum class peer_bandwidth_limit : std::uint8_t { hard = 0, soft = 1, dynamic = 2 };

message make_set_chunk_size(std::uint32_t size);
message make_acknowledgement(std::uint32_t sequence_number);
message make_window_ack_size(std::uint32_t size);
message make_set_peer_bandwidth(std::uint32_t size, peer_bandwidth_limit limit);
// `value`: the stream id or timestamp; `value2`: the buffer length of set_buffer_length.
message make_user_control(user_control_event event, std::uint32_t value, std::uint32_t value2 = 0);

// A parsed control message. Fields not used by `type` are zero.
struct control_message {
    message_type type = message_type::set_chunk_size;
    std::uint32_t value = 0;  // chunk size, chunk stream id, sequence number, window size,
                              // peer bandwidth, or the user control event's first field
    peer_bandwidth_limit limit = peer_bandwidth_limit::hard;
    user_control_event event = user_control_event::stream_begin;  // type 4 only
    std::uint32_t value2 = 0;  // set_buffer_length: buffer length in ms
};

// For message types 1-6. error::control_message_malformed when the body is too short, or
// error::chunk_size_invalid for a Set Chunk Size of 0 or with the top bit set.
result<control_message> parse_control(const message& m);

bool is_control(const message& m) noexcept;  // types 1-6

}  // namespace rtmpgate::protocol
