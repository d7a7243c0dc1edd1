#include "protocol/flv.hpp"

#include <algorithm>
#include <array>

#include "protocol/byte_reader.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol {
namespace {

// FLV spec 10.1 E.4.3.1 VIDEODATA: FrameType (UB[4]) then CodecID (UB[4]).
constexpr std::uint8_t frame_type_keyframe = 1;
constexpr std::uint8_t frame_type_command = 5;  // "video info/command frame": carries no picture
constexpr std::uint8_t codec_id_avc = 7;
// Not in the FLV spec: the value Chinese CDNs and their encoders (SRS, OBS forks) used for HEVC
// before Enhanced RTMP.
constexpr std::uint8_t codec_id_hevc_legacy = 12;
// AVCVIDEOPACKET (E.4.3.2) AVCPacketType.
constexpr std::uint8_t avc_sequence_header = 0;
constexpr std::uint8_t avc_end_of_sequence = 2;

// FLV spec E.4.2.1 AUDIODATA: SoundFormat (UB[4]), 10 is AAC; AACPacketType 0 is the
// AudioSpecificConfig.
constexpr std::uint8_t sound_format_aac = 10;
constexpr std::uint8_t aac_sequence_header = 0;
// Enhanced RTMP v2 "Enhanced Audio": SoundFormat 9 announces an ExAudioTagHeader whose low nibble
// is the AudioPacketType.
constexpr std::uint8_t sound_format_ex_header = 9;

// Enhanced RTMP v1/v2 VideoPacketType and AudioPacketType values this file looks at.
constexpr std::uint8_t packet_type_sequence_start = 0;
constexpr std::uint8_t video_packet_sequence_end = 2;
constexpr std::uint8_t video_packet_metadata = 4;
constexpr std::uint8_t video_packet_mpeg2ts_sequence_start = 5;
constexpr std::uint8_t video_packet_multitrack = 6;
constexpr std::uint8_t audio_packet_multitrack = 5;
constexpr std::uint8_t packet_type_mod_ex = 7;  // same value for audio and video
// AvMultitrackType: with ManyTracksManyCodecs each track carries its own FourCC, so none
// follows the header.
constexpr std::uint8_t multitrack_many_codecs = 2;
constexpr std::size_t fourcc_size = 4;

constexpr std::uint8_t tag_audio = 8;
constexpr std::uint8_t tag_video = 9;
constexpr std::uint8_t tag_script_data = 18;

constexpr std::array<std::uint8_t, 4> file_signature = {'F', 'L', 'V', 0x01};  // and version 1
constexpr std::uint32_t file_header_length = 9;  // the DataOffset field of version 1
constexpr std::uint8_t flag_audio = 0x04;
constexpr std::uint8_t flag_video = 0x01;

std::uint8_t high_nibble(std::uint8_t b) noexcept { return static_cast<std::uint8_t>(b >> 4); }
std::uint8_t low_nibble(std::uint8_t b) noexcept { return static_cast<std::uint8_t>(b & 0x0F); }

// What the classifiers need from an Enhanced RTMP audio or video header: the packet type that
// survives the ModEx and Multitrack wrappers. `complete` only when every field up to and
// including the FourCC (where one is due) lies inside the payload.
struct ex_packet {
    std::uint8_t packet_type = 0;
    bool complete = false;
};

// Enhanced RTMP v2: after the first octet, ModEx wrappers (packet type 7) may come first, each
// "UI8 size - 1 (UI16 size - 1 when the UI8 is 255), the data, then UB[4] ModExType and UB[4]
// the next packet type"; then a Multitrack header (UB[4] AvMultitrackType, UB[4] packet type,
// a FourCC unless the type is ManyTracksManyCodecs), or the FourCC. v1 streams have neither
// wrapper, so for them this reads the FourCC only. Each wrapper consumes at least two octets,
// so the loop ends with the payload.
ex_packet read_ex_packet(byte_reader& r, std::uint8_t packet_type,
                         std::uint8_t multitrack) noexcept {
    ex_packet out;
    while (packet_type == packet_type_mod_ex) {
        std::uint8_t size_minus_one = 0;
        if (!r.read_u8(size_minus_one)) return out;
        std::size_t size = std::size_t{size_minus_one} + 1;
        if (size == 256) {
            std::uint16_t wide = 0;
            if (!r.read_u16be(wide)) return out;
            size = std::size_t{wide} + 1;
        }
        std::uint8_t types = 0;
        if (!r.skip(size) || !r.read_u8(types)) return out;
        packet_type = low_nibble(types);
    }
    bool fourcc_follows = true;
    if (packet_type == multitrack) {
        std::uint8_t types = 0;
        if (!r.read_u8(types)) return out;
        fourcc_follows = high_nibble(types) != multitrack_many_codecs;
        packet_type = low_nibble(types);
        // A nested Multitrack or ModEx is not allowed by the spec: classify as nothing.
        if (packet_type == multitrack || packet_type == packet_type_mod_ex) return out;
    }
    if (fourcc_follows && !r.skip(fourcc_size)) return out;
    out.packet_type = packet_type;
    out.complete = true;
    return out;
}

// The first video octet: Enhanced RTMP v1 makes bit 7 IsExHeader, bits 4-6 the frame type and
// the low 4 bits the VideoPacketType; legacy FLV uses bits 4-7 for the frame type (1-5, so bit 7
// is always clear) and the low 4 bits for the codec id.
struct video_header {
    bool is_ex = false;
    std::uint8_t frame_type = 0;
    // Legacy AVC/HEVC: the AVCPacketType octet; Enhanced: the VideoPacketType.
    std::uint8_t packet_type = 0;
    // Legacy codecs without a packet type octet (H.263, VP6...): packet_type is meaningless.
    bool has_packet_type = false;
    bool complete = false;
};

video_header read_video_header(std::span<const std::uint8_t> payload) noexcept {
    video_header out;
    byte_reader r(payload);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return out;
    out.is_ex = (first & 0x80) != 0;
    out.frame_type = static_cast<std::uint8_t>((first >> 4) & 0x07);
    if (out.is_ex) {
        // v2: a command frame carries a UI8 VideoCommand instead of a packet (unless the packet
        // type is Metadata); it never holds a picture or a configuration, so stop here.
        if (out.frame_type == frame_type_command) return out;
        const ex_packet ex = read_ex_packet(r, low_nibble(first), video_packet_multitrack);
        out.packet_type = ex.packet_type;
        out.has_packet_type = true;
        out.complete = ex.complete;
        return out;
    }
    out.frame_type = high_nibble(first);
    const std::uint8_t codec_id = low_nibble(first);
    if (codec_id == codec_id_avc || codec_id == codec_id_hevc_legacy) {
        if (!r.read_u8(out.packet_type)) return out;
        out.has_packet_type = true;
    }
    out.complete = true;
    return out;
}

}  // namespace

bool is_video_keyframe(std::span<const std::uint8_t> payload) noexcept {
    const video_header h = read_video_header(payload);
    if (!h.complete || h.frame_type != frame_type_keyframe) return false;
    if (h.is_ex)
        return h.packet_type != video_packet_sequence_end && h.packet_type != video_packet_metadata;
    // An AVC end-of-sequence is flagged as a keyframe by ffmpeg's FLV muxer but holds no picture:
    // a GOP cache that started on it would give players nothing to decode.
    return !h.has_packet_type || h.packet_type != avc_end_of_sequence;
}

bool is_video_sequence_header(std::span<const std::uint8_t> payload) noexcept {
    const video_header h = read_video_header(payload);
    if (!h.complete || !h.has_packet_type) return false;
    if (h.is_ex)
        // MPEG2TSSequenceStart carries the AV1 video descriptor in place of the configuration
        // record (Enhanced RTMP v1, "av01"); a late joiner needs it just the same.
        return h.packet_type == packet_type_sequence_start ||
               h.packet_type == video_packet_mpeg2ts_sequence_start;
    return h.packet_type == avc_sequence_header;
}

bool is_audio_sequence_header(std::span<const std::uint8_t> payload) noexcept {
    byte_reader r(payload);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return false;
    const std::uint8_t sound_format = high_nibble(first);
    if (sound_format == sound_format_aac) {
        std::uint8_t aac_packet_type = 0;
        return r.read_u8(aac_packet_type) && aac_packet_type == aac_sequence_header;
    }
    if (sound_format == sound_format_ex_header) {
        const ex_packet ex = read_ex_packet(r, low_nibble(first), audio_packet_multitrack);
        return ex.complete && ex.packet_type == packet_type_sequence_start;
    }
    return false;
}

std::size_t read_flv_header(std::span<const std::uint8_t> in, flv_header& out, error_code& ec) {
    // Refuse a wrong signature as soon as its first octets are in, so that a caller sniffing a
    // file or stream does not wait for 13 octets of something else.
    const std::size_t known = std::min(in.size(), file_signature.size());
    if (!std::equal(file_signature.begin(),
                    file_signature.begin() + static_cast<std::ptrdiff_t>(known), in.begin())) {
        ec = error::flv_bad_signature;
        return 0;
    }
    if (in.size() < flv_header_size) {
        ec = error::need_more;
        return 0;
    }
    byte_reader r(in);
    std::uint8_t flags = 0;
    std::uint32_t data_offset = 0;
    std::uint32_t previous_tag_size0 = 0;
    r.skip(file_signature.size());
    r.read_u8(flags);
    r.read_u32be(data_offset);
    r.read_u32be(previous_tag_size0);
    // Version 1 defines a 9-octet header and PreviousTagSize0 of 0; anything else is not a file
    // this reader can follow.
    if (data_offset != file_header_length || previous_tag_size0 != 0) {
        ec = error::flv_bad_signature;
        return 0;
    }
    out.has_audio = (flags & flag_audio) != 0;
    out.has_video = (flags & flag_video) != 0;
    ec = {};
    return r.position();
}

