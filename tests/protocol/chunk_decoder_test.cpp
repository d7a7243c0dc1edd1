#include "protocol/chunk_decoder.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "protocol/control.hpp"

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;
using view = std::span<const std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Helpers: build wire bytes from annotated pieces, decode them whole, cut, and byte by byte.

bytes concat(std::initializer_list<view> parts) {
    bytes out;
    for (const auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Payload octets that differ from their neighbours and from any extended timestamp used below.
bytes pattern(std::size_t n, std::uint8_t seed = 0x10) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(seed + i * 7);
    return out;
}

view slice(const bytes& b, std::size_t offset, std::size_t n) { return view(b).subspan(offset, n); }

// A decoded message in a form gtest can compare and print.
struct decoded {
    std::uint32_t chunk_stream_id = 0;
    std::uint32_t timestamp = 0;
    std::uint8_t message_type_id = 0;
    std::uint32_t message_stream_id = 0;
    bytes payload;

    bool operator==(const decoded&) const = default;
};

void PrintTo(const decoded& d, std::ostream* os) {
    *os << "{csid " << d.chunk_stream_id << ", ts " << d.timestamp << ", type "
        << int(d.message_type_id) << ", msid " << d.message_stream_id << ", " << d.payload.size()
        << " octets}";
}

decoded to_decoded(const message& m) {
    const auto p = m.payload.span();
    return {m.chunk_stream_id, m.timestamp, m.message_type_id, m.message_stream_id,
            bytes(p.begin(), p.end())};
}

struct outcome {
    std::vector<decoded> messages;
    error_code ec;  // the first error other than need_more, or need_more
    std::uint64_t consumed = 0;

    // Octets consumed before an error depend on where a cut header was buffered; messages and
    // the error itself must not.
    bool operator==(const outcome& o) const {
        return messages == o.messages && ec == o.ec &&
               (ec != error::need_more || consumed == o.consumed);
    }
};

void PrintTo(const outcome& o, std::ostream* os) {
    *os << o.messages.size() << " messages, ec " << o.ec.message() << ", consumed " << o.consumed;
}

// Feeds `in` in pieces ending at each of `cuts` (ascending) and then the rest. Stops at the
// first error that is not need_more, as a caller must.
outcome decode_cut(view in, const std::vector<std::size_t>& cuts,
                   chunk_decoder_limits limits = {}) {
    chunk_decoder d(limits);
    outcome o;
    std::vector<message> out;
    std::size_t start = 0;
    auto feed_to = [&](std::size_t end) {
        const auto used = d.feed(in.subspan(start, end - start), out, o.ec);
        if (o.ec != error::need_more) {
            start += used;
            return false;
        }
        EXPECT_EQ(used, end - start) << "need_more must mean everything was consumed";
        start = end;
        return true;
    };
    bool going = true;
    for (const auto c : cuts)
        if (going) going = feed_to(c);
    if (going) feed_to(in.size());
    for (const auto& m : out) o.messages.push_back(to_decoded(m));
    o.consumed = d.bytes_consumed();
    EXPECT_EQ(o.consumed, start);
    return o;
}

outcome decode_whole(view in, chunk_decoder_limits limits = {}) {
    return decode_cut(in, {}, limits);
}

// The outcome must not depend on how the input is cut: at each single offset, into two and
// three pieces around it, and byte by byte.
void expect_split_invariant(view in, chunk_decoder_limits limits = {}) {
    const auto whole = decode_whole(in, limits);
    if (whole.ec == error::need_more) {
        ASSERT_EQ(whole.consumed, in.size());
    }
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        ASSERT_EQ(decode_cut(in, {cut}, limits), whole) << "cut at " << cut;
        if (cut + 3 <= in.size()) {
            ASSERT_EQ(decode_cut(in, {cut, cut + 3}, limits), whole) << "cuts at " << cut;
        }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
    ASSERT_EQ(decode_cut(in, every, limits), whole) << "byte by byte";
}

decoded msg(std::uint32_t csid, std::uint32_t ts, message_type type, std::uint32_t msid,
            bytes payload) {
    return {csid, ts, static_cast<std::uint8_t>(type), msid, std::move(payload)};
}

// ---------------------------------------------------------------------------------------------
// Format 0 and the three basic header forms (spec 5.3.1.1, 5.3.1.2.1).

// connect-like command, 5 octets of body, on chunk stream 3 in one chunk.
constexpr std::array<std::uint8_t, 17> fmt0_csid3 = {
    0x03,                          // fmt 0, csid 3
    0x00, 0x03, 0xE8,              // timestamp 1000
    0x00, 0x00, 0x05,              // message length 5
    0x14,                          // type 20: command AMF0
    0x01, 0x00, 0x00, 0x00,        // message stream id 1 (little-endian)
    0x05, 0x00, 0x00, 0x00, 0x00,  // payload: AMF0 null, then four octets
};

TEST(chunk_decoder, format0_one_octet_basic_header) {
    const auto o = decode_whole(fmt0_csid3);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0],
              msg(3, 1000, message_type::command_amf0, 1, {0x05, 0x00, 0x00, 0x00, 0x00}));
    EXPECT_EQ(o.consumed, fmt0_csid3.size());
    expect_split_invariant(fmt0_csid3);
}

