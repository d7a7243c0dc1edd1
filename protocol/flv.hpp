// FLV: the file header, tags and the audio/video tag body fields the engine looks at
// (Adobe FLV spec 10.1, E.4; Enhanced RTMP v1/v2 for the ExVideoTagHeader).
//
// RTMP audio (8) and video (9) message payloads are FLV tag bodies, so the classifiers below take
// a message payload. The tag reader also splits aggregate messages (aggregate.hpp), whose
// sub-messages are FLV tags.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/error.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::protocol {

// The first video octet. Legacy (FLV 10.1 E.4.3.1): frame type in bits 4-7 (1 key, 2 inter,
// 3 disposable, 4 generated key, 5 command), codec id in bits 0-3; codec 7 (AVC) and 12 (HEVC as
// pre-Enhanced encoders write it) follow with an AVCPacketType octet (0 sequence header, 1 NALUs,
// 2 end of sequence). Enhanced RTMP v1: bit 7 IsExHeader, frame type in bits 4-6, VideoPacketType
// in bits 0-3 (0 SequenceStart, 1 CodedFrames, 2 SequenceEnd, 3 CodedFramesX, 4 Metadata,
// 5 MPEG2TSSequenceStart), then the FourCC; v2 adds 6 Multitrack (an octet AvMultitrackType |
// packet type, then the FourCC unless ManyTracksManyCodecs) and 7 ModEx (size, modifier data,
// an octet ModExType | packet type), both unwrapped here. Audio (E.4.2.1): SoundFormat in bits
// 4-7; 10 (AAC) follows with an AACPacketType octet (0 sequence header); 9 is the Enhanced RTMP v2
// ExHeader, AudioPacketType in bits 0-3 (0 SequenceStart, 1 CodedFrames, 2 SequenceEnd,
// 4 MultichannelConfig, 5 Multitrack, 7 ModEx), then the FourCC.
// The classifiers read nothing past the span; a payload too short to hold every field up to the
// packet type (and the FourCC, for Enhanced RTMP) classifies as false.

// Video: frame type 1. Legacy: any codec, but not an AVC/HEVC end of sequence. Enhanced RTMP:
// any packet type but SequenceEnd and Metadata (a SequenceStart flagged key counts, as a legacy
// AVC sequence header does). Command frames (type 5) never.
bool is_video_keyframe(std::span<const std::uint8_t> payload) noexcept;
// Video: a decoder configuration record: legacy AVC/HEVC packet type 0, or Enhanced RTMP
// SequenceStart or MPEG2TSSequenceStart. Players need it before any frame.
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
    std::uint8_t type = 0;        // 8 audio, 9 video, 18 script data
    std::uint32_t timestamp = 0;  // 32 bits: 24 + the extension octet
    shared_bytes body;
};
inline constexpr std::size_t flv_tag_header_size = 11;

// Reads the file header (and PreviousTagSize0) from `in`. Returns octets consumed, or 0 with
// ec: need_more when `in` is short, flv_bad_signature when it is not an FLV header: not "FLV",
// version not 1, DataOffset not 9 or PreviousTagSize0 not 0. A wrong signature or version is
// reported as soon as the octets that show it are in.
std::size_t read_flv_header(std::span<const std::uint8_t> in, flv_header& out, error_code& ec);

// Where a tag comes from, which decides its stream id rule: a file's tags carry 0; the
// sub-messages of an aggregate message (RTMP 1.0 spec 7.1.6) carry what the sender wrote there
// (FMS the message stream id, others 0), and the field is ignored.
enum class flv_tag_source : std::uint8_t { file, aggregate };

// Reads one tag and its trailing PreviousTagSize. Returns octets consumed, or 0 with ec:
// need_more when `in` holds only part of a tag, flv_bad_tag when the tag type octet is not 8, 9
// or 18 (reserved or Filter bits set included), the stream id is not 0 (in a file) or
// PreviousTagSize is not 11 + DataSize. The type and stream id are checked as soon as they are
// in, not after the body. The body is copied into `out`.
std::size_t read_flv_tag(std::span<const std::uint8_t> in, flv_tag& out, error_code& ec,
                         flv_tag_source source = flv_tag_source::file);

// Writing (what an HTTP-FLV or WebSocket-FLV viewer is sent). The reader above reads back
// everything these write.

// The file header with `h`'s flags, then PreviousTagSize0 (0): flv_header_size octets.
std::array<std::uint8_t, flv_header_size> make_flv_header(const flv_header& h) noexcept;

// The largest body a tag can carry: DataSize is 24 bits.
inline constexpr std::size_t flv_max_tag_body = (std::size_t{1} << 24) - 1;
using flv_tag_head = std::array<std::uint8_t, flv_tag_header_size>;
using flv_tag_tail = std::array<std::uint8_t, 4>;

// The 11 octets before a tag's body (E.4.1): TagType, DataSize, Timestamp (low 24 bits) and
// TimestampExtended (high 8), StreamID 0. flv_bad_tag when `type` is not 8, 9 or 18 or
// `data_size` is over flv_max_tag_body. With make_flv_tag_tail, a caller writes a tag around a
// body it does not copy (a gathered write).
result<flv_tag_head> make_flv_tag_head(std::uint8_t type, std::uint32_t timestamp,
                                       std::size_t data_size);
// The PreviousTagSize that follows a tag of `data_size` body octets: 11 + data_size. Only for a
// size make_flv_tag_head accepted.
flv_tag_tail make_flv_tag_tail(std::size_t data_size) noexcept;

// Appends a whole tag (head, body, PreviousTagSize) to `out`; on flv_bad_tag (as
// make_flv_tag_head) appends nothing.
error_code write_flv_tag(const flv_tag& tag, std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol
