#include "protocol/codec_name.hpp"

#include <array>
#include <string_view>

#include "protocol/byte_reader.hpp"

namespace rtmpgate::protocol {
namespace {

constexpr std::uint8_t frame_type_command = 5;
constexpr std::uint8_t video_packet_multitrack = 6;
constexpr std::uint8_t audio_packet_multitrack = 5;
constexpr std::uint8_t packet_type_mod_ex = 7;
constexpr std::uint8_t multitrack_many_codecs = 2;  // AvMultitrackType: a FourCC per track
constexpr std::uint8_t sound_format_ex_header = 9;

struct fourcc_name {
    std::string_view fourcc;
    std::string_view name;
};

// Enhanced RTMP v1 "FourCC" table and v2 "Enhanced Audio".
constexpr std::array<fourcc_name, 5> video_fourccs = {{
    {"avc1", "H.264"},
    {"hvc1", "HEVC"},
    {"av01", "AV1"},
    {"vp09", "VP9"},
    {"vp08", "VP8"},
}};
constexpr std::array<fourcc_name, 6> audio_fourccs = {{
    {"mp4a", "AAC"},
    {"Opus", "Opus"},
    {"fLaC", "FLAC"},
    {"ac-3", "AC-3"},
    {"ec-3", "E-AC-3"},
    {".mp3", "MP3"},
}};

// FLV 10.1 E.4.3.1 CodecID; 12 is HEVC as Chinese CDNs' encoders wrote it before Enhanced RTMP.
std::string_view legacy_video_name(std::uint8_t codec_id) {
    switch (codec_id) {
        case 2:
            return "Sorenson H.263";
        case 3:
            return "Screen video";
        case 4:
            return "VP6";
        case 5:
            return "VP6 alpha";
        case 6:
            return "Screen video 2";
        case 7:
            return "H.264";
        case 12:
            return "HEVC";
        default:
            return "unknown";
    }
}

// FLV 10.1 E.4.2.1 SoundFormat (9 is the Enhanced RTMP ExHeader, read apart).
std::string_view legacy_audio_name(std::uint8_t sound_format) {
    switch (sound_format) {
        case 0:
            return "PCM";
        case 1:
            return "ADPCM";
        case 2:
            return "MP3";
        case 3:
            return "PCM";
        case 4:
        case 5:
        case 6:
            return "Nellymoser";
        case 7:
            return "G.711 A-law";
        case 8:
            return "G.711 mu-law";
        case 10:
            return "AAC";
        case 11:
            return "Speex";
        case 14:
            return "MP3";
        case 15:
            return "device-specific";
        default:
            return "unknown";
    }
}

// After the first octet of an Enhanced RTMP header whose low nibble is `packet_type`: skips the
// v2 ModEx wrappers and reads the Multitrack header, as protocol/flv.cpp does, and gives the
// codec's name by `table`.
template <std::size_t N>
std::string ex_codec_name(byte_reader& r, std::uint8_t packet_type, std::uint8_t multitrack,
                          const std::array<fourcc_name, N>& table) {
    while (packet_type == packet_type_mod_ex) {
        std::uint8_t size_minus_one = 0;
        if (!r.read_u8(size_minus_one)) return {};
        std::size_t size = std::size_t{size_minus_one} + 1;
        if (size == 256) {
            std::uint16_t wide = 0;
            if (!r.read_u16be(wide)) return {};
            size = std::size_t{wide} + 1;
        }
        std::uint8_t types = 0;
        if (!r.skip(size) || !r.read_u8(types)) return {};
        packet_type = types & 0x0F;
    }
    if (packet_type == multitrack) {
        std::uint8_t types = 0;
        if (!r.read_u8(types)) return {};
        if ((types >> 4) == multitrack_many_codecs) return "multitrack";
    }
    std::string_view fourcc;
    if (!r.read_string(4, fourcc)) return {};
    for (const auto& known : table)
        if (known.fourcc == fourcc) return std::string(known.name);
    // Publisher's bytes: shown as they are only when they read as a FourCC.
    for (const char c : fourcc)
        if (c < 0x20 || c > 0x7E) return "unknown";
    return std::string(fourcc);
}

}  // namespace

std::string video_codec_name(std::span<const std::uint8_t> payload) {
    byte_reader r(payload);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return {};
    if ((first & 0x80) == 0) return std::string(legacy_video_name(first & 0x0F));
    if (((first >> 4) & 0x07) == frame_type_command) return {};
    return ex_codec_name(r, first & 0x0F, video_packet_multitrack, video_fourccs);
}

std::string audio_codec_name(std::span<const std::uint8_t> payload) {
    byte_reader r(payload);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return {};
    const auto sound_format = static_cast<std::uint8_t>(first >> 4);
    if (sound_format != sound_format_ex_header) return std::string(legacy_audio_name(sound_format));
    return ex_codec_name(r, first & 0x0F, audio_packet_multitrack, audio_fourccs);
}

}  // namespace rtmpgate::protocol
