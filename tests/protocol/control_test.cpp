#include "protocol/control.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace rtmpgate::protocol {
namespace {

std::vector<std::uint8_t> bytes_of(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

message control_message_of(message_type type, std::span<const std::uint8_t> body) {
    message m;
    m.chunk_stream_id = 2;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.payload = shared_bytes(bytes_of(body));
    return m;
}

void expect_control_envelope(const message& m, message_type type) {
    EXPECT_EQ(m.chunk_stream_id, 2u);
    EXPECT_EQ(m.message_stream_id, 0u);
    EXPECT_EQ(m.timestamp, 0u);
    EXPECT_EQ(m.type(), type);
}

// Set Chunk Size 4096 (spec 5.4.1).
constexpr std::array<std::uint8_t, 4> set_chunk_size_4096 = {
    0x00, 0x00, 0x10, 0x00,  // chunk size, 31 bits, top bit zero
};
// Abort for chunk stream 6 (5.4.2).
constexpr std::array<std::uint8_t, 4> abort_6 = {
    0x00, 0x00, 0x00, 0x06,  // chunk stream id
};
// Acknowledgement of 0x01020304 octets (5.4.3).
constexpr std::array<std::uint8_t, 4> ack_16909060 = {
    0x01, 0x02, 0x03, 0x04,  // sequence number
};
// Window Acknowledgement Size 2500000 (5.4.4), what ffmpeg and nginx-rtmp send.
constexpr std::array<std::uint8_t, 4> window_2500000 = {
    0x00, 0x26, 0x25, 0xA0,  // window size
};
// Set Peer Bandwidth 2500000, dynamic (5.4.5).
constexpr std::array<std::uint8_t, 5> peer_bandwidth_2500000_dynamic = {
    0x00, 0x26, 0x25, 0xA0,  // window size
    0x02,                    // limit type: dynamic
};
// User Control StreamBegin for message stream 1 (6.2, 7.1.7).
constexpr std::array<std::uint8_t, 6> stream_begin_1 = {
    0x00, 0x00,              // event type 0: StreamBegin
    0x00, 0x00, 0x00, 0x01,  // message stream id
};
// User Control SetBufferLength: stream 1, 3000 ms.
constexpr std::array<std::uint8_t, 10> set_buffer_length_1_3000 = {
    0x00, 0x03,              // event type 3: SetBufferLength
    0x00, 0x00, 0x00, 0x01,  // message stream id
    0x00, 0x00, 0x0B, 0xB8,  // buffer length in milliseconds
};
// User Control PingRequest with timestamp 0xDEADBEEF.
constexpr std::array<std::uint8_t, 6> ping_request_deadbeef = {
    0x00, 0x06,              // event type 6: PingRequest
    0xDE, 0xAD, 0xBE, 0xEF,  // timestamp
};
// User Control PingResponse echoing it.
constexpr std::array<std::uint8_t, 6> ping_response_deadbeef = {
    0x00, 0x07,              // event type 7: PingResponse
    0xDE, 0xAD, 0xBE, 0xEF,  // timestamp
};

TEST(control, builders_write_spec_bodies) {
    struct expectation {
        message built;
        message_type type;
        std::vector<std::uint8_t> body;
    };
    const expectation cases[] = {
        {make_set_chunk_size(4096), message_type::set_chunk_size, bytes_of(set_chunk_size_4096)},
        {make_acknowledgement(0x01020304), message_type::acknowledgement, bytes_of(ack_16909060)},
        {make_window_ack_size(2500000), message_type::window_ack_size, bytes_of(window_2500000)},
        {make_set_peer_bandwidth(2500000, peer_bandwidth_limit::dynamic),
         message_type::set_peer_bandwidth, bytes_of(peer_bandwidth_2500000_dynamic)},
        {make_user_control(user_control_event::stream_begin, 1), message_type::user_control,
         bytes_of(stream_begin_1)},
        {make_user_control(user_control_event::set_buffer_length, 1, 3000),
         message_type::user_control, bytes_of(set_buffer_length_1_3000)},
        {make_user_control(user_control_event::ping_request, 0xDEADBEEF),
         message_type::user_control, bytes_of(ping_request_deadbeef)},
        {make_user_control(user_control_event::ping_response, 0xDEADBEEF),
         message_type::user_control, bytes_of(ping_response_deadbeef)},
    };
    for (const auto& c : cases) {
        expect_control_envelope(c.built, c.type);
        EXPECT_EQ(bytes_of(c.built.payload.span()), c.body) << static_cast<int>(c.type);
        EXPECT_TRUE(is_control(c.built));
    }
}

TEST(control, parse_reads_every_type) {
    auto parsed =
        parse_control(control_message_of(message_type::set_chunk_size, set_chunk_size_4096));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->type, message_type::set_chunk_size);
    EXPECT_EQ(parsed->value, 4096u);

    parsed = parse_control(control_message_of(message_type::abort, abort_6));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->type, message_type::abort);
    EXPECT_EQ(parsed->value, 6u);

