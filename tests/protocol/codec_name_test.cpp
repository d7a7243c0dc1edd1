#include "protocol/codec_name.hpp"

#include <gtest/gtest.h>

#include "tests/protocol/amf_wire.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::text;
using test::wire;

TEST(codec_name, legacy_video_by_codec_id) {
    EXPECT_EQ(video_codec_name(bytes(0x17, 0x00)), "H.264");  // key | 7 AVC, sequence header
    EXPECT_EQ(video_codec_name(bytes(0x27, 0x01)), "H.264");  // inter | 7 AVC, NALUs
    EXPECT_EQ(video_codec_name(bytes(0x1C, 0x00)), "HEVC");   // key | 12 (pre-Enhanced HEVC)
    EXPECT_EQ(video_codec_name(bytes(0x14)), "VP6");          // key | 4
    EXPECT_EQ(video_codec_name(bytes(0x22)), "Sorenson H.263");
    EXPECT_EQ(video_codec_name(bytes(0x1F)), "unknown");  // codec 15: none
}

TEST(codec_name, enhanced_video_by_fourcc) {
    // ex | key | SequenceStart, then the FourCC.
    EXPECT_EQ(video_codec_name(wire(bytes(0x90), text("hvc1"))), "HEVC");
    EXPECT_EQ(video_codec_name(wire(bytes(0x91), text("av01"))), "AV1");  // CodedFrames
    EXPECT_EQ(video_codec_name(wire(bytes(0xA3), text("vp09"))), "VP9");  // inter | CodedFramesX
    EXPECT_EQ(video_codec_name(wire(bytes(0x90), text("avc1"))), "H.264");
    // A FourCC not in the table is shown as written when printable, else not at all.
    EXPECT_EQ(video_codec_name(wire(bytes(0x90), text("xyz1"))), "xyz1");
    EXPECT_EQ(video_codec_name(bytes(0x90, 'a', 0x01, 'b', 'c')), "unknown");
}

TEST(codec_name, enhanced_video_wrappers) {
    // Multitrack (6), one codec for all tracks (OneTrack 0 | CodedFrames 1), then the FourCC.
    EXPECT_EQ(video_codec_name(wire(bytes(0x96, 0x01), text("hvc1"))), "HEVC");
    // ManyTracksManyCodecs (2): each track names its own.
    EXPECT_EQ(video_codec_name(bytes(0x96, 0x21)), "multitrack");
    // ModEx (7): size - 1 = 2 (three octets of modifier data), then ModExType 0 | SequenceStart.
    EXPECT_EQ(video_codec_name(wire(bytes(0x97, 0x02, 0x00, 0x00, 0x01, 0x00), text("av01"))),
              "AV1");
}

TEST(codec_name, video_too_short_or_a_command_frame) {
    EXPECT_EQ(video_codec_name({}), "");
    EXPECT_EQ(video_codec_name(wire(bytes(0x90), text("hvc"))), "");  // FourCC cut
    EXPECT_EQ(video_codec_name(bytes(0x96)), "");                     // Multitrack cut
    EXPECT_EQ(video_codec_name(bytes(0x97, 0x05, 0x00)), "");         // ModEx data cut
    EXPECT_EQ(video_codec_name(bytes(0xD0, 0x00)), "");  // ex | command frame: no codec
}

TEST(codec_name, legacy_audio_by_sound_format) {
    EXPECT_EQ(audio_codec_name(bytes(0xAF, 0x00)), "AAC");  // 10 AAC, 44 kHz 16-bit stereo
    EXPECT_EQ(audio_codec_name(bytes(0x2F)), "MP3");
    EXPECT_EQ(audio_codec_name(bytes(0xB6)), "Speex");
    EXPECT_EQ(audio_codec_name(bytes(0x72)), "G.711 A-law");
    EXPECT_EQ(audio_codec_name(bytes(0xC0)), "unknown");  // 12: reserved
    EXPECT_EQ(audio_codec_name({}), "");
}

TEST(codec_name, enhanced_audio_by_fourcc) {
    // SoundFormat 9 (ExHeader) | AudioPacketType 0 SequenceStart, then the FourCC.
    EXPECT_EQ(audio_codec_name(wire(bytes(0x90), text("Opus"))), "Opus");
    EXPECT_EQ(audio_codec_name(wire(bytes(0x91), text("fLaC"))), "FLAC");
    EXPECT_EQ(audio_codec_name(wire(bytes(0x91), text("ec-3"))), "E-AC-3");
    // Multitrack (5), OneTrack with CodedFrames, then the FourCC.
    EXPECT_EQ(audio_codec_name(wire(bytes(0x95, 0x01), text("mp4a"))), "AAC");
    EXPECT_EQ(audio_codec_name(bytes(0x90, 'O', 'p')), "");
}

}  // namespace
}  // namespace rtmpgate::protocol
