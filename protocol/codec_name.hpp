// The codec of an RTMP audio or video message, named for people (the admin's status page):
// "H.264", "HEVC", "AAC"... read from the first octets of the payload, an FLV tag body (FLV spec
// 10.1 E.4.2.1 SoundFormat and E.4.3.1 CodecID; Enhanced RTMP v1/v2 FourCCs).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace rtmpgate::protocol {

// Legacy codec ids and the FourCCs of Enhanced RTMP (avc1, hvc1, av01, vp09, vp08) by name; a
// FourCC not known here by its four characters when they are printable ASCII, else "unknown".
// Enhanced RTMP v2 ModEx wrappers are skipped; a Multitrack message with one codec names it, one
// with a codec per track is "multitrack". "" when the payload is too short to tell, or for a
// command frame (which names no codec).
std::string video_codec_name(std::span<const std::uint8_t> payload);
// SoundFormat by name ("AAC", "MP3", "Speex", "G.711 A-law"...); for the Enhanced RTMP v2
// ExHeader (SoundFormat 9) the FourCC (Opus, fLaC, ac-3, ec-3, mp4a, .mp3) by name, as for video.
std::string audio_codec_name(std::span<const std::uint8_t> payload);

}  // namespace rtmpgate::protocol