// The same one-octet message (type 8, audio) on chunk streams whose ids need each basic header.
constexpr std::array<std::uint8_t, 13> fmt0_csid2 = {
    0x02,                                      // fmt 0, csid 2 (lowest: 0 and 1 mark longer forms)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,  // ts 0, length 1, type 8
    0x00, 0x00, 0x00, 0x00, 0xAA,              // msid 0; payload
};
constexpr std::array<std::uint8_t, 13> fmt0_csid63 = {
    0x3F,  // fmt 0, csid 63: highest one-octet id
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xAB,
};
constexpr std::array<std::uint8_t, 14> fmt0_csid64 = {
    0x00, 0x00,  // fmt 0, marker 0; id - 64 = 0: csid 64
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xAC,
};
constexpr std::array<std::uint8_t, 14> fmt0_csid319 = {
    0x00, 0xFF,  // marker 0; id - 64 = 255: csid 319
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xAD,
};
constexpr std::array<std::uint8_t, 15> fmt0_csid320 = {
    0x01, 0x00, 0x01,  // marker 1; id - 64 = 256 (LE): csid 320
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xAE,
};
constexpr std::array<std::uint8_t, 15> fmt0_csid65599 = {
    0x01, 0xFF, 0xFF,  // marker 1; id - 64 = 65535: csid 65599
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xAF,
};
constexpr std::array<std::uint8_t, 15> fmt0_csid64_three_octets = {
    0x01, 0x00, 0x00,  // marker 1 spelling a low id: csid 64 again
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0xB0,
};

TEST(chunk_decoder, basic_header_forms) {
    const auto in = concat({fmt0_csid2, fmt0_csid63, fmt0_csid64, fmt0_csid319, fmt0_csid320,
                            fmt0_csid65599, fmt0_csid64_three_octets});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    const std::vector<decoded> expected = {
        msg(2, 0, message_type::audio, 0, {0xAA}),   msg(63, 0, message_type::audio, 0, {0xAB}),
        msg(64, 0, message_type::audio, 0, {0xAC}),  msg(319, 0, message_type::audio, 0, {0xAD}),
        msg(320, 0, message_type::audio, 0, {0xAE}), msg(65599, 0, message_type::audio, 0, {0xAF}),
        msg(64, 0, message_type::audio, 0, {0xB0}),
    };
    EXPECT_EQ(o.messages, expected);
    expect_split_invariant(in);
}

// ---------------------------------------------------------------------------------------------
// Formats 1, 2, 3 and timestamp deltas (5.3.1.2.2-4).

// Four messages on chunk stream 4: absolute 1000, then +40 (format 2), +40 again (format 3 repeats
// the delta), then +20 with a new length and type (format 1).
constexpr std::array<std::uint8_t, 14> video_ts1000 = {
    0x04,                    // fmt 0, csid 4
    0x00, 0x03, 0xE8,        // timestamp 1000
    0x00, 0x00, 0x02,        // length 2
    0x09,                    // type 9: video
    0x01, 0x00, 0x00, 0x00,  // msid 1
    0x17, 0x01,              // payload
};
constexpr std::array<std::uint8_t, 6> video_delta40 = {
    0x84,              // fmt 2, csid 4
    0x00, 0x00, 0x28,  // timestamp delta 40
    0x27, 0x01,        // payload (length and type inherited)
};
constexpr std::array<std::uint8_t, 3> video_repeat = {
    0xC4,        // fmt 3, csid 4: everything inherited, delta 40 again
    0x27, 0x02,  // payload
};
constexpr std::array<std::uint8_t, 11> audio_delta20 = {
    0x44,              // fmt 1, csid 4
    0x00, 0x00, 0x14,  // timestamp delta 20
    0x00, 0x00, 0x03,  // length 3
    0x08,              // type 8: audio
    0xAF, 0x01, 0x21,  // payload
};
constexpr std::array<std::uint8_t, 4> audio_repeat = {
    0xC4,  // fmt 3: delta 20, length 3, type 8 inherited
    0xAF,
    0x01,
    0x22,
};

TEST(chunk_decoder, formats_1_2_3_and_deltas) {
    const auto in =
        concat({video_ts1000, video_delta40, video_repeat, audio_delta20, audio_repeat});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    const std::vector<decoded> expected = {
        msg(4, 1000, message_type::video, 1, {0x17, 0x01}),
        msg(4, 1040, message_type::video, 1, {0x27, 0x01}),
        msg(4, 1080, message_type::video, 1, {0x27, 0x02}),
        msg(4, 1100, message_type::audio, 1, {0xAF, 0x01, 0x21}),
        msg(4, 1120, message_type::audio, 1, {0xAF, 0x01, 0x22}),
    };
    EXPECT_EQ(o.messages, expected);
    expect_split_invariant(in);
}

TEST(chunk_decoder, format3_after_format0_repeats_its_timestamp) {
    // ffmpeg (rtmppkt.c), librtmp and SRS take the format 0's timestamp as the delta a following
    // format 3 repeats.
    const auto in = concat({video_ts1000, video_repeat});
    const auto o = decode_whole(in);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[1].timestamp, 2000u);
}

// Timestamps wrap at 2^32 (spec 5.3.1.2 "serial number arithmetic").
constexpr std::array<std::uint8_t, 17> ts_near_wrap = {
    0x05,                    // fmt 0, csid 5
    0xFF, 0xFF, 0xFF,        // extended marker
    0x00, 0x00, 0x01,        // length 1
    0x08,                    // audio
    0x01, 0x00, 0x00, 0x00,  // msid 1
    0xFF, 0xFF, 0xFF, 0xF0,  // extended timestamp 0xFFFFFFF0
    0x01,                    // payload
};
constexpr std::array<std::uint8_t, 5> ts_wrap_delta32 = {
    0x85,              // fmt 2, csid 5
    0x00, 0x00, 0x20,  // delta 32
    0x02,              // payload
};

TEST(chunk_decoder, timestamp_wraps) {
    const auto o = decode_whole(concat({ts_near_wrap, ts_wrap_delta32}));
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0].timestamp, 0xFFFFFFF0u);
    EXPECT_EQ(o.messages[1].timestamp, 0x10u);
}

// Two messages of 200 octets on chunk streams 6 and 7, their chunks interleaved (5.3.2.2).
constexpr std::array<std::uint8_t, 12> interleave_first_6 = {
    0x06, 0x00, 0x00, 0x0A,  // fmt 0, csid 6, ts 10
    0x00, 0x00, 0xC8, 0x09,  // length 200, video
    0x01, 0x00, 0x00, 0x00,  // msid 1
};
constexpr std::array<std::uint8_t, 12> interleave_first_7 = {
    0x07, 0x00, 0x00, 0x0B,  // fmt 0, csid 7, ts 11
    0x00, 0x00, 0xC8, 0x08,  // length 200, audio
    0x01, 0x00, 0x00, 0x00,  // msid 1
};
constexpr std::array<std::uint8_t, 1> continue_6 = {0xC6};  // fmt 3, csid 6
constexpr std::array<std::uint8_t, 1> continue_7 = {0xC7};  // fmt 3, csid 7

TEST(chunk_decoder, interleaved_chunk_streams) {
    const auto a = pattern(200, 0x11);
    const auto b = pattern(200, 0x53);
    const auto in =
        concat({interleave_first_6, slice(a, 0, 128), interleave_first_7, slice(b, 0, 128),
                continue_7, slice(b, 128, 72), continue_6, slice(a, 128, 72)});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    const std::vector<decoded> expected = {msg(7, 11, message_type::audio, 1, b),
                                           msg(6, 10, message_type::video, 1, a)};
    EXPECT_EQ(o.messages, expected);
    expect_split_invariant(in);
}

// A format 2 header in the middle of a message (out of spec; some encoders do it) continues it.
constexpr std::array<std::uint8_t, 4> midmessage_fmt2_6 = {
    0x86,              // fmt 2, csid 6
    0x00, 0x00, 0x05,  // delta 5: ignored, the message keeps its timestamp
};
// A format 1 header in the middle of a message with the same length continues it too.
constexpr std::array<std::uint8_t, 8> midmessage_fmt1_6_same_length = {
    0x46, 0x00, 0x00, 0x05,  // fmt 1, csid 6, delta 5
    0x00, 0x00, 0xC8, 0x09,  // length 200 (unchanged), video
};
// ... and with another length it is refused.
constexpr std::array<std::uint8_t, 8> midmessage_fmt1_6_new_length = {
    0x46, 0x00, 0x00, 0x05,  // fmt 1, csid 6, delta 5
    0x00, 0x00, 0xC9, 0x09,  // length 201: not the 200 the first chunk announced
};

TEST(chunk_decoder, header_inside_a_message_continues_it) {
    const auto a = pattern(200, 0x21);
    for (const view mid : {view(midmessage_fmt2_6), view(midmessage_fmt1_6_same_length)}) {
        const auto in = concat({interleave_first_6, slice(a, 0, 128), mid, slice(a, 128, 72)});
        const auto o = decode_whole(in);
        EXPECT_EQ(o.ec, error::need_more);
        ASSERT_EQ(o.messages.size(), 1u);
        EXPECT_EQ(o.messages[0], msg(6, 10, message_type::video, 1, a));
        expect_split_invariant(in);
    }
}

TEST(chunk_decoder, error_message_length_changed) {
    const auto a = pattern(200);
    const auto in = concat(
        {interleave_first_6, slice(a, 0, 128), midmessage_fmt1_6_new_length, slice(a, 128, 72)});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::message_length_changed);
    EXPECT_TRUE(o.messages.empty());
    EXPECT_EQ(o.consumed, interleave_first_6.size() + 128 + midmessage_fmt1_6_new_length.size());
    expect_split_invariant(in);
}

// ---------------------------------------------------------------------------------------------
// Extended timestamps (5.3.1.3), on the first chunk and on format-3 continuation chunks.

// A 256-octet video message at timestamp 0x01000000, in two chunks of 128.
constexpr std::array<std::uint8_t, 16> ext_first_chunk = {
    0x04,                    // fmt 0, csid 4
    0xFF, 0xFF, 0xFF,        // timestamp field: extended marker
    0x00, 0x01, 0x00,        // length 256
    0x09,                    // video
    0x01, 0x00, 0x00, 0x00,  // msid 1
    0x01, 0x00, 0x00, 0x00,  // extended timestamp 0x01000000
};
// What ffmpeg (rtmppkt.c), librtmp (RTMP_SendPacket) and nginx-rtmp write before every later
// chunk: the format-3 basic header and the extended timestamp again.
constexpr std::array<std::uint8_t, 5> ext_continuation_repeated = {
    0xC4,                    // fmt 3, csid 4
    0x01, 0x00, 0x00, 0x00,  // extended timestamp, repeated
};
// What peers that follow the 2009 spec's reading write: the basic header alone.
constexpr std::array<std::uint8_t, 1> ext_continuation_bare = {
    0xC4,  // fmt 3, csid 4; payload follows at once
};

TEST(chunk_decoder, extended_timestamp_repeated_on_continuation) {
    const auto a = pattern(256);
    const auto in =
        concat({ext_first_chunk, slice(a, 0, 128), ext_continuation_repeated, slice(a, 128, 128)});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0], msg(4, 0x01000000, message_type::video, 1, a));
    expect_split_invariant(in);
}

TEST(chunk_decoder, extended_timestamp_left_out_on_continuation) {
    const auto a = pattern(256);
    const auto b = pattern(256, 0x77);
    // Two messages, so that the second one is read with what the first one taught.
    const auto in =
        concat({ext_first_chunk, slice(a, 0, 128), ext_continuation_bare, slice(a, 128, 128),
                ext_first_chunk, slice(b, 0, 128), ext_continuation_bare, slice(b, 128, 128)});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    const std::vector<decoded> expected = {msg(4, 0x01000000, message_type::video, 1, a),
                                           msg(4, 0x01000000, message_type::video, 1, b)};
    EXPECT_EQ(o.messages, expected);
    expect_split_invariant(in);
}

TEST(chunk_decoder, extended_timestamp_repeated_on_short_last_chunk) {
    // 130 octets: the second chunk has only 2 payload octets, too few to tell the field from
    // payload, so it is read as present (the current spec's reading).
    constexpr std::array<std::uint8_t, 16> first = {
        0x04, 0xFF, 0xFF, 0xFF,  // fmt 0, csid 4, extended marker
        0x00, 0x00, 0x82, 0x09,  // length 130, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
        0x01, 0x00, 0x00, 0x00,  // extended timestamp 0x01000000
    };
    const auto a = pattern(130);
    const auto in = concat({first, slice(a, 0, 128), ext_continuation_repeated, slice(a, 128, 2)});
    const auto o = decode_whole(in);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0], msg(4, 0x01000000, message_type::video, 1, a));
    expect_split_invariant(in);
}

// An extended delta (format 2), then a format 3 starting the next message, which carries the
// extended field as every writer sends it.
constexpr std::array<std::uint8_t, 8> ext_delta_fmt2 = {
    0x84,                    // fmt 2, csid 4
    0xFF, 0xFF, 0xFF,        // extended marker
    0x01, 0x00, 0x00, 0x00,  // extended delta 0x01000000
};

TEST(chunk_decoder, extended_delta_repeated_by_format3) {
    const auto in = concat({video_ts1000, ext_delta_fmt2, std::array<std::uint8_t, 2>{0x27, 0x01},
                            ext_continuation_repeated, std::array<std::uint8_t, 2>{0x27, 0x02}});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    const std::vector<decoded> expected = {
        msg(4, 1000, message_type::video, 1, {0x17, 0x01}),
        msg(4, 1000 + 0x01000000, message_type::video, 1, {0x27, 0x01}),
        msg(4, 1000 + 0x02000000, message_type::video, 1, {0x27, 0x02}),
    };
    EXPECT_EQ(o.messages, expected);
    expect_split_invariant(in);
}

TEST(chunk_decoder, timestamp_field_just_below_marker_is_not_extended) {
    constexpr std::array<std::uint8_t, 13> ts_fffffe = {
        0x04, 0xFF, 0xFF, 0xFE,  // fmt 0, csid 4, timestamp 0xFFFFFE: no extended field
        0x00, 0x00, 0x01, 0x08,  // length 1, audio
        0x01, 0x00, 0x00, 0x00,  // msid 1
        0x42,                    // payload
    };
    const auto o = decode_whole(ts_fffffe);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0], msg(4, 0xFFFFFE, message_type::audio, 1, {0x42}));
}

// ---------------------------------------------------------------------------------------------
// Set Chunk Size and Abort (5.4.1, 5.4.2).

constexpr std::array<std::uint8_t, 12> control_header_fmt0 = {
    0x02,                    // fmt 0, csid 2
    0x00, 0x00, 0x00,        // timestamp 0
    0x00, 0x00, 0x04,        // length 4
    0x01,                    // type 1: Set Chunk Size
    0x00, 0x00, 0x00, 0x00,  // msid 0
};
constexpr std::array<std::uint8_t, 16> set_chunk_size_64 = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,  // as above
    0x00, 0x00, 0x00, 0x40,                                                  // chunk size 64
};
constexpr std::array<std::uint8_t, 16> set_chunk_size_4096 = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,  // chunk size 4096
};
constexpr std::array<std::uint8_t, 16> abort_csid6 = {
    0x02, 0x00, 0x00, 0x00,  // fmt 0, csid 2, ts 0
    0x00, 0x00, 0x04, 0x02,  // length 4, type 2: Abort
    0x00, 0x00, 0x00, 0x00,  // msid 0
    0x00, 0x00, 0x00, 0x06,  // chunk stream id 6
};
constexpr std::array<std::uint8_t, 12> command_300_csid3 = {
    0x03, 0x00, 0x00, 0x00,  // fmt 0, csid 3, ts 0
    0x00, 0x01, 0x2C, 0x14,  // length 300, command AMF0
    0x00, 0x00, 0x00, 0x00,  // msid 0
};

TEST(chunk_decoder, set_chunk_size_applies_to_the_next_chunk) {
    const auto a = pattern(300);
    const auto in = concat({set_chunk_size_4096, command_300_csid3, a});
    chunk_decoder d;
    std::vector<message> out;
    error_code ec;
    EXPECT_EQ(d.chunk_size(), 128u);
    EXPECT_EQ(d.feed(in, out, ec), in.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(d.chunk_size(), 4096u);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].type(), message_type::set_chunk_size);
    EXPECT_EQ(to_decoded(out[1]), msg(3, 0, message_type::command_amf0, 0, a));
    expect_split_invariant(in);
}

