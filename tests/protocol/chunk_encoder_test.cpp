#include "protocol/chunk_encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/chunk_decoder.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;
using view = std::span<const std::uint8_t>;

bytes concat(std::initializer_list<view> parts) {
    bytes out;
    for (const auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes pattern(std::size_t n, std::uint8_t seed = 0x10) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(seed + i * 7);
    return out;
}

view slice(const bytes& b, std::size_t offset, std::size_t n) { return view(b).subspan(offset, n); }

message make(std::uint32_t csid, std::uint32_t ts, message_type type, std::uint32_t msid,
             bytes payload) {
    message m;
    m.chunk_stream_id = csid;
    m.timestamp = ts;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = msid;
    m.payload = shared_bytes(std::move(payload));
    return m;
}

bytes encode_one(chunk_encoder& e, const message& m) {
    bytes out;
    e.encode(m, out);
    return out;
}

bytes to_bytes(view v) { return {v.begin(), v.end()}; }

// Rebuilds the wire bytes from encode_gather's pieces.
bytes flatten(const bytes& headers, const std::vector<gather_piece>& pieces) {
    bytes out;
    for (const auto& p : pieces) {
        if (p.payload == nullptr) {
            const auto h = view(headers).subspan(p.header_offset, p.length);
            out.insert(out.end(), h.begin(), h.end());
        } else {
            out.insert(out.end(), p.payload, p.payload + p.length);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Header format choice (spec 5.3.1.2), on annotated vectors.

constexpr std::array<std::uint8_t, 12> video_ts1000_header = {
    0x04,                    // fmt 0, csid 4: first message on the chunk stream
    0x00, 0x03, 0xE8,        // timestamp 1000
    0x00, 0x00, 0x02,        // length 2
    0x09,                    // video
    0x01, 0x00, 0x00, 0x00,  // msid 1 (little-endian)
};
constexpr std::array<std::uint8_t, 4> delta40_header = {
    0x84,              // fmt 2, csid 4: same length, type and stream; delta not yet known
    0x00, 0x00, 0x28,  // delta 40
};
constexpr std::array<std::uint8_t, 1> repeat_header = {
    0xC4,  // fmt 3, csid 4: delta 40 again
};
constexpr std::array<std::uint8_t, 8> audio_delta20_header = {
    0x44,              // fmt 1, csid 4: new length and type
    0x00, 0x00, 0x14,  // delta 20
    0x00, 0x00, 0x03,  // length 3
    0x08,              // audio
};
constexpr std::array<std::uint8_t, 4> delta20_header = {
    0x84,              // fmt 2, csid 4: after a fmt 0 no delta is known to repeat
    0x00, 0x00, 0x14,  // delta 20
};
constexpr std::array<std::uint8_t, 12> audio_other_stream_header = {
    0x04,                    // fmt 0: another message stream
    0x00, 0x04, 0x4C,        // timestamp 1100
    0x00, 0x00, 0x03,        // length 3
    0x08,                    // audio
    0x02, 0x00, 0x00, 0x00,  // msid 2
};
constexpr std::array<std::uint8_t, 12> audio_back_in_time_header = {
    0x04,                    // fmt 0: the timestamp went back (deltas are unsigned)
    0x00, 0x03, 0xE8,        // timestamp 1000
    0x00, 0x00, 0x03,        // length 3
    0x08,                    // audio
    0x02, 0x00, 0x00, 0x00,  // msid 2
};

TEST(chunk_encoder, smallest_header_format) {
    chunk_encoder e;
    const bytes v1 = {0x17, 0x01}, v2 = {0x27, 0x01}, v3 = {0x27, 0x02};
    const bytes a1 = {0xAF, 0x01, 0x21}, a2 = {0xAF, 0x01, 0x22};
    EXPECT_EQ(encode_one(e, make(4, 1000, message_type::video, 1, v1)),
              concat({video_ts1000_header, v1}));
    EXPECT_EQ(encode_one(e, make(4, 1040, message_type::video, 1, v2)),
              concat({delta40_header, v2}));
    EXPECT_EQ(encode_one(e, make(4, 1080, message_type::video, 1, v3)),
              concat({repeat_header, v3}));
    EXPECT_EQ(encode_one(e, make(4, 1100, message_type::audio, 1, a1)),
              concat({audio_delta20_header, a1}));
    EXPECT_EQ(encode_one(e, make(4, 1120, message_type::audio, 1, a2)),
              concat({repeat_header, a2}));
    EXPECT_EQ(encode_one(e, make(4, 1100, message_type::audio, 2, a1)),
              concat({audio_other_stream_header, a1}));
    EXPECT_EQ(encode_one(e, make(4, 1000, message_type::audio, 2, a2)),
              concat({audio_back_in_time_header, a2}));
    // After a fmt 0 the next same-shaped message gets a fmt 2, never a fmt 3 (nginx-rtmp would
    // repeat a delta of 0 where ffmpeg repeats the fmt 0's timestamp).
    EXPECT_EQ(encode_one(e, make(4, 1020, message_type::audio, 2, a1)),
              concat({delta20_header, a1}));
}

TEST(chunk_encoder, basic_header_forms) {
    struct form {
        std::uint32_t csid;
        bytes basic_header;
    };
    const std::vector<form> forms = {
        {2, {0x02}},                  // one octet
        {63, {0x3F}},                 // one octet, highest
        {64, {0x00, 0x00}},           // marker 0, id - 64 = 0
        {319, {0x00, 0xFF}},          // marker 0, id - 64 = 255
        {320, {0x01, 0x00, 0x01}},    // marker 1, id - 64 = 256 little-endian
        {65599, {0x01, 0xFF, 0xFF}},  // marker 1, id - 64 = 65535
    };
    for (const auto& f : forms) {
        chunk_encoder e;
        // 130 octets: two chunks, so the format-3 continuation header shows the form too.
        const auto payload = pattern(130);
        const auto out = encode_one(e, make(f.csid, 0, message_type::video, 1, payload));
        const auto n = f.basic_header.size();
        ASSERT_EQ(out.size(), n + 11 + 128 + n + 2) << f.csid;
        EXPECT_EQ(to_bytes(view(out).first(n)), f.basic_header) << f.csid;
        auto continuation = f.basic_header;
        continuation[0] |= 0xC0;  // fmt 3
        EXPECT_EQ(to_bytes(view(out).subspan(n + 11 + 128, n)), continuation) << f.csid;
    }
}

// ---------------------------------------------------------------------------------------------
// Extended timestamps (5.3.1.3): on the first chunk and repeated on every continuation, as
// ffmpeg, librtmp and nginx-rtmp read them.

constexpr std::array<std::uint8_t, 16> ext_header = {
    0x05,                    // fmt 0, csid 5
    0xFF, 0xFF, 0xFF,        // extended marker
    0x00, 0x00, 0xC8,        // length 200
    0x09,                    // video
    0x01, 0x00, 0x00, 0x00,  // msid 1
    0x01, 0x00, 0x00, 0x00,  // extended timestamp 0x01000000
};
constexpr std::array<std::uint8_t, 5> ext_continuation = {
    0xC5,                    // fmt 3, csid 5
    0x01, 0x00, 0x00, 0x00,  // extended timestamp again
};

TEST(chunk_encoder, extended_timestamp_on_every_chunk) {
    chunk_encoder e;
    const auto a = pattern(200);
    EXPECT_EQ(encode_one(e, make(5, 0x01000000, message_type::video, 1, a)),
              concat({ext_header, slice(a, 0, 128), ext_continuation, slice(a, 128, 72)}));
}

TEST(chunk_encoder, timestamp_0xffffff_is_extended) {
    chunk_encoder e;
    constexpr std::array<std::uint8_t, 17> expected = {
        0x05, 0xFF, 0xFF, 0xFF,  // fmt 0, csid 5, marker
        0x00, 0x00, 0x01, 0x08,  // length 1, audio
        0x01, 0x00, 0x00, 0x00,  // msid 1
        0x00, 0xFF, 0xFF, 0xFF,  // extended timestamp 0xFFFFFF
        0x42,                    // payload
    };
    EXPECT_EQ(encode_one(e, make(5, 0xFFFFFF, message_type::audio, 1, {0x42})), to_bytes(expected));
}

TEST(chunk_encoder, extended_delta_and_its_repetition) {
    chunk_encoder e;
    encode_one(e, make(5, 0, message_type::audio, 1, {0x01}));
    constexpr std::array<std::uint8_t, 9> fmt2_ext = {
        0x85,                    // fmt 2, csid 5
        0xFF, 0xFF, 0xFF,        // marker
        0x01, 0x00, 0x00, 0x00,  // extended delta 0x01000000
        0x02,                    // payload
    };
    EXPECT_EQ(encode_one(e, make(5, 0x01000000, message_type::audio, 1, {0x02})),
              to_bytes(fmt2_ext));
    constexpr std::array<std::uint8_t, 6> fmt3_ext = {
        0xC5,                    // fmt 3, csid 5: the extended delta is repeated
        0x01, 0x00, 0x00, 0x00,  // extended field follows the fmt 3 header too
        0x03,                    // payload
    };
    EXPECT_EQ(encode_one(e, make(5, 0x02000000, message_type::audio, 1, {0x03})),
              to_bytes(fmt3_ext));
}

TEST(chunk_encoder, empty_payload_is_a_header_alone) {
    chunk_encoder e;
    constexpr std::array<std::uint8_t, 12> expected = {
        0x03, 0x00, 0x00, 0x00,  // fmt 0, csid 3, ts 0
        0x00, 0x00, 0x00, 0x12,  // length 0, data AMF0
        0x00, 0x00, 0x00, 0x00,  // msid 0
    };
    EXPECT_EQ(encode_one(e, make(3, 0, message_type::data_amf0, 0, {})), to_bytes(expected));
    bytes headers;
    std::vector<gather_piece> pieces;
    e.encode_gather(make(3, 0, message_type::data_amf0, 0, {}), headers, pieces);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].payload, nullptr);
}

TEST(chunk_encoder, set_chunk_size_clamps_to_the_spec_range) {
    chunk_encoder e;
    EXPECT_EQ(e.chunk_size(), 128u);
    e.set_chunk_size(4096);
    EXPECT_EQ(e.chunk_size(), 4096u);
    e.set_chunk_size(0);
    EXPECT_EQ(e.chunk_size(), 1u);
    e.set_chunk_size(0x80000000u);
    EXPECT_EQ(e.chunk_size(), 0x7FFFFFFFu);
}

TEST(chunk_encoder, chunks_at_the_set_size) {
    chunk_encoder e;
    e.set_chunk_size(100);
    const auto a = pattern(250);
    constexpr std::array<std::uint8_t, 12> header = {
        0x06, 0x00, 0x00, 0x00,  // fmt 0, csid 6, ts 0
        0x00, 0x00, 0xFA, 0x09,  // length 250, video
        0x01, 0x00, 0x00, 0x00,  // msid 1
    };
    constexpr std::array<std::uint8_t, 1> continuation = {0xC6};  // fmt 3, csid 6
    EXPECT_EQ(encode_one(e, make(6, 0, message_type::video, 1, a)),
              concat({header, slice(a, 0, 100), continuation, slice(a, 100, 100), continuation,
                      slice(a, 200, 50)}));
}

// Set Chunk Size 2 as the encoder writes it at the initial chunk size, 128: one chunk.
constexpr std::array<std::uint8_t, 16> set_chunk_size_2 = {
    0x02,                    // fmt 0, csid 2
    0x00, 0x00, 0x00,        // timestamp 0
    0x00, 0x00, 0x04,        // length 4
    0x01,                    // Set Chunk Size
    0x00, 0x00, 0x00, 0x00,  // msid 0
    0x00, 0x00, 0x00, 0x02,  // chunk size 2
};
constexpr std::array<std::uint8_t, 12> video_5_header = {
    0x06, 0x00, 0x00, 0x00,  // fmt 0, csid 6, ts 0
    0x00, 0x00, 0x05, 0x09,  // length 5, video
    0x01, 0x00, 0x00, 0x00,  // msid 1
};
constexpr std::array<std::uint8_t, 1> csid6_continuation = {0xC6};  // fmt 3, csid 6

TEST(chunk_encoder, own_set_chunk_size_applies_to_the_chunks_after_it) {
    const auto a = pattern(5);
    const auto expected =
        concat({set_chunk_size_2, video_5_header, slice(a, 0, 2), csid6_continuation,
                slice(a, 2, 2), csid6_continuation, slice(a, 4, 1)});
    // Kept alive: the gathered pieces point into their payloads.
    const message set_chunk_size = make_set_chunk_size(2);
    const message video = make(6, 0, message_type::video, 1, a);

    chunk_encoder copying;
    bytes wire;
    copying.encode(set_chunk_size, wire);
    EXPECT_EQ(copying.chunk_size(), 2u);
    copying.encode(video, wire);
    EXPECT_EQ(wire, expected);

    chunk_encoder gathering;
    bytes headers;
    std::vector<gather_piece> pieces;
    gathering.encode_gather(set_chunk_size, headers, pieces);
    EXPECT_EQ(gathering.chunk_size(), 2u);
    gathering.encode_gather(video, headers, pieces);
    EXPECT_EQ(flatten(headers, pieces), expected);
}

TEST(chunk_encoder, invalid_own_set_chunk_size_changes_nothing) {
    for (const bytes& body : {bytes{0x00, 0x00, 0x00, 0x00}, bytes{0x80, 0x00, 0x00, 0x00},
                              bytes{0x00, 0x10}}) {  // size 0, top bit set, too short
        chunk_encoder e;
        bytes wire;
        e.encode(make(2, 0, message_type::set_chunk_size, 0, body), wire);
        EXPECT_EQ(e.chunk_size(), 128u);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips through chunk_decoder, and encode_gather against encode.

// Messages of 0..200000 octets on several chunk streams (all three basic header forms), with
// repeated and changing deltas, another message stream, a timestamp going back, and extended
// timestamps, so that every header format occurs.
std::vector<message> round_trip_messages() {
    const std::vector<std::size_t> sizes = {0,    1,    2,     3,     4,     5,      127,
                                            128,  129,  255,   256,   257,   4095,   4096,
                                            4097, 8192, 65535, 65536, 65537, 131072, 200000};
    const std::array<std::uint32_t, 7> csids = {3, 4, 6, 64, 319, 320, 65599};
    std::vector<message> out;
    std::uint32_t ts = 0;
    std::uint32_t step = 0;
    for (std::size_t i = 0; i < sizes.size() * 3; ++i) {
        const auto size = sizes[(i * 5) % sizes.size()];
        const auto csid = csids[i % csids.size()];
        // Deltas repeat in runs of three, sometimes jump past the 24-bit field.
        if (i % 3 == 0) step = (i % 9 == 0) ? 0x01000000u + static_cast<std::uint32_t>(i) : 40;
        ts += step;
        const auto type = (i % 2) ? message_type::video : message_type::audio;
        const std::uint32_t msid = (i % 11 == 10) ? 2 : 1;
        const auto m_ts = (i % 13 == 12) ? ts - 500 : ts;  // now and then back in time
        out.push_back(make(csid, m_ts, type, msid, pattern(size, static_cast<std::uint8_t>(i))));
        // The same message again on the same chunk stream: fmt 3 or fmt 2 headers.
        out.push_back(
            make(csid, m_ts + 40, type, msid, pattern(size, static_cast<std::uint8_t>(i + 1))));
        out.push_back(
            make(csid, m_ts + 80, type, msid, pattern(size, static_cast<std::uint8_t>(i + 2))));
    }
    return out;
}

void expect_same_message(const message& got, const message& want) {
    EXPECT_EQ(got.chunk_stream_id, want.chunk_stream_id);
    EXPECT_EQ(got.timestamp, want.timestamp);
    EXPECT_EQ(got.message_type_id, want.message_type_id);
    EXPECT_EQ(got.message_stream_id, want.message_stream_id);
    ASSERT_EQ(got.payload.size(), want.payload.size());
    EXPECT_TRUE(std::equal(got.payload.span().begin(), got.payload.span().end(),
                           want.payload.span().begin()));
}

// Feeds `wire` in pieces whose sizes come from a fixed pseudo-random sequence.
std::vector<message> decode_in_pieces(view wire, std::uint32_t seed, std::size_t max_piece) {
    chunk_decoder d;
    std::vector<message> out;
    error_code ec;
    std::size_t pos = 0;
    std::uint32_t x = seed;
    while (pos < wire.size()) {
        x = x * 1664525u + 1013904223u;
        const auto n = std::min<std::size_t>(wire.size() - pos, 1 + (x >> 8) % max_piece);
        EXPECT_EQ(d.feed(wire.subspan(pos, n), out, ec), n);
        EXPECT_EQ(ec, error::need_more);
        if (ec != error::need_more) break;
        pos += n;
    }
    return out;
}

TEST(chunk_encoder, round_trip_through_decoder) {
    const auto messages = round_trip_messages();
    for (const std::uint32_t chunk_size : {128u, 4096u, 65536u}) {
        SCOPED_TRACE(chunk_size);
        chunk_encoder e;
        bytes wire;
        e.encode(make_set_chunk_size(chunk_size), wire);  // sent at the old size, as a peer must
        for (const auto& m : messages) e.encode(m, wire);

        for (const auto& [seed, max_piece] :
             {std::pair<std::uint32_t, std::size_t>{0, 0}, {1, 7}, {2, 300}, {3, 70000}}) {
            SCOPED_TRACE(seed);
            std::vector<message> got;
            if (max_piece == 0) {
                chunk_decoder d;
                error_code ec;
                EXPECT_EQ(d.feed(wire, got, ec), wire.size());
                EXPECT_EQ(ec, error::need_more);
                EXPECT_EQ(d.chunk_size(), chunk_size);
            } else {
                got = decode_in_pieces(wire, seed, max_piece);
            }
            ASSERT_EQ(got.size(), messages.size() + 1);
            EXPECT_EQ(got[0].type(), message_type::set_chunk_size);
            for (std::size_t i = 0; i < messages.size(); ++i) {
                SCOPED_TRACE(i);
                expect_same_message(got[i + 1], messages[i]);
            }
        }
    }
}

TEST(chunk_encoder, encode_gather_gives_the_same_bytes_as_encode) {
    const auto messages = round_trip_messages();
    for (const std::uint32_t chunk_size : {1u, 128u, 4096u, 65536u}) {
        SCOPED_TRACE(chunk_size);
        chunk_encoder copying;
        chunk_encoder gathering;
        copying.set_chunk_size(chunk_size);
        gathering.set_chunk_size(chunk_size);
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const auto& m = messages[i];
            if (chunk_size == 1 && m.payload.size() > 5000) continue;  // keep it quick
            bytes expected;
            copying.encode(m, expected);
            bytes headers = {0xEE};  // something already there: offsets must account for it
            std::vector<gather_piece> pieces;
            gathering.encode_gather(m, headers, pieces);
            ASSERT_EQ(flatten(headers, pieces), expected) << i;
            // Payload pieces point into the message's own payload: no copy.
            for (const auto& p : pieces) {
                if (p.payload == nullptr) continue;
                EXPECT_GE(p.payload, m.payload.data());
                EXPECT_LE(p.payload + p.length, m.payload.data() + m.payload.size());
            }
        }
    }
}

TEST(chunk_encoder, encode_appends_to_what_is_there) {
    chunk_encoder e;
    bytes out = {0xAB, 0xCD};
    e.encode(make(3, 0, message_type::audio, 1, {0x01}), out);
    ASSERT_EQ(out.size(), 2u + 12 + 1);
    EXPECT_EQ(out[0], 0xAB);
    EXPECT_EQ(out[2], 0x03);  // fmt 0, csid 3
}

}  // namespace
}  // namespace rtmpgate::protocol
