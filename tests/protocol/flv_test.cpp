#include "protocol/flv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tests/protocol/amf_wire.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::text;
using test::to_vector;
using test::wire;

std::vector<std::uint8_t> vec(std::span<const std::uint8_t> s) { return {s.begin(), s.end()}; }

// ---- audio/video tag bodies (RTMP message payloads) ------------------------------------------

// Legacy AVC (FLV 10.1 E.4.3.1, E.4.3.2), as ffmpeg and OBS send it.
constexpr auto avc_sequence_header = wire(bytes(0x17),  // frame type 1 key | codec 7 AVC
                                          bytes(0x00),  // AVCPacketType 0: sequence header
                                          bytes(0x00, 0x00, 0x00),  // composition time 0
                                          bytes(0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1));  // avcC start
constexpr auto avc_keyframe = wire(bytes(0x17),              // frame type 1 key | codec 7 AVC
                                   bytes(0x01),              // AVCPacketType 1: NALUs
                                   bytes(0x00, 0x00, 0x50),  // composition time 80
                                   bytes(0x00, 0x00, 0x00, 0x02, 0x65, 0x88));  // NALU length, IDR
constexpr auto avc_inter_frame = wire(bytes(0x27),              // frame type 2 inter | codec 7
                                      bytes(0x01),              // AVCPacketType 1: NALUs
                                      bytes(0x00, 0x00, 0x00),  // composition time 0
                                      bytes(0x00, 0x00, 0x00, 0x02, 0x41, 0x9A));  // NALU, P slice
constexpr auto avc_end_of_sequence = bytes(0x17,               // frame type 1 key | codec 7
                                           0x02,               // AVCPacketType 2: end of sequence
                                           0x00, 0x00, 0x00);  // composition time 0
// Legacy HEVC with codec id 12 (the pre-Enhanced-RTMP convention of SRS and OBS forks).
constexpr auto hevc12_sequence_header = bytes(0x1C,              // frame type 1 key | codec 12
                                              0x00,              // packet type 0: sequence header
                                              0x00, 0x00, 0x00,  // composition time
                                              0x01, 0x01);       // hvcC start
constexpr auto hevc12_keyframe = bytes(0x1C,                     // frame type 1 key | codec 12
                                       0x01,                     // packet type 1: NALUs
                                       0x00, 0x00, 0x00,         // composition time
                                       0x26, 0x01);              // NALU bytes
// VP6 (codec 4): no packet type octet, the frame type alone decides.
constexpr auto vp6_keyframe = bytes(0x14,         // frame type 1 key | codec 4 VP6
                                    0x00, 0x00);  // VP6 adjustment, frame data
constexpr auto vp6_inter_frame = bytes(0x24,      // frame type 2 inter | codec 4
                                       0x00, 0x00);

// Enhanced RTMP v1: IsExHeader (bit 7), frame type (bits 4-6), VideoPacketType (bits 0-3), FourCC.
constexpr auto hvc1_sequence_start =
    wire(bytes(0x90),                                         // ex | frame type 1 | SequenceStart
         text("hvc1"),                                        // FourCC
         bytes(0x01, 0x01, 0x60));                            // HEVCDecoderConfigurationRecord
constexpr auto hvc1_keyframe = wire(bytes(0x91),              // ex | frame type 1 | CodedFrames
                                    text("hvc1"),             // FourCC
                                    bytes(0x00, 0x00, 0x00),  // composition time (SI24)
                                    bytes(0x00, 0x00, 0x00, 0x02, 0x26, 0x01));  // NALU
constexpr auto hvc1_inter_frame_x = wire(bytes(0xA3),   // ex | frame type 2 | CodedFramesX
                                         text("hvc1"),  // FourCC, no composition time
                                         bytes(0x00, 0x00, 0x00, 0x02, 0x02, 0x01));  // NALU
constexpr auto hvc1_sequence_end = wire(bytes(0x92),           // ex | frame type 1 | SequenceEnd
                                        text("hvc1"));         // FourCC
constexpr auto hvc1_metadata = wire(bytes(0x94),               // ex | frame type 1 | Metadata
                                    text("hvc1"),              // FourCC
                                    bytes(0x02, 0x00, 0x0A));  // AMF0 "colorInfo" begins
constexpr auto av01_sequence_start =
    wire(bytes(0x90),                     // ex | frame type 1 | SequenceStart
         text("av01"),                    // FourCC
         bytes(0x81, 0x08, 0x0C, 0x00));  // AV1CodecConfigurationRecord
constexpr auto av01_mpeg2ts_sequence_start =
    wire(bytes(0x95),                              // ex | frame 1 | MPEG2TSSequenceStart
         text("av01"),                             // FourCC
         bytes(0x80, 0x04, 0x81, 0x08));           // AV1 video descriptor
constexpr auto av01_keyframe = wire(bytes(0x91),   // ex | frame type 1 | CodedFrames
                                    text("av01"),  // FourCC (AV1: no composition time)
                                    bytes(0x12, 0x00, 0x0A, 0x0B));  // OBUs
constexpr auto av01_inter_frame = wire(bytes(0xA1),         // ex | frame type 2 | CodedFrames
                                       text("av01"),        // FourCC
                                       bytes(0x32, 0x10));  // OBUs
constexpr auto ex_command_frame = bytes(0xD1,               // ex | frame type 5 command | 1
                                        0x00);              // VideoCommand StartSeek
// Enhanced RTMP v2 wrappers.
constexpr auto hvc1_multitrack_sequence_start = wire(bytes(0x96),  // ex | frame type 1 | Multitrack
                                                     bytes(0x00),  // OneTrack | SequenceStart
                                                     text("hvc1"),        // FourCC
                                                     bytes(0x00),         // track id
                                                     bytes(0x01, 0x01));  // hvcC start
constexpr auto many_codecs_keyframe = bytes(0x96,  // ex | frame type 1 | Multitrack
                                            0x21,  // ManyTracksManyCodecs | CodedFrames
                                            'h', 'v', 'c', '1',  // per-track FourCC
                                            0x00);               // track id
constexpr auto mod_ex_keyframe = wire(bytes(0x97),               // ex | frame type 1 | ModEx
                                      bytes(0x02),               // modExDataSize - 1: 3 octets
                                      bytes(0x00, 0x01, 0x02),   // TimestampOffsetNano
                                      bytes(0x01),               // ModExType 0 | CodedFrames
                                      text("hvc1"),              // FourCC
                                      bytes(0x00, 0x00, 0x00));  // composition time
constexpr auto mod_ex_sequence_end = wire(bytes(0x97),           // ex | frame type 1 | ModEx
                                          bytes(0x00),           // modExDataSize - 1: 1 octet
                                          bytes(0x00),           // modifier data
                                          bytes(0x02),           // ModExType 0 | SequenceEnd
                                          text("av01"));         // FourCC
constexpr auto nested_multitrack = bytes(0x96,                   // ex | frame type 1 | Multitrack
                                         0x06,  // OneTrack | Multitrack: not allowed
                                         'h', 'v', 'c', '1');

std::vector<std::uint8_t> mod_ex_wide_sequence_start() {
    std::vector<std::uint8_t> v = {0x90 | 0x07,  // ex | frame type 1 | ModEx
                                   0xFF,         // modExDataSize - 1 = 255: a UI16 follows
                                   0x01, 0x00};  // UI16 modExDataSize - 1: 257 octets
    v.insert(v.end(), 257, 0xEE);                // modifier data
    v.push_back(0x00);                           // ModExType 0 | SequenceStart
    for (char c : std::string("av01")) v.push_back(static_cast<std::uint8_t>(c));
    return v;
}

// Audio (E.4.2.1): SoundFormat (4) | rate (2) | size (1) | type (1).
constexpr auto aac_sequence_header = bytes(0xAF,         // AAC | 44 kHz | 16 bit | stereo
                                           0x00,         // AACPacketType 0: sequence header
                                           0x12, 0x10);  // AudioSpecificConfig LC 44.1k 2ch
constexpr auto aac_raw = bytes(0xAF,                     // AAC | 44 kHz | 16 bit | stereo
                               0x01,                     // AACPacketType 1: raw
                               0x21, 0x00, 0x49);        // AAC frame
constexpr auto mp3_frame = bytes(0x2F,                   // MP3 | 44 kHz | 16 bit | stereo
                                 0x00, 0xFF, 0xFB);      // 0x00 here is not a packet type
// Enhanced RTMP v2 audio: SoundFormat 9 (ExHeader) | AudioPacketType, then FourCC.
constexpr auto opus_sequence_start = wire(bytes(0x90),              // ExHeader | SequenceStart
                                          text("Opus"),             // FourCC
                                          text("OpusHead"));        // Opus ID header
constexpr auto opus_coded_frames = wire(bytes(0x91),                // ExHeader | CodedFrames
                                        text("Opus"),               // FourCC
                                        bytes(0xFC, 0xFF, 0xFE));   // Opus packet
constexpr auto mp4a_multitrack_sequence_start = wire(bytes(0x95),   // ExHeader | Multitrack
                                                     bytes(0x00),   // OneTrack | SequenceStart
                                                     text("mp4a"),  // FourCC
                                                     bytes(0x00),   // track id
                                                     bytes(0x12, 0x10));  // AudioSpecificConfig
constexpr auto opus_mod_ex_sequence_start = wire(bytes(0x97),             // ExHeader | ModEx
                                                 bytes(0x00),    // modExDataSize - 1: 1 octet
                                                 bytes(0x05),    // modifier data
                                                 bytes(0x00),    // ModExType 0 | SequenceStart
                                                 text("Opus"));  // FourCC

struct classified {
    const char* name;
    std::vector<std::uint8_t> body;
    bool video;
    // The shortest prefix that classifies as the whole body does; shorter prefixes classify as
    // nothing (a classifier that needs an octet it does not have says false).
    std::size_t needed;
    bool keyframe;
    bool video_sequence_header;
    bool audio_sequence_header;
};

std::vector<classified> classified_bodies() {
    return {
        {"avc_sequence_header", to_vector(avc_sequence_header), true, 2, true, true, false},
        {"avc_keyframe", to_vector(avc_keyframe), true, 2, true, false, false},
        {"avc_inter_frame", to_vector(avc_inter_frame), true, 2, false, false, false},
        {"avc_end_of_sequence", to_vector(avc_end_of_sequence), true, 2, false, false, false},
        {"hevc12_sequence_header", to_vector(hevc12_sequence_header), true, 2, true, true, false},
        {"hevc12_keyframe", to_vector(hevc12_keyframe), true, 2, true, false, false},
        {"vp6_keyframe", to_vector(vp6_keyframe), true, 1, true, false, false},
        {"vp6_inter_frame", to_vector(vp6_inter_frame), true, 1, false, false, false},
        {"hvc1_sequence_start", to_vector(hvc1_sequence_start), true, 5, true, true, false},
        {"hvc1_keyframe", to_vector(hvc1_keyframe), true, 5, true, false, false},
        {"hvc1_inter_frame_x", to_vector(hvc1_inter_frame_x), true, 5, false, false, false},
        {"hvc1_sequence_end", to_vector(hvc1_sequence_end), true, 5, false, false, false},
        {"hvc1_metadata", to_vector(hvc1_metadata), true, 5, false, false, false},
        {"av01_sequence_start", to_vector(av01_sequence_start), true, 5, true, true, false},
        {"av01_mpeg2ts_sequence_start", to_vector(av01_mpeg2ts_sequence_start), true, 5, true, true,
         false},
        {"av01_keyframe", to_vector(av01_keyframe), true, 5, true, false, false},
        {"av01_inter_frame", to_vector(av01_inter_frame), true, 5, false, false, false},
        {"ex_command_frame", to_vector(ex_command_frame), true, 1, false, false, false},
        {"hvc1_multitrack_sequence_start", to_vector(hvc1_multitrack_sequence_start), true, 6, true,
         true, false},
        {"many_codecs_keyframe", to_vector(many_codecs_keyframe), true, 2, true, false, false},
        {"mod_ex_keyframe", to_vector(mod_ex_keyframe), true, 10, true, false, false},
        {"mod_ex_sequence_end", to_vector(mod_ex_sequence_end), true, 8, false, false, false},
        {"mod_ex_wide_sequence_start", mod_ex_wide_sequence_start(), true, 266, true, true, false},
        {"nested_multitrack", to_vector(nested_multitrack), true, 2, false, false, false},
        {"aac_sequence_header", to_vector(aac_sequence_header), false, 2, false, false, true},
        {"aac_raw", to_vector(aac_raw), false, 2, false, false, false},
        {"mp3_frame", to_vector(mp3_frame), false, 1, false, false, false},
        {"opus_sequence_start", to_vector(opus_sequence_start), false, 5, false, false, true},
        {"opus_coded_frames", to_vector(opus_coded_frames), false, 5, false, false, false},
        {"mp4a_multitrack_sequence_start", to_vector(mp4a_multitrack_sequence_start), false, 6,
         false, false, true},
        {"opus_mod_ex_sequence_start", to_vector(opus_mod_ex_sequence_start), false, 8, false,
         false, true},
    };
}

