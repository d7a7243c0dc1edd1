// FLV: the file header, tags and the audio/video tag body fields the engine looks at
// (Adobe FLV spec 10.1, E.4; Enhanced RTMP v1/v2 for the ExVideoTagHeader).
//
// RTMP audio (8) and video (9) message payloads are FLV tag bodies, so the classifiers below take
// a message payload. The file reader/writer serve tests, tools and recording.
#pragma once

#include "protocol/error.hpp"
#include "protocol/message.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rtmpgate::protocol {

// Video: a keyframe (frame type 1), legacy (codec id 7 AVC, 12 HEVC as some encoders write it)
// or Enhanced RTMP (IsExHeader bit, frame type 1, any packet type but the sequence end/metadata).
bool is_video_keyframe(std::span<const std::uint8_t> payload) noexcept;
// Video: a decoder configuration record: AVC/HEVC packet type 0, or Enhanced RTMP
// PacketTypeSequenceStart. Players need it before any frame.
bool is_video_sequence_header(std::span<const std::uint8_t> payload) noexcept;
// Audio: AAC (sound format 10) packet type 0, or Enhanced RTMP audio SequenceStart.
bool is_audio_sequence_header(std::span<const std::uint8_t> payload) noexcept;

// The 9-octet file header ("FLV", version 1, flags, header size 9) and PreviousTagSize0.
struct flv_header {
    bool has_audio = true;
    bool has_video = true;
};
inline constexpr std::size_t flv_header_size = 9 + 4;

struct flv_tag {
    std::uint8_t type = 0;       // 8 audio, 9 video, 18 script data
    std::uint32_t timestamp = 0;  // 32 bits: 24 + the extension octet
    shared_bytes body;
};
inline constexpr std::size_t flv_tag_header_size = 11;

// Reads the file header (and PreviousTagSize0) from `in`. Returns octets consumed, or 0 with
// ec: need_more when `in` is short, flv_bad_signature when it is not an FLV header.
std::size_t read_flv_header(std::span<const std::uint8_t> in, flv_header& out, error_code& ec);
// Reads one tag and its trailing PreviousTagSize. Returns octets consumed, or 0 with ec:
// need_more when `in` holds only part of a tag, flv_bad_tag when the tag type is not 8, 9 or 18,
// the stream id is not 0 or PreviousTagSize disagrees with the tag.
std::size_t read_flv_tag(std::span<const std::uint8_t> in, flv_tag& out, error_code& ec);

void write_flv_header(const flv_header& h, std::vector<std::uint8_t>& out);
// Precondition: body.size() <= 0xFFFFFF.
void write_flv_tag(std::uint8_t type, std::uint32_t timestamp, std::span<const std::uint8_t> body,
                   std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol
