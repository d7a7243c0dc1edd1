#include "protocol/control.hpp"

#include <vector>

#include "protocol/byte_reader.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol {

namespace {

// Spec 5.4 and 6.2: protocol and user control messages go on chunk stream 2, message stream 0,
// and their timestamps are ignored (0 here, as ffmpeg and nginx-rtmp send them).
message make_control(message_type type, std::vector<std::uint8_t> body) {
    message m;
    m.chunk_stream_id = chunk_stream::control;
    m.timestamp = 0;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = 0;
    m.payload = shared_bytes(body);
    return m;
}

message make_u32_control(message_type type, std::uint32_t value) {
    std::vector<std::uint8_t> body;
    body.reserve(4);
    byte_writer(body).u32be(value);
    return make_control(type, std::move(body));
}

}  // namespace

message make_set_chunk_size(std::uint32_t size) {
    return make_u32_control(message_type::set_chunk_size, size);
}

message make_acknowledgement(std::uint32_t sequence_number) {
    return make_u32_control(message_type::acknowledgement, sequence_number);
}

message make_window_ack_size(std::uint32_t size) {
    return make_u32_control(message_type::window_ack_size, size);
}

// Spec 5.4.5: acknowledgement window size, then the limit type in one octet.
message make_set_peer_bandwidth(std::uint32_t size, peer_bandwidth_limit limit) {
    std::vector<std::uint8_t> body;
    body.reserve(5);
    byte_writer w(body);
    w.u32be(size);
    w.u8(static_cast<std::uint8_t>(limit));
    return make_control(message_type::set_peer_bandwidth, std::move(body));
}

// Spec 6.2 / 7.1.7: event type (16 bits), then the event data: one 32-bit value (stream id or
// timestamp), and for SetBufferLength a second one (buffer length in milliseconds).
message make_user_control(user_control_event event, std::uint32_t value, std::uint32_t value2) {
    const bool two_values = event == user_control_event::set_buffer_length;
    std::vector<std::uint8_t> body;
    body.reserve(two_values ? 10 : 6);
    byte_writer w(body);
    w.u16be(static_cast<std::uint16_t>(event));
    w.u32be(value);
    if (two_values) w.u32be(value2);
    return make_control(message_type::user_control, std::move(body));
}

bool is_control(const message& m) noexcept {
    return m.message_type_id >= static_cast<std::uint8_t>(message_type::set_chunk_size) &&
           m.message_type_id <= static_cast<std::uint8_t>(message_type::set_peer_bandwidth);
}

// Octets after the fields a message type needs are ignored, as ffmpeg and nginx-rtmp do.
result<control_message> parse_control(const message& m) {
    if (!is_control(m)) return error::control_message_malformed;
    byte_reader r(m.payload.span());
    control_message c;
    c.type = m.type();

    if (c.type == message_type::user_control) {
        std::uint16_t event = 0;
        if (!r.read_u16be(event)) return error::control_message_malformed;
        c.event = static_cast<user_control_event>(event);
        switch (c.event) {
            case user_control_event::set_buffer_length:
                if (!r.read_u32be(c.value) || !r.read_u32be(c.value2))
                    return error::control_message_malformed;
                break;
            case user_control_event::stream_begin:
            case user_control_event::stream_eof:
            case user_control_event::stream_dry:
            case user_control_event::stream_is_recorded:
            case user_control_event::ping_request:
            case user_control_event::ping_response:
                if (!r.read_u32be(c.value)) return error::control_message_malformed;
                break;
            default:
                // Events the spec does not define (Flash Media Server's SWF verification request,
                // 26, may come with no data at all): the first 32-bit value if there is one.
                if (!r.read_u32be(c.value)) c.value = 0;
                break;
        }
        return c;
    }

    if (!r.read_u32be(c.value)) return error::control_message_malformed;
    if (c.type == message_type::set_chunk_size && (c.value == 0 || c.value > 0x7FFFFFFF))
        return error::chunk_size_invalid;  // spec 5.4.1: the top bit must be zero
    if (c.type == message_type::set_peer_bandwidth) {
        std::uint8_t limit = 0;
        if (!r.read_u8(limit)) return error::control_message_malformed;
        // Values beyond dynamic (2) are kept as they are; the caller treats them as unknown.
        c.limit = static_cast<peer_bandwidth_limit>(limit);
    }
    return c;
}

}  // namespace rtmpgate::protocol