TEST(flv_classify, whole_bodies) {
    for (const auto& c : classified_bodies()) {
        if (c.video) {
            EXPECT_EQ(is_video_keyframe(c.body), c.keyframe) << c.name;
            EXPECT_EQ(is_video_sequence_header(c.body), c.video_sequence_header) << c.name;
        } else {
            EXPECT_EQ(is_audio_sequence_header(c.body), c.audio_sequence_header) << c.name;
        }
    }
}

// Every prefix, each in a heap buffer of exactly its size: AddressSanitizer reports any read past
// the span, and the answer may only change at the octet that completes the header.
TEST(flv_classify, every_prefix_stays_inside_the_span) {
    for (const auto& c : classified_bodies()) {
        ASSERT_LE(c.needed, c.body.size()) << c.name;
        for (std::size_t n = 0; n <= c.body.size(); ++n) {
            const std::vector<std::uint8_t> prefix(c.body.begin(),
                                                   c.body.begin() + static_cast<std::ptrdiff_t>(n));
            const bool complete = n >= c.needed;
            if (c.video) {
                EXPECT_EQ(is_video_keyframe(prefix), complete && c.keyframe) << c.name << " " << n;
                EXPECT_EQ(is_video_sequence_header(prefix), complete && c.video_sequence_header)
                    << c.name << " " << n;
            } else {
                EXPECT_EQ(is_audio_sequence_header(prefix), complete && c.audio_sequence_header)
                    << c.name << " " << n;
            }
        }
    }
}

TEST(flv_classify, empty_and_one_octet_bodies) {
    EXPECT_FALSE(is_video_keyframe({}));
    EXPECT_FALSE(is_video_sequence_header({}));
    EXPECT_FALSE(is_audio_sequence_header({}));
    // One octet: an AVC or AAC body without its packet type, an Enhanced header without FourCC.
    const std::vector<std::uint8_t> avc_key = {0x17};
    const std::vector<std::uint8_t> ex_start = {0x90};
    const std::vector<std::uint8_t> aac = {0xAF};
    const std::vector<std::uint8_t> vp6_key = {0x14};
    EXPECT_FALSE(is_video_keyframe(avc_key));
    EXPECT_FALSE(is_video_sequence_header(avc_key));
    EXPECT_FALSE(is_video_keyframe(ex_start));
    EXPECT_FALSE(is_video_sequence_header(ex_start));
    EXPECT_FALSE(is_audio_sequence_header(ex_start));
    EXPECT_FALSE(is_audio_sequence_header(aac));
    EXPECT_TRUE(is_video_keyframe(vp6_key));
}

// A ModEx size that runs past the payload classifies as nothing.
TEST(flv_classify, mod_ex_longer_than_payload) {
    const std::vector<std::uint8_t> video = {0x97, 0x10, 0x00, 0x00};  // ModEx, 17 octets announced
    const std::vector<std::uint8_t> audio = {0x97, 0xFF, 0x00};        // ModEx, UI16 size cut short
    EXPECT_FALSE(is_video_keyframe(video));
    EXPECT_FALSE(is_video_sequence_header(video));
    EXPECT_FALSE(is_audio_sequence_header(audio));
}

// ---- file header and tags (FLV 10.1 E.2, E.3, E.4.1) ------------------------------------------

constexpr auto header_audio_video = wire(text("FLV"),  // Signature
                                         bytes(0x01),  // Version 1
                                         bytes(0x05),  // TypeFlagsAudio | TypeFlagsVideo
                                         bytes(0x00, 0x00, 0x00, 0x09),   // DataOffset 9
                                         bytes(0x00, 0x00, 0x00, 0x00));  // PreviousTagSize0