    parsed = parse_control(control_message_of(message_type::acknowledgement, ack_16909060));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->value, 0x01020304u);

    parsed = parse_control(control_message_of(message_type::window_ack_size, window_2500000));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->type, message_type::window_ack_size);
    EXPECT_EQ(parsed->value, 2500000u);

    parsed = parse_control(
        control_message_of(message_type::set_peer_bandwidth, peer_bandwidth_2500000_dynamic));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->value, 2500000u);
    EXPECT_EQ(parsed->limit, peer_bandwidth_limit::dynamic);

    parsed = parse_control(control_message_of(message_type::user_control, stream_begin_1));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->type, message_type::user_control);
    EXPECT_EQ(parsed->event, user_control_event::stream_begin);
    EXPECT_EQ(parsed->value, 1u);
    EXPECT_EQ(parsed->value2, 0u);

    parsed =
        parse_control(control_message_of(message_type::user_control, set_buffer_length_1_3000));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->event, user_control_event::set_buffer_length);
    EXPECT_EQ(parsed->value, 1u);
    EXPECT_EQ(parsed->value2, 3000u);

    parsed = parse_control(control_message_of(message_type::user_control, ping_request_deadbeef));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->event, user_control_event::ping_request);
    EXPECT_EQ(parsed->value, 0xDEADBEEFu);
}

TEST(control, builders_round_trip_through_parse) {
    const auto parsed = parse_control(make_user_control(user_control_event::stream_eof, 7));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->event, user_control_event::stream_eof);
    EXPECT_EQ(parsed->value, 7u);

    const auto soft = parse_control(make_set_peer_bandwidth(5000000, peer_bandwidth_limit::soft));
    ASSERT_TRUE(soft);
    EXPECT_EQ(soft->value, 5000000u);
    EXPECT_EQ(soft->limit, peer_bandwidth_limit::soft);
}

TEST(control, undefined_user_control_event_without_data_is_accepted) {
    // Flash Media Server's SWF verification request (event 26) may carry no data.
    constexpr std::array<std::uint8_t, 2> swf_verify_request = {
        0x00, 0x1A,  // event type 26
    };
    const auto parsed =
        parse_control(control_message_of(message_type::user_control, swf_verify_request));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(static_cast<std::uint16_t>(parsed->event), 26u);
    EXPECT_EQ(parsed->value, 0u);
}

TEST(control, short_bodies_are_malformed) {
    constexpr std::array<std::uint8_t, 3> three = {0x00, 0x00, 0x10};
    for (const auto type :
         {message_type::set_chunk_size, message_type::abort, message_type::acknowledgement,
          message_type::window_ack_size, message_type::set_peer_bandwidth}) {
        const auto parsed = parse_control(control_message_of(type, three));
        ASSERT_FALSE(parsed) << static_cast<int>(type);
        EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
    }
    // Set Peer Bandwidth without its limit type octet.
    auto parsed =
        parse_control(control_message_of(message_type::set_peer_bandwidth, window_2500000));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
    // User control: no event type; StreamBegin without its stream id; SetBufferLength without
    // its buffer length.
    constexpr std::array<std::uint8_t, 1> one = {0x00};
    parsed = parse_control(control_message_of(message_type::user_control, one));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
    parsed = parse_control(
        control_message_of(message_type::user_control, std::span(stream_begin_1).first(4)));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
    parsed = parse_control(control_message_of(message_type::user_control,
                                              std::span(set_buffer_length_1_3000).first(6)));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
}

TEST(control, set_chunk_size_zero_or_top_bit_is_invalid) {
    constexpr std::array<std::uint8_t, 4> zero = {0x00, 0x00, 0x00, 0x00};
    constexpr std::array<std::uint8_t, 4> top_bit = {0x80, 0x00, 0x00, 0x80};
    constexpr std::array<std::uint8_t, 4> largest = {0x7F, 0xFF, 0xFF, 0xFF};
    for (const auto& body : {zero, top_bit}) {
        const auto parsed = parse_control(control_message_of(message_type::set_chunk_size, body));
        ASSERT_FALSE(parsed);
        EXPECT_EQ(parsed.error(), make_error_code(error::chunk_size_invalid));
    }
    const auto parsed = parse_control(control_message_of(message_type::set_chunk_size, largest));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->value, 0x7FFFFFFFu);
}

TEST(control, other_types_are_not_control) {
    constexpr std::array<std::uint8_t, 4> body = {0, 0, 0, 1};
    const auto audio = control_message_of(message_type::audio, body);
    EXPECT_FALSE(is_control(audio));
    const auto parsed = parse_control(audio);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), make_error_code(error::control_message_malformed));
    message zero_type;
    EXPECT_FALSE(is_control(zero_type));
    EXPECT_TRUE(is_control(make_window_ack_size(1)));
}

}  // namespace
}  // namespace rtmpgate::protocol