std::size_t read_flv_tag(std::span<const std::uint8_t> in, flv_tag& out, error_code& ec,
                         flv_tag_source source) {
    byte_reader r(in);
    std::uint8_t type = 0;
    if (!r.read_u8(type)) {
        ec = error::need_more;
        return 0;
    }
    // The whole octet: the two reserved bits must be 0 and the Filter bit (encrypted body,
    // FLV 10.1 E.4.1) set means a body nobody here can read.
    if (type != tag_audio && type != tag_video && type != tag_script_data) {
        ec = error::flv_bad_tag;
        return 0;
    }
    std::uint32_t data_size = 0;
    std::uint32_t timestamp = 0;
    std::uint8_t timestamp_extended = 0;
    std::uint32_t stream_id = 0;
    if (!r.read_u24be(data_size) || !r.read_u24be(timestamp) || !r.read_u8(timestamp_extended) ||
        !r.read_u24be(stream_id)) {
        ec = error::need_more;
        return 0;
    }
    if (source == flv_tag_source::file && stream_id != 0) {
        ec = error::flv_bad_tag;
        return 0;
    }
    std::span<const std::uint8_t> body;
    std::uint32_t previous_tag_size = 0;
    if (!r.read_bytes(data_size, body) || !r.read_u32be(previous_tag_size)) {
        ec = error::need_more;
        return 0;
    }
    if (previous_tag_size != flv_tag_header_size + data_size) {
        ec = error::flv_bad_tag;
        return 0;
    }
    out.type = type;
    // TimestampExtended holds bits 24-31 (E.4.1).
    out.timestamp = (std::uint32_t{timestamp_extended} << 24) | timestamp;
    out.body = shared_bytes(body);
    ec = {};
    return r.position();
}

std::array<std::uint8_t, flv_header_size> make_flv_header(const flv_header& h) noexcept {
    std::array<std::uint8_t, flv_header_size> out{};
    std::copy(file_signature.begin(), file_signature.end(), out.begin());
    out[4] =
        static_cast<std::uint8_t>((h.has_audio ? flag_audio : 0) | (h.has_video ? flag_video : 0));
    // DataOffset (UI32, 9), then PreviousTagSize0 (UI32, 0): the array's zeros but for one octet.
    out[8] = static_cast<std::uint8_t>(file_header_length);
    return out;
}

result<flv_tag_head> make_flv_tag_head(std::uint8_t type, std::uint32_t timestamp,
                                       std::size_t data_size) {
    if ((type != tag_audio && type != tag_video && type != tag_script_data) ||
        data_size > flv_max_tag_body)
        return error::flv_bad_tag;
    std::vector<std::uint8_t> bytes;
    bytes.reserve(flv_tag_header_size);
    byte_writer w(bytes);
    w.u8(type);
    w.u24be(static_cast<std::uint32_t>(data_size));
    // Timestamp holds the low 24 bits, TimestampExtended the high 8 (E.4.1).
    w.u24be(timestamp & 0xFFFFFF);
    w.u8(static_cast<std::uint8_t>(timestamp >> 24));
    w.u24be(0);  // StreamID: always 0
    flv_tag_head head{};
    std::copy(bytes.begin(), bytes.end(), head.begin());
    return head;
}

flv_tag_tail make_flv_tag_tail(std::size_t data_size) noexcept {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(4);
    byte_writer w(bytes);
    w.u32be(static_cast<std::uint32_t>(flv_tag_header_size + data_size));
    flv_tag_tail tail{};
    std::copy(bytes.begin(), bytes.end(), tail.begin());
    return tail;
}

error_code write_flv_tag(const flv_tag& tag, std::vector<std::uint8_t>& out) {
    const auto head = make_flv_tag_head(tag.type, tag.timestamp, tag.body.size());
    if (!head) return head.error();
    const auto tail = make_flv_tag_tail(tag.body.size());
    const auto body = tag.body.span();
    out.reserve(out.size() + head->size() + body.size() + tail.size());
    out.insert(out.end(), head->begin(), head->end());
    out.insert(out.end(), body.begin(), body.end());
    out.insert(out.end(), tail.begin(), tail.end());
    return {};
}

}  // namespace rtmpgate::protocol