TEST(chunk_decoder, set_chunk_size_in_the_middle_of_another_message) {
    // 200 octets on csid 6: 128 at the old size, then chunks of 64 and 8 at the new one.
    const auto a = pattern(200);
    const auto in = concat({interleave_first_6, slice(a, 0, 128), set_chunk_size_64, continue_6,
                            slice(a, 128, 64), continue_6, slice(a, 192, 8)});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0], msg(2, 0, message_type::set_chunk_size, 0, {0x00, 0x00, 0x00, 0x40}));
    EXPECT_EQ(o.messages[1], msg(6, 10, message_type::video, 1, a));
    expect_split_invariant(in);
}

TEST(chunk_decoder, abort_drops_the_partial_message) {
    const auto a = pattern(200);
    constexpr std::array<std::uint8_t, 15> after_abort = {
        0x06, 0x00, 0x00, 0x14,  // fmt 0, csid 6, ts 20
        0x00, 0x00, 0x03, 0x09,  // length 3, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
        0x17, 0x00, 0x00,        // payload
    };
    const auto in = concat({interleave_first_6, slice(a, 0, 128), abort_csid6, after_abort});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[0], msg(2, 0, message_type::abort, 0, {0x00, 0x00, 0x00, 0x06}));
    EXPECT_EQ(o.messages[1], msg(6, 20, message_type::video, 1, {0x17, 0x00, 0x00}));
    expect_split_invariant(in);
}

TEST(chunk_decoder, abort_frees_the_in_progress_slot) {
    // Two messages in progress allowed (the Abort itself takes one while it arrives): without
    // the abort freeing csid 6, starting csid 8 after csid 7 would be refused.
    constexpr std::array<std::uint8_t, 12> first_8 = {
        0x08, 0x00, 0x00, 0x0C,  // fmt 0, csid 8, ts 12
        0x00, 0x00, 0xC8, 0x09,  // length 200, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
    };
    const auto a = pattern(128);
    chunk_decoder_limits two;
    two.max_chunk_streams = 2;
    const auto with_abort =
        concat({interleave_first_6, a, abort_csid6, interleave_first_7, a, first_8, a});
    const auto o = decode_whole(with_abort, two);
    EXPECT_EQ(o.ec, error::need_more);
    EXPECT_EQ(o.messages.size(), 1u);
    expect_split_invariant(with_abort, two);
    const auto without = concat({interleave_first_6, a, interleave_first_7, a, first_8, a});
    EXPECT_EQ(decode_whole(without, two).ec, error::too_many_chunk_streams);
}

TEST(chunk_decoder, abort_of_an_idle_or_unknown_stream_changes_nothing) {
    constexpr std::array<std::uint8_t, 16> abort_csid9 = {
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,  // chunk stream id 9: never seen
    };
    const auto in = concat({video_ts1000, abort_csid9, abort_csid6, video_delta40});
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 4u);
    EXPECT_EQ(o.messages[3], msg(4, 1040, message_type::video, 1, {0x27, 0x01}));
}

// ---------------------------------------------------------------------------------------------
// A real capture: everything ffmpeg 5.1 sent after C2 while publishing a test source
// (tests/tools/capture_ffmpeg.py publish; cut after three audio and three video messages).

