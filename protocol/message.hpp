// An RTMP message as the chunk layer delivers it and takes it: header fields plus a payload that is
// immutable and reference-counted, so that one received media message can sit in every player's
// queue without a copy.
#pragma once

#include <cstdint>

#include "protocol/shared_bytes.hpp"

namespace rtmpgate::protocol {

// RTMP 1.0 spec 5.4 (protocol control), 6.2 (user control), 7.1 (command, data, media, aggregate).
enum class message_type : std::uint8_t {
    set_chunk_size = 1,
    abort = 2,
    acknowledgement = 3,
    user_control = 4,
    window_ack_size = 5,
    set_peer_bandwidth = 6,
    audio = 8,
    video = 9,
    data_amf3 = 15,
    shared_object_amf3 = 16,
    command_amf3 = 17,
    data_amf0 = 18,
    shared_object_amf0 = 19,
    command_amf0 = 20,
    aggregate = 22,
};

struct message {
    std::uint32_t chunk_stream_id = 0;  // the chunk stream it arrived on, or the one to send it on
    std::uint32_t timestamp = 0;        // absolute, in milliseconds (wraps at 2^32)
    std::uint8_t message_type_id = 0;
    std::uint32_t message_stream_id = 0;
    shared_bytes payload;

    message_type type() const noexcept { return static_cast<message_type>(message_type_id); }
};

// Conventional chunk stream ids for what a server sends (as nginx-rtmp and ffmpeg use them).
namespace chunk_stream {
inline constexpr std::uint32_t control = 2;  // protocol control and user control, message stream 0
inline constexpr std::uint32_t command = 3;  // commands on message stream 0
inline constexpr std::uint32_t stream_command = 5;  // onStatus and data on a media stream
inline constexpr std::uint32_t audio = 6;
inline constexpr std::uint32_t video = 7;
}  // namespace chunk_stream

}  // namespace rtmpgate::protocol