constexpr auto header_video_only =
    wire(text("FLV"), bytes(0x01),
         bytes(0x01),  // TypeFlagsVideo only
         bytes(0x00, 0x00, 0x00, 0x09), bytes(0x00, 0x00, 0x00, 0x00));
constexpr auto header_audio_only =
    wire(text("FLV"), bytes(0x01),
         bytes(0x04),  // TypeFlagsAudio only
         bytes(0x00, 0x00, 0x00, 0x09), bytes(0x00, 0x00, 0x00, 0x00));

constexpr auto video_tag_1000 = wire(bytes(0x09),                          // TagType 9: video
                                     bytes(0x00, 0x00, 0x05),              // DataSize 5
                                     bytes(0x00, 0x03, 0xE8),              // Timestamp 1000
                                     bytes(0x00),                          // TimestampExtended
                                     bytes(0x00, 0x00, 0x00),              // StreamID 0
                                     bytes(0x17, 0x01, 0x00, 0x00, 0x00),  // body: AVC keyframe
                                     bytes(0x00, 0x00, 0x00, 0x10));       // PreviousTagSize 16
constexpr auto audio_tag_extended = wire(bytes(0x08),                      // TagType 8: audio
                                         bytes(0x00, 0x00, 0x02),          // DataSize 2
                                         bytes(0x34, 0x56, 0x78),          // Timestamp bits 0-23
                                         bytes(0x12),              // TimestampExtended: bits 24-31
                                         bytes(0x00, 0x00, 0x00),  // StreamID 0
                                         bytes(0xAF, 0x01),        // body: AAC raw
                                         bytes(0x00, 0x00, 0x00, 0x0D));  // PreviousTagSize 13
constexpr auto script_tag_empty = wire(bytes(0x12),                       // TagType 18: script data
                                       bytes(0x00, 0x00, 0x00),           // DataSize 0
                                       bytes(0x00, 0x00, 0x00),           // Timestamp 0
                                       bytes(0x00),                       // TimestampExtended
                                       bytes(0x00, 0x00, 0x00),           // StreamID 0
                                       bytes(0x00, 0x00, 0x00, 0x0B));    // PreviousTagSize 11

TEST(flv_header, reads_flags) {
    struct expectation {
        std::vector<std::uint8_t> wire;
        bool audio;
        bool video;
    };
    const expectation cases[] = {
        {to_vector(header_audio_video), true, true},
        {to_vector(header_video_only), false, true},
        {to_vector(header_audio_only), true, false},
    };
    for (const auto& c : cases) {
        flv_header h;
        h.has_audio = !c.audio;
        h.has_video = !c.video;
        error_code ec = error::truncated;
        EXPECT_EQ(read_flv_header(c.wire, h, ec), flv_header_size);
        EXPECT_FALSE(ec);
        EXPECT_EQ(h.has_audio, c.audio);
        EXPECT_EQ(h.has_video, c.video);
    }
}

TEST(flv_header, every_prefix_needs_more) {
    for (std::size_t n = 0; n < header_audio_video.size(); ++n) {
        flv_header h;
        error_code ec;
        EXPECT_EQ(read_flv_header(std::span(header_audio_video).first(n), h, ec), 0u);
        EXPECT_EQ(ec, error::need_more) << n;
    }
}

TEST(flv_header, bad_signature) {
    auto not_flv = to_vector(header_audio_video);
    not_flv[2] = 'X';  // "FLX"
    auto version_2 = to_vector(header_audio_video);
    version_2[3] = 0x02;
    auto data_offset_10 = to_vector(header_audio_video);
    data_offset_10[8] = 0x0A;
    auto previous_tag_size0_1 = to_vector(header_audio_video);
    previous_tag_size0_1[12] = 0x01;
    const std::vector<std::uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a'};
    const std::vector<std::uint8_t> short_wrong = {'F', 'X'};  // refused before 13 octets arrive
    for (const auto& in :
         {not_flv, version_2, data_offset_10, previous_tag_size0_1, gif, short_wrong}) {
        flv_header h;
        error_code ec;
        EXPECT_EQ(read_flv_header(in, h, ec), 0u);
        EXPECT_EQ(ec, error::flv_bad_signature) << in.size();
    }
}