bytes read_data(const std::string& name) {
    std::ifstream file(std::string(RTMPGATE_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

struct expected_message {
    std::uint32_t chunk_stream_id;
    message_type type;
    std::uint32_t message_stream_id;
    std::uint32_t timestamp;
    std::size_t length;
};

TEST(chunk_decoder, ffmpeg51_publish_capture) {
    const auto in = read_data("ffmpeg51_publish.bin");
    ASSERT_EQ(in.size(), 3515u);
    const std::vector<expected_message> expected = {
        {3, message_type::command_amf0, 0, 0, 140},  // connect
        {3, message_type::command_amf0, 0, 0, 32},   // releaseStream
        {3, message_type::command_amf0, 0, 0, 28},   // FCPublish
        {3, message_type::command_amf0, 0, 0, 25},   // createStream
        {8, message_type::command_amf0, 1, 0, 33},   // publish
        {4, message_type::data_amf0, 1, 0, 309},     // @setDataFrame onMetaData
        {6, message_type::video, 1, 0, 52},          // AVC sequence header
        {4, message_type::audio, 1, 0, 7},           // AAC sequence header
        {6, message_type::video, 1, 0, 1944},        // keyframe, 16 chunks
        {6, message_type::video, 1, 100, 229},      {4, message_type::audio, 1, 177, 260},
        {6, message_type::video, 1, 200, 49},       {4, message_type::audio, 1, 200, 260},
    };
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::need_more);
    EXPECT_EQ(o.consumed, in.size());
    ASSERT_EQ(o.messages.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE(i);
        const auto& m = o.messages[i];
        EXPECT_EQ(m.chunk_stream_id, expected[i].chunk_stream_id);
        EXPECT_EQ(m.message_type_id, static_cast<std::uint8_t>(expected[i].type));
        EXPECT_EQ(m.message_stream_id, expected[i].message_stream_id);
        EXPECT_EQ(m.timestamp, expected[i].timestamp);
        EXPECT_EQ(m.payload.size(), expected[i].length);
    }
    // connect: AMF0 string "connect" first.
    constexpr std::array<std::uint8_t, 10> connect_name = {
        0x02, 0x00, 0x07, 'c', 'o', 'n', 'n', 'e', 'c', 't',
    };
    ASSERT_GE(o.messages[0].payload.size(), connect_name.size());
    EXPECT_TRUE(
        std::equal(connect_name.begin(), connect_name.end(), o.messages[0].payload.begin()));
    expect_split_invariant(in);
}

// ---------------------------------------------------------------------------------------------
// Feeding edge cases.

TEST(chunk_decoder, empty_feed_needs_more) {
    chunk_decoder d;
    std::vector<message> out;
    error_code ec;
    EXPECT_EQ(d.feed({}, out, ec), 0u);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(d.bytes_consumed(), 0u);
}

TEST(chunk_decoder, zero_length_message_completes_on_its_header) {
    constexpr std::array<std::uint8_t, 12> empty_data = {
        0x05, 0x00, 0x00, 0x07,  // fmt 0, csid 5, ts 7
        0x00, 0x00, 0x00, 0x12,  // length 0, data AMF0
        0x01, 0x00, 0x00, 0x00,  // msid 1
    };
    const auto o = decode_whole(empty_data);
    ASSERT_EQ(o.messages.size(), 1u);
    EXPECT_EQ(o.messages[0], msg(5, 7, message_type::data_amf0, 1, {}));
    expect_split_invariant(empty_data);
}

TEST(chunk_decoder, bytes_consumed_accumulates_across_feeds) {
    chunk_decoder d;
    std::vector<message> out;
    error_code ec;
    const auto in = concat({video_ts1000, video_delta40});
    EXPECT_EQ(d.feed(view(in).first(5), out, ec), 5u);
    EXPECT_EQ(d.feed(view(in).subspan(5), out, ec), in.size() - 5);
    EXPECT_EQ(d.bytes_consumed(), in.size());
    EXPECT_EQ(out.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Every error the decoder reports.

TEST(chunk_decoder, error_chunk_unknown_stream) {
    for (const std::uint8_t first : {0x43, 0x83, 0xC3}) {  // fmt 1, 2, 3 on csid 3, never seen
        const std::array<std::uint8_t, 12> in = {first, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0};
        const auto o = decode_whole(in);
        EXPECT_EQ(o.ec, error::chunk_unknown_stream) << int(first);
        EXPECT_EQ(o.consumed, 0u);
        expect_split_invariant(in);
    }
}

bytes set_chunk_size_of(std::uint32_t size) {
    bytes in(control_header_fmt0.begin(), control_header_fmt0.end());
    for (int shift = 24; shift >= 0; shift -= 8)
        in.push_back(static_cast<std::uint8_t>(size >> shift));
    return in;
}

TEST(chunk_decoder, error_chunk_size_invalid) {
    for (const std::uint32_t size : {0u, 0x80000000u, 0xFFFFFFFFu}) {
        const auto in = set_chunk_size_of(size);
        const auto o = decode_whole(in);
        EXPECT_EQ(o.ec, error::chunk_size_invalid) << size;
        EXPECT_EQ(o.messages.size(), 1u);  // delivered, then refused
        expect_split_invariant(in);
    }
}

TEST(chunk_decoder, error_chunk_size_too_large) {
    EXPECT_EQ(decode_whole(set_chunk_size_of((1u << 20) + 1)).ec, error::chunk_size_too_large);
    EXPECT_EQ(decode_whole(set_chunk_size_of(0x7FFFFFFF)).ec, error::chunk_size_too_large);
    EXPECT_EQ(decode_whole(set_chunk_size_of(1u << 20)).ec, error::need_more);  // the bound itself
    chunk_decoder_limits small;
    small.max_chunk_size = 4096;
    EXPECT_EQ(decode_whole(set_chunk_size_of(4097), small).ec, error::chunk_size_too_large);
    EXPECT_EQ(decode_whole(set_chunk_size_of(4096), small).ec, error::need_more);
}

TEST(chunk_decoder, error_control_message_malformed) {
    constexpr std::array<std::uint8_t, 14> short_set_chunk_size = {
        0x02, 0x00, 0x00, 0x00,  // fmt 0, csid 2, ts 0
        0x00, 0x00, 0x02, 0x01,  // length 2 (needs 4), Set Chunk Size
        0x00, 0x00, 0x00, 0x00,  // msid 0
        0x10, 0x00,
    };
    constexpr std::array<std::uint8_t, 12> empty_abort = {
        0x02, 0x00, 0x00, 0x00,  // fmt 0, csid 2, ts 0
        0x00, 0x00, 0x00, 0x02,  // length 0, Abort
        0x00, 0x00, 0x00, 0x00,  // msid 0
    };
    for (const view in : {view(short_set_chunk_size), view(empty_abort)}) {
        const auto o = decode_whole(in);
        EXPECT_EQ(o.ec, error::control_message_malformed);
        EXPECT_EQ(o.consumed, in.size());
        expect_split_invariant(in);
    }
}

TEST(chunk_decoder, error_message_too_long) {
    constexpr std::array<std::uint8_t, 12> length_8mib_plus_1 = {
        0x06, 0x00, 0x00, 0x00,  // fmt 0, csid 6, ts 0
        0x80, 0x00, 0x01, 0x09,  // length 0x800001, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
    };
    const auto o = decode_whole(length_8mib_plus_1);
    EXPECT_EQ(o.ec, error::message_too_long);
    expect_split_invariant(length_8mib_plus_1);

    chunk_decoder_limits small;
    small.max_message_length = 199;
    EXPECT_EQ(decode_whole(interleave_first_6, small).ec, error::message_too_long);  // 200
    small.max_message_length = 200;
    EXPECT_EQ(decode_whole(interleave_first_6, small).ec, error::need_more);
}

TEST(chunk_decoder, error_too_many_chunk_streams_in_progress) {
    constexpr std::array<std::uint8_t, 12> first_8 = {
        0x08, 0x00, 0x00, 0x0C,  // fmt 0, csid 8, ts 12
        0x00, 0x00, 0xC8, 0x09,  // length 200, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
    };
    const auto a = pattern(128);
    const auto in = concat({interleave_first_6, a, interleave_first_7, a, first_8, a});
    chunk_decoder_limits two;
    two.max_chunk_streams = 2;
    const auto o = decode_whole(in, two);
    EXPECT_EQ(o.ec, error::too_many_chunk_streams);
    EXPECT_EQ(o.consumed, 2 * (12 + 128) + 12u);
    expect_split_invariant(in, two);
    EXPECT_EQ(decode_whole(in).ec, error::need_more);  // the default allows 64
}

TEST(chunk_decoder, error_too_many_chunk_streams_known) {
    // Chunk streams are remembered even when idle; with one in progress allowed, 16 are known at
    // most. Zero-length messages on chunk streams 2, 3, ... 18.
    bytes in;
    for (std::uint8_t csid = 2; csid <= 18; ++csid) {
        const std::array<std::uint8_t, 12> empty = {
            csid, 0x00, 0x00, 0x00,  // fmt 0, ts 0
            0x00, 0x00, 0x00, 0x08,  // length 0, audio
            0x01, 0x00, 0x00, 0x00,  // msid 1
        };
        in.insert(in.end(), empty.begin(), empty.end());
    }
    chunk_decoder_limits one;
    one.max_chunk_streams = 1;
    const auto o = decode_whole(in, one);
    EXPECT_EQ(o.ec, error::too_many_chunk_streams);
    EXPECT_EQ(o.messages.size(), 16u);
    expect_split_invariant(in, one);
}

// ---------------------------------------------------------------------------------------------
// Bounds on partly received messages: counted on the octets that arrived, not on the lengths
// their headers declare (issue 11: 64 chunk streams, each 7 MiB into an 8 MiB message).

// A video message on chunk stream `csid` (3..63) declaring `declared` octets, of which the first
// `sent` follow at chunk size `chunk_size` (128 unless a Set Chunk Size came first).
bytes message_chunks(std::uint8_t csid, std::uint32_t declared, std::size_t sent,
                     std::size_t chunk_size = 128, std::uint8_t seed = 0x10) {
    const std::array<std::uint8_t, 12> header = {
        csid,  // fmt 0
        0x00,
        0x00,
        0x00,                                       // timestamp 0
        static_cast<std::uint8_t>(declared >> 16),  // message length (24 bits)
        static_cast<std::uint8_t>(declared >> 8),   //
        static_cast<std::uint8_t>(declared),        //
        0x09,                                       // video
        0x01,
        0x00,
        0x00,
        0x00,  // msid 1
    };
    const auto payload = pattern(sent, seed);
    bytes out(header.begin(), header.end());
    for (std::size_t at = 0; at < sent; at += chunk_size) {
        if (at != 0) out.push_back(static_cast<std::uint8_t>(0xC0 | csid));  // fmt 3
        const auto n = std::min(chunk_size, sent - at);
        out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(at),
                   payload.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    return out;
}

// Chunk streams 3, 4, ... each one chunk (128 octets) into an 8 MiB message.
bytes partial_on_many_streams(std::uint8_t streams) {
    bytes in;
    for (std::uint8_t i = 0; i < streams; ++i) {
        const auto one = message_chunks(static_cast<std::uint8_t>(3 + i), 8 << 20, 128);
        in.insert(in.end(), one.begin(), one.end());
    }
    return in;
}

TEST(chunk_decoder, partial_bytes_counted_as_they_arrive) {
    // 8 chunk streams declare 64 MiB together; 1024 octets of it arrive.
    const auto in = partial_on_many_streams(8);
    chunk_decoder_limits limits;
    limits.max_partial_bytes = 1024;
    chunk_decoder d(limits);
    std::vector<message> out;
    error_code ec;
    EXPECT_EQ(d.feed(in, out, ec), in.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(d.partial_bytes(), 1024u);
    expect_split_invariant(in, limits);

    limits.max_partial_bytes = 1023;
    EXPECT_EQ(decode_whole(in, limits).ec, error::partial_bytes_over_limit);
    expect_split_invariant(in, limits);
}

TEST(chunk_decoder, error_partial_bytes_over_limit_with_the_default) {
    // The default bound (10 MiB) on chunk streams 3 to 63, each 168 KiB into an 8 MiB message:
    // 60 of them fit (9.84 MiB), the 61st goes past.
    bytes in = concat({set_chunk_size_4096});
    for (std::uint8_t csid = 3; csid <= 63; ++csid) {
        const auto one = message_chunks(csid, 8 << 20, 168 << 10, 4096);
        in.insert(in.end(), one.begin(), one.end());
    }
    const auto o = decode_whole(in);
    EXPECT_EQ(o.ec, error::partial_bytes_over_limit);
    ASSERT_EQ(o.messages.size(), 1u);  // the Set Chunk Size
    EXPECT_GT(o.consumed, 60 * (168u << 10));
    EXPECT_LT(o.consumed, 61 * (169u << 10));
}

TEST(chunk_decoder, completed_and_aborted_messages_give_their_octets_back) {
    // interleaved_chunk_streams: at most 328 octets partly received at once (128 of csid 6 and
    // all 200 of csid 7 before it completes), 400 in all.
    const auto a = pattern(200, 0x11);
    const auto b = pattern(200, 0x53);
    const auto interleaved =
        concat({interleave_first_6, slice(a, 0, 128), interleave_first_7, slice(b, 0, 128),
                continue_7, slice(b, 128, 72), continue_6, slice(a, 128, 72)});
    chunk_decoder_limits limits;
    limits.max_partial_bytes = 328;
    const auto twice = concat({interleaved, interleaved});
    EXPECT_EQ(decode_whole(twice, limits).ec, error::need_more);
    expect_split_invariant(twice, limits);
    limits.max_partial_bytes = 327;
    EXPECT_EQ(decode_whole(interleaved, limits).ec, error::partial_bytes_over_limit);

    // An Abort (4 octets while it arrives) gives back the 128 octets of csid 6.
    const auto with_abort =
        concat({interleave_first_6, slice(a, 0, 128), abort_csid6, interleave_first_7,
                slice(b, 0, 128), continue_7, slice(b, 128, 72)});
    limits.max_partial_bytes = 200;
    const auto o = decode_whole(with_abort, limits);
    EXPECT_EQ(o.ec, error::need_more);
    ASSERT_EQ(o.messages.size(), 2u);
    EXPECT_EQ(o.messages[1], msg(7, 11, message_type::audio, 1, b));
    expect_split_invariant(with_abort, limits);
    const auto without = concat({interleave_first_6, slice(a, 0, 128), interleave_first_7,
                                 slice(b, 0, 128), continue_7, slice(b, 128, 72)});
    EXPECT_EQ(decode_whole(without, limits).ec, error::partial_bytes_over_limit);
}

TEST(chunk_decoder, large_message_grows_as_it_arrives) {
    // 3 MiB at chunk size 4096 grows its block from 64 KiB by doubling; the result is the same
    // whole, cut anywhere, and byte by byte. A bound of exactly its length lets it through.
    constexpr std::uint32_t length = 3 << 20;
    const auto in = concat({set_chunk_size_4096, message_chunks(5, length, length, 4096, 0x31)});
    chunk_decoder_limits limits;
    limits.max_partial_bytes = length;
    const auto whole = decode_whole(in, limits);
    EXPECT_EQ(whole.ec, error::need_more);
    ASSERT_EQ(whole.messages.size(), 2u);
    EXPECT_EQ(whole.messages[1], msg(5, 0, message_type::video, 1, pattern(length, 0x31)));
    for (const std::size_t cut : {16u, 17u, 30u, 4200u, 65536u, 70000u, 1u << 20, 3u << 20})
        ASSERT_EQ(decode_cut(in, {cut}, limits), whole) << "cut at " << cut;
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
    ASSERT_EQ(decode_cut(in, every, limits), whole);
    limits.max_partial_bytes = length - 1;
    EXPECT_EQ(decode_whole(in, limits).ec, error::partial_bytes_over_limit);
}

TEST(chunk_decoder, shared_budget_taken_in_steps_and_given_back) {
    constexpr auto step = chunk_decoder::partial_step;
    byte_budget budget(3 * step);
    std::vector<message> out;
    error_code ec;
    {
        chunk_decoder first({}, &budget);
        const auto in = message_chunks(6, 1 << 20, 100 << 10);
        EXPECT_EQ(first.feed(in, out, ec), in.size());
        EXPECT_EQ(ec, error::need_more);
        EXPECT_EQ(first.partial_bytes(), 100u << 10);
        EXPECT_EQ(budget.used(), 2 * step);  // 100 KiB rounded up to steps of 64 KiB

        chunk_decoder second({}, &budget);
        const auto fits = message_chunks(6, 1 << 20, step);
        second.feed(fits, out, ec);
        EXPECT_EQ(ec, error::need_more);
        EXPECT_EQ(budget.used(), 3 * step);
        constexpr std::array<std::uint8_t, 2> one_more = {0xC6, 0x00};  // fmt 3, csid 6, 1 octet
        second.feed(one_more, out, ec);
        EXPECT_EQ(ec, error::partial_bytes_over_budget);
        EXPECT_EQ(budget.used(), 3 * step);
        EXPECT_EQ(second.partial_bytes(), step);
    }
    EXPECT_EQ(budget.used(), 0u);  // both destroyed

    // A message that completes gives back what it took; so does one dropped.
    chunk_decoder third({}, &budget);
    const auto whole = message_chunks(6, 150 << 10, 150 << 10);
    third.feed(whole, out, ec);
    EXPECT_EQ(ec, error::need_more);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back().payload.size(), 150u << 10);
    EXPECT_EQ(third.partial_bytes(), 0u);
    EXPECT_EQ(budget.used(), 0u);
    third.feed(message_chunks(7, 150 << 10, 1000), out, ec);
    EXPECT_EQ(budget.used(), step);
    third.drop_partial();
    EXPECT_EQ(third.partial_bytes(), 0u);
    EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace rtmpgate::protocol