TEST(flv_tag, reads_fields) {
    flv_tag tag;
    error_code ec;
    EXPECT_EQ(read_flv_tag(video_tag_1000, tag, ec), video_tag_1000.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(tag.type, 9);
    EXPECT_EQ(tag.timestamp, 1000u);
    EXPECT_EQ(vec(tag.body.span()), (std::vector<std::uint8_t>{0x17, 0x01, 0x00, 0x00, 0x00}));

    EXPECT_EQ(read_flv_tag(audio_tag_extended, tag, ec), audio_tag_extended.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(tag.type, 8);
    EXPECT_EQ(tag.timestamp, 0x12345678u);
    EXPECT_EQ(vec(tag.body.span()), (std::vector<std::uint8_t>{0xAF, 0x01}));

    EXPECT_EQ(read_flv_tag(script_tag_empty, tag, ec), script_tag_empty.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(tag.type, 18);
    EXPECT_TRUE(tag.body.empty());
}

TEST(flv_tag, reads_a_large_body_and_a_32_bit_timestamp) {
    std::vector<std::uint8_t> body(70000);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 7);
    auto in = to_vector(wire(bytes(0x09),                // TagType 9: video
                             bytes(0x01, 0x11, 0x70),    // DataSize 70000
                             bytes(0xFF, 0xFF, 0xFF),    // Timestamp bits 0-23
                             bytes(0xFF),                // TimestampExtended: bits 24-31
                             bytes(0x00, 0x00, 0x00)));  // StreamID 0
    in.insert(in.end(), body.begin(), body.end());
    const auto previous_tag_size = bytes(0x00, 0x01, 0x11, 0x7B);  // 11 + 70000
    in.insert(in.end(), previous_tag_size.begin(), previous_tag_size.end());
    flv_tag tag;
    error_code ec;
    EXPECT_EQ(read_flv_tag(in, tag, ec), in.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(tag.timestamp, 0xFFFFFFFFu);
    EXPECT_EQ(vec(tag.body.span()), body);
}

TEST(flv_tag, every_prefix_needs_more) {
    for (const auto& tag_wire :
         {to_vector(video_tag_1000), to_vector(audio_tag_extended), to_vector(script_tag_empty)}) {
        for (std::size_t n = 0; n < tag_wire.size(); ++n) {
            flv_tag tag;
            error_code ec;
            EXPECT_EQ(read_flv_tag(std::span(tag_wire).first(n), tag, ec), 0u);
            EXPECT_EQ(ec, error::need_more) << n;
        }
    }
}

struct read_file_result {
    flv_header header;
    std::vector<flv_tag> tags;
    error_code last;

    bool operator==(const read_file_result& o) const {
        if (header.has_audio != o.header.has_audio || header.has_video != o.header.has_video ||
            tags.size() != o.tags.size() || last != o.last)
            return false;
        for (std::size_t i = 0; i < tags.size(); ++i)
            if (tags[i].type != o.tags[i].type || tags[i].timestamp != o.tags[i].timestamp ||
                vec(tags[i].body.span()) != vec(o.tags[i].body.span()))
                return false;
        return true;
    }
};

// Reads a file arriving in pieces as a recorder or a tool would: keeps what was not consumed.
read_file_result read_in_pieces(std::span<const std::uint8_t> file,
                                const std::vector<std::size_t>& cuts) {
    read_file_result r;
    std::vector<std::uint8_t> pending;
    bool header_done = false;
    std::size_t from = 0;
    auto feed = [&](std::size_t to) {
        pending.insert(pending.end(), file.begin() + static_cast<std::ptrdiff_t>(from),
                       file.begin() + static_cast<std::ptrdiff_t>(to));
        from = to;
        for (;;) {
            error_code ec;
            std::size_t used = 0;
            if (!header_done) {
                used = read_flv_header(pending, r.header, ec);
                header_done = !ec;
            } else {
                flv_tag tag;
                used = read_flv_tag(pending, tag, ec);
                if (!ec) r.tags.push_back(tag);
            }
            r.last = ec;
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
            if (ec) return;
        }
    };
    for (const std::size_t cut : cuts) feed(cut);
    feed(file.size());
    return r;
}

TEST(flv_tag, file_split_anywhere_reads_the_same) {
    const auto file =
        to_vector(wire(header_audio_only, video_tag_1000, script_tag_empty, audio_tag_extended));
    const read_file_result whole = read_in_pieces(file, {});
    ASSERT_EQ(whole.tags.size(), 3u);
    EXPECT_EQ(whole.last, error::need_more);
    EXPECT_TRUE(whole.header.has_audio);
    EXPECT_FALSE(whole.header.has_video);
    for (std::size_t cut = 0; cut <= file.size(); ++cut)
        EXPECT_TRUE(read_in_pieces(file, {cut}) == whole) << cut;
    std::vector<std::size_t> every_octet;
    for (std::size_t i = 1; i < file.size(); ++i) every_octet.push_back(i);
    EXPECT_TRUE(read_in_pieces(file, every_octet) == whole);
}

TEST(flv_tag, bad_tag) {
    auto type_7 = to_vector(video_tag_1000);
    type_7[0] = 0x07;
    auto encrypted = to_vector(video_tag_1000);
    encrypted[0] = 0x29;  // Filter bit | video
    auto reserved_bits = to_vector(video_tag_1000);
    reserved_bits[0] = 0x49;  // a reserved bit | video
    auto stream_id_1 = to_vector(video_tag_1000);
    stream_id_1[10] = 0x01;
    auto previous_size_wrong = to_vector(video_tag_1000);
    previous_size_wrong.back() = 0x11;  // 17, the tag is 16
    auto previous_size_excludes_header = to_vector(script_tag_empty);
    previous_size_excludes_header.back() = 0x00;
    const std::vector<std::uint8_t> type_only = {0x14};  // command (20): refused after one octet
    for (const auto& in : {type_7, encrypted, reserved_bits, stream_id_1, previous_size_wrong,
                           previous_size_excludes_header, type_only}) {
        flv_tag tag;
        error_code ec;
        EXPECT_EQ(read_flv_tag(in, tag, ec), 0u);
        EXPECT_EQ(ec, error::flv_bad_tag) << in.size();
    }
    // The stream id is checked as soon as the 11-octet header is in, before the body.
    flv_tag tag;
    error_code ec;
    EXPECT_EQ(read_flv_tag(std::span(stream_id_1).first(flv_tag_header_size), tag, ec), 0u);
    EXPECT_EQ(ec, error::flv_bad_tag);
}

TEST(flv_tag, aggregate_tags_may_carry_any_stream_id) {
    auto stream_id_1 = to_vector(video_tag_1000);
    stream_id_1[10] = 0x01;  // FMS writes the message stream id into an aggregate's tags
    auto stream_id_max = to_vector(video_tag_1000);
    stream_id_max[8] = stream_id_max[9] = stream_id_max[10] = 0xFF;
    for (const auto& in : {stream_id_1, stream_id_max}) {
        flv_tag tag;
        error_code ec;
        EXPECT_EQ(read_flv_tag(in, tag, ec, flv_tag_source::aggregate), in.size());
        EXPECT_FALSE(ec);
        EXPECT_EQ(tag.type, 9);
        EXPECT_EQ(tag.timestamp, 1000u);
    }
    // Every other check still applies.
    auto type_7 = to_vector(video_tag_1000);
    type_7[0] = 0x07;
    auto previous_size_wrong = to_vector(video_tag_1000);
    previous_size_wrong.back() = 0x11;
    for (const auto& in : {type_7, previous_size_wrong}) {
        flv_tag tag;
        error_code ec;
        EXPECT_EQ(read_flv_tag(in, tag, ec, flv_tag_source::aggregate), 0u);
        EXPECT_EQ(ec, error::flv_bad_tag);
    }
}

// ---- writing ------------------------------------------------------------------------------------

TEST(flv_write, header_is_what_the_reader_reads) {
    EXPECT_EQ(vec(make_flv_header({true, true})), to_vector(header_audio_video));
    EXPECT_EQ(vec(make_flv_header({false, true})), to_vector(header_video_only));
    EXPECT_EQ(vec(make_flv_header({true, false})), to_vector(header_audio_only));
}

TEST(flv_write, tags_are_the_wire_vectors) {
    struct expectation {
        flv_tag tag;
        std::vector<std::uint8_t> wire;
    };
    const expectation cases[] = {
        {{9, 1000, shared_bytes(std::vector<std::uint8_t>{0x17, 0x01, 0x00, 0x00, 0x00})},
         to_vector(video_tag_1000)},
        {{8, 0x12345678, shared_bytes(std::vector<std::uint8_t>{0xAF, 0x01})},
         to_vector(audio_tag_extended)},
        {{18, 0, shared_bytes(std::vector<std::uint8_t>{})}, to_vector(script_tag_empty)},
    };
    for (const auto& c : cases) {
        std::vector<std::uint8_t> out = {0xEE};  // appended to, not replaced
        EXPECT_FALSE(write_flv_tag(c.tag, out));
        ASSERT_EQ(out.size(), 1 + c.wire.size());
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin() + 1, out.end()), c.wire);
        // The head and tail alone, as a gathered write sends them around the body.
        const auto head = make_flv_tag_head(c.tag.type, c.tag.timestamp, c.tag.body.size());
        ASSERT_TRUE(head);
        EXPECT_EQ(vec(*head), std::vector<std::uint8_t>(c.wire.begin(), c.wire.begin() + 11));
        EXPECT_EQ(vec(make_flv_tag_tail(c.tag.body.size())),
                  std::vector<std::uint8_t>(c.wire.end() - 4, c.wire.end()));
    }
}

TEST(flv_write, bad_type_or_size_writes_nothing) {
    for (const std::uint8_t type : {0, 7, 10, 17, 19, 0x29, 0xFF}) {
        std::vector<std::uint8_t> out;
        EXPECT_EQ(write_flv_tag({type, 0, shared_bytes(std::vector<std::uint8_t>{1})}, out),
                  error::flv_bad_tag)
            << int(type);
        EXPECT_TRUE(out.empty());
    }
    EXPECT_TRUE(make_flv_tag_head(9, 0, flv_max_tag_body));
    const auto too_large = make_flv_tag_head(9, 0, flv_max_tag_body + 1);
    ASSERT_FALSE(too_large);
    EXPECT_EQ(too_large.error(), error::flv_bad_tag);
}

// A file written tag by tag reads back tag for tag, however it is cut.
TEST(flv_write, round_trip_through_the_reader) {
    std::vector<flv_tag> tags;
    std::vector<std::uint8_t> big(70000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 13);
    tags.push_back({18, 0, shared_bytes(std::vector<std::uint8_t>{0x02, 0x00, 0x01, 'x'})});
    tags.push_back({9, 0, shared_bytes(to_vector(avc_sequence_header))});
    tags.push_back({9, 40, shared_bytes(to_vector(avc_keyframe))});
    tags.push_back({8, 0xFFFFFFFF, shared_bytes(big)});
    tags.push_back({9, 0x01000000, shared_bytes(std::vector<std::uint8_t>{})});
    const auto header = make_flv_header({true, true});
    std::vector<std::uint8_t> file(header.begin(), header.end());
    for (const auto& t : tags) ASSERT_FALSE(write_flv_tag(t, file));

    for (const std::size_t step : {std::size_t{1}, std::size_t{7}, file.size()}) {
        std::vector<std::uint8_t> fed;
        std::size_t used = 0;
        std::vector<flv_tag> got;
        bool header_read = false;
        for (std::size_t at = 0; at < file.size(); at += step) {
            const auto end = std::min(file.size(), at + step);
            fed.insert(fed.end(), file.begin() + at, file.begin() + end);
            for (;;) {
                const auto rest = std::span(fed).subspan(used);
                error_code ec;
                std::size_t n = 0;
                if (!header_read) {
                    flv_header h;
                    n = read_flv_header(rest, h, ec);
                    if (!ec) header_read = h.has_audio && h.has_video;
                } else {
                    flv_tag t;
                    n = read_flv_tag(rest, t, ec);
                    if (!ec) got.push_back(std::move(t));
                }
                if (ec) {
                    ASSERT_EQ(ec, error::need_more) << step;
                    break;
                }
                used += n;
            }
        }
        EXPECT_EQ(used, file.size()) << step;
        ASSERT_EQ(got.size(), tags.size()) << step;
        for (std::size_t i = 0; i < tags.size(); ++i) {
            EXPECT_EQ(got[i].type, tags[i].type);
            EXPECT_EQ(got[i].timestamp, tags[i].timestamp);
            EXPECT_EQ(vec(got[i].body.span()), vec(tags[i].body.span()));
        }
    }
}

}  // namespace
}  // namespace rtmpgate::protocol
