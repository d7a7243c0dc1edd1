#include "protocol/handshake.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/byte_reader.hpp"

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;
using view = std::span<const std::uint8_t>;
using digest = std::array<std::uint8_t, 32>;

constexpr std::size_t packet_size = 1536;

// ---------------------------------------------------------------------------------------------
// An independent reference of the digest handshake (written from ffmpeg's rtmpproto.c and
// librtmp's handshake.h layouts), used to check what the codec produces.

constexpr std::array<std::uint8_t, 32> key_tail = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
};
constexpr std::string_view player_text = "Genuine Adobe Flash Player 001";        // 30 octets
constexpr std::string_view server_text = "Genuine Adobe Flash Media Server 001";  // 36 octets

bytes text_key(std::string_view text) { return {text.begin(), text.end()}; }

bytes whole_key(std::string_view text) {
    bytes key = text_key(text);
    key.insert(key.end(), key_tail.begin(), key_tail.end());
    return key;
}

digest hmac(view key, view data) {
    digest out{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
         out.data(), &length);
    EXPECT_EQ(length, 32u);
    return out;
}

std::size_t digest_position(view packet, handshake_scheme scheme) {
    const std::size_t base = scheme == handshake_scheme::digest_first ? 8 : 772;
    std::size_t sum = 0;
    for (std::size_t i = 0; i < 4; ++i) sum += packet[base + i];
    return sum % 728 + base + 4;
}

digest digest_at(view packet, std::size_t position) {
    digest out{};
    std::copy_n(packet.begin() + static_cast<std::ptrdiff_t>(position), out.size(), out.begin());
    return out;
}

digest packet_digest(view packet, std::size_t position, std::string_view text) {
    bytes rest(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(position));
    rest.insert(rest.end(), packet.begin() + static_cast<std::ptrdiff_t>(position + 32),
                packet.end());
    return hmac(text_key(text), rest);
}

// Does C1/S1 `packet` carry a digest keyed with `text` in `scheme`?
bool c1s1_verifies(view packet, handshake_scheme scheme, std::string_view text) {
    const std::size_t position = digest_position(packet, scheme);
    return packet_digest(packet, position, text) == digest_at(packet, position);
}

digest c1s1_digest(view packet, handshake_scheme scheme) {
    return digest_at(packet, digest_position(packet, scheme));
}

// Does C2/S2 `packet` end with HMAC(HMAC(whole key, peer digest), first 1504 octets)?
bool response_verifies(view packet, std::string_view text, const digest& peer_digest) {
    const digest key = hmac(whole_key(text), peer_digest);
    return hmac(key, packet.first(packet_size - 32)) == digest_at(packet, packet_size - 32);
}

void imprint(bytes& packet, handshake_scheme scheme, std::string_view text) {
    const std::size_t position = digest_position(packet, scheme);
    const digest value = packet_digest(packet, position, text);
    std::copy(value.begin(), value.end(), packet.begin() + static_cast<std::ptrdiff_t>(position));
}

// ---------------------------------------------------------------------------------------------
// Wire vectors

constexpr std::array<std::uint8_t, 9> simple_c0c1_head = {
    0x03,                    // C0: RTMP version 3
    0x00, 0x00, 0x12, 0x34,  // C1 time
    0x00, 0x00, 0x00, 0x00,  // C1 zero: simple handshake
};                           // then 1528 octets of pattern

constexpr std::array<std::uint8_t, 9> digest_c0c1_head = {
    0x03,                    // C0: RTMP version 3
    0x00, 0x00, 0x00, 0x00,  // C1 time (ffmpeg sends 0)
    0x09, 0x00, 0x7C, 0x02,  // C1 version: Flash Player 9.0.124.2
};                           // then 1528 octets of pattern with a digest imprinted

constexpr std::array<std::uint8_t, 14> connect_chunk_head = {
    0x03,                    // basic header: fmt 0, chunk stream id 3
    0x00, 0x00, 0x00,        // timestamp
    0x00, 0x00, 0x9E,        // message length 158
    0x14,                    // message type id 20: AMF0 command
    0x00, 0x00, 0x00, 0x00,  // message stream id 0 (little-endian)
    0x02, 0x00,              // AMF0 string marker, length high octet ("connect" follows)
};

constexpr std::uint32_t server_epoch = 0x01020304;
constexpr std::uint32_t client_epoch = 0x0A0B0C0D;

bytes with_pattern(view head, std::uint8_t seed) {
    bytes packet(head.begin(), head.end());
    for (std::size_t i = 0; packet.size() < 1 + packet_size; ++i)
        packet.push_back(static_cast<std::uint8_t>(i * 131 + seed * 7 + (i >> 8)));
    return packet;
}

// C0C1 with a digest imprinted in `scheme`, as Flash Player / ffmpeg / librtmp make it.
bytes digest_c0c1(handshake_scheme scheme, std::uint8_t seed = 1) {
    bytes c0c1 = with_pattern(digest_c0c1_head, seed);
    bytes c1(c0c1.begin() + 1, c0c1.end());
    imprint(c1, scheme, player_text);
    std::copy(c1.begin(), c1.end(), c0c1.begin() + 1);
    return c0c1;
}

bytes connect_chunk() {
    bytes chunk(connect_chunk_head.begin(), connect_chunk_head.end());
    const std::string_view rest =
        "\x07"
        "connect";
    chunk.insert(chunk.end(), rest.begin(), rest.end());
    return chunk;
}

view s1_of(view s0s1s2) { return s0s1s2.subspan(1, packet_size); }
view s2_of(view s0s1s2) { return s0s1s2.subspan(1 + packet_size, packet_size); }
view c1_of(view c0c1) { return c0c1.subspan(1, packet_size); }

std::uint32_t field(view packet, std::size_t offset) {
    byte_reader reader(packet);
    std::uint32_t value = 0;
    EXPECT_TRUE(reader.skip(offset) && reader.read_u32be(value));
    return value;
}

bytes load(const std::string& name) {
    std::ifstream file(std::string(RTMPGATE_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// ---------------------------------------------------------------------------------------------
// Feeding in pieces, as a connection would: unconsumed octets stay queued; once done() they are
// what the chunk decoder gets.

using cutter = std::function<std::vector<view>(view)>;

std::vector<view> whole(view in) { return {in}; }

cutter split_at(std::size_t k) {
    return [k](view in) { return std::vector<view>{in.first(k), in.subspan(k)}; };
}

std::vector<view> byte_by_byte(view in) {
    std::vector<view> pieces;
    for (std::size_t i = 0; i < in.size(); ++i) pieces.push_back(in.subspan(i, 1));
    return pieces;
}

struct fed {
    bytes out;
    bytes left;  // octets not consumed
    error_code ec;
};

template <typename Machine>
fed feed_pieces(Machine& machine, view in, const cutter& cut) {
    fed result;
    for (const view piece : cut(in)) {
        result.left.insert(result.left.end(), piece.begin(), piece.end());
        if (machine.done() || (result.ec && result.ec != error::need_more)) continue;
        const std::size_t used = machine.feed(result.left, result.out, result.ec);
        if (result.ec == error::need_more) {
            EXPECT_EQ(used, result.left.size());
        }
        result.left.erase(result.left.begin(),
                          result.left.begin() + static_cast<std::ptrdiff_t>(used));
    }
    return result;
}

struct conversation {
    bytes c0c1, s0s1s2, c2, left_at_server;
    error_code client_ec, server_ec;
    handshake_scheme server_scheme = handshake_scheme::simple;
    handshake_scheme client_scheme = handshake_scheme::simple;
    bool client_done = false, server_done = false;
};

// Client and server in one process: C0C1 to the server, S0S1S2 to the client, C2 followed by a
// pipelined connect chunk to the server, each cut by its own cutter.
conversation converse(bool client_digest, const cutter& c0c1_cut, const cutter& s0s1s2_cut,
                      const cutter& c2_cut) {
    conversation talk;
    handshake_client client(client_digest, client_epoch);
    handshake_server server(server_epoch);
    client.start(talk.c0c1);

    fed to_server = feed_pieces(server, talk.c0c1, c0c1_cut);
    EXPECT_EQ(to_server.ec, error::need_more);
    EXPECT_TRUE(to_server.left.empty());
    talk.s0s1s2 = to_server.out;

    const fed to_client = feed_pieces(client, talk.s0s1s2, s0s1s2_cut);
    EXPECT_TRUE(to_client.left.empty());
    talk.c2 = to_client.out;
    talk.client_ec = to_client.ec;

    bytes c2_and_connect = talk.c2;
    const bytes connect = connect_chunk();
    c2_and_connect.insert(c2_and_connect.end(), connect.begin(), connect.end());
    to_server = feed_pieces(server, c2_and_connect, c2_cut);
    EXPECT_TRUE(to_server.out.empty());
    talk.left_at_server = to_server.left;
    talk.server_ec = to_server.ec;

    talk.server_scheme = server.scheme();
    talk.client_scheme = client.scheme();
    talk.client_done = client.done();
    talk.server_done = server.done();
    return talk;
}

void expect_complete(const conversation& talk, bool client_digest) {
    const auto scheme = client_digest ? handshake_scheme::digest_first : handshake_scheme::simple;
    EXPECT_EQ(talk.server_scheme, scheme);
    EXPECT_EQ(talk.client_scheme, scheme);
    EXPECT_FALSE(talk.client_ec);
    EXPECT_FALSE(talk.server_ec);
    EXPECT_TRUE(talk.client_done);
    EXPECT_TRUE(talk.server_done);
    EXPECT_EQ(talk.left_at_server, connect_chunk());

    ASSERT_EQ(talk.c0c1.size(), 1 + packet_size);
    ASSERT_EQ(talk.s0s1s2.size(), 1 + 2 * packet_size);
    ASSERT_EQ(talk.c2.size(), packet_size);
    const view c1 = c1_of(talk.c0c1), s1 = s1_of(talk.s0s1s2), s2 = s2_of(talk.s0s1s2);
    EXPECT_EQ(talk.s0s1s2[0], 3);
    EXPECT_EQ(field(c1, 0), client_epoch);
    EXPECT_EQ(field(s1, 0), server_epoch);
    if (!client_digest) {
        EXPECT_EQ(field(s1, 4), 0u);
        EXPECT_TRUE(std::ranges::equal(s2, c1));
        EXPECT_TRUE(std::ranges::equal(talk.c2, s1));
        return;
    }
    const auto c1_digest = c1s1_digest(c1, scheme);
    const auto s1_digest = c1s1_digest(s1, scheme);
    EXPECT_TRUE(c1s1_verifies(c1, scheme, player_text));
    EXPECT_TRUE(c1s1_verifies(s1, scheme, server_text));
    EXPECT_TRUE(response_verifies(s2, server_text, c1_digest));
    EXPECT_TRUE(response_verifies(talk.c2, player_text, s1_digest));
}

// ---------------------------------------------------------------------------------------------
// Server

TEST(HandshakeServer, SimpleC0C1GetsS1AndAnExactEchoOfC1) {
    const bytes c0c1 = with_pattern(simple_c0c1_head, 3);
    handshake_server server(server_epoch);
    bytes out;
    error_code ec;
    EXPECT_EQ(server.feed(c0c1, out, ec), c0c1.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_FALSE(server.done());
    EXPECT_EQ(server.scheme(), handshake_scheme::simple);

    ASSERT_EQ(out.size(), 1 + 2 * packet_size);
    EXPECT_EQ(out[0], 3);                                      // S0
    EXPECT_EQ(field(s1_of(out), 0), server_epoch);             // S1 time: the epoch given
    EXPECT_EQ(field(s1_of(out), 4), 0u);                       // S1 zero
    EXPECT_TRUE(std::ranges::equal(s2_of(out), c1_of(c0c1)));  // S2: time, time2, random of C1

    const bytes c2(packet_size, 0xC2);
    out.clear();
    EXPECT_EQ(server.feed(c2, out, ec), packet_size);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(server.done());
    EXPECT_TRUE(out.empty());
}

class HandshakeServerDigest : public testing::TestWithParam<handshake_scheme> {};

TEST_P(HandshakeServerDigest, AnswersInTheClientsSchemeWithVerifiableS1AndS2) {
    const handshake_scheme scheme = GetParam();
    const bytes c0c1 = digest_c0c1(scheme);
    ASSERT_TRUE(c1s1_verifies(c1_of(c0c1), scheme, player_text));  // the vector itself

    handshake_server server(server_epoch);
    bytes out;
    error_code ec;
    EXPECT_EQ(server.feed(c0c1, out, ec), c0c1.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(server.scheme(), scheme);
    ASSERT_EQ(out.size(), 1 + 2 * packet_size);
    EXPECT_EQ(out[0], 3);
    const view s1 = s1_of(out), s2 = s2_of(out);
    EXPECT_EQ(field(s1, 0), server_epoch);
    EXPECT_GE(s1[4], 3);  // ffmpeg checks S1's digest only when this octet is >= 3
    EXPECT_TRUE(c1s1_verifies(s1, scheme, server_text));
    EXPECT_TRUE(response_verifies(s2, server_text, c1s1_digest(c1_of(c0c1), scheme)));
}

INSTANTIATE_TEST_SUITE_P(BothSchemes, HandshakeServerDigest,
                         testing::Values(handshake_scheme::digest_first,
                                         handshake_scheme::digest_second));

TEST(HandshakeServer, DigestThatVerifiesInNeitherSchemeGetsTheSimpleAnswer) {
    bytes c0c1 = digest_c0c1(handshake_scheme::digest_first);
    c0c1[1 + digest_position(c1_of(c0c1), handshake_scheme::digest_first)] ^= 0x01;
    handshake_server server(server_epoch);
    bytes out;
    error_code ec;
    server.feed(c0c1, out, ec);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(server.scheme(), handshake_scheme::simple);
    ASSERT_EQ(out.size(), 1 + 2 * packet_size);
    EXPECT_EQ(field(s1_of(out), 4), 0u);
    EXPECT_TRUE(std::ranges::equal(s2_of(out), c1_of(c0c1)));
}

TEST(HandshakeServer, ZeroVersionFieldMeansSimpleEvenWithAValidDigest) {
    bytes c0c1 = with_pattern(simple_c0c1_head, 5);  // version field zero
    bytes c1(c0c1.begin() + 1, c0c1.end());
    imprint(c1, handshake_scheme::digest_first, player_text);
    std::copy(c1.begin(), c1.end(), c0c1.begin() + 1);
    handshake_server server;
    bytes out;
    error_code ec;
    server.feed(c0c1, out, ec);
    EXPECT_EQ(server.scheme(), handshake_scheme::simple);
    ASSERT_EQ(out.size(), 1 + 2 * packet_size);
    EXPECT_TRUE(std::ranges::equal(s2_of(out), c1_of(c0c1)));
}

TEST(HandshakeServer, RefusesRtmpeAsSoonAsC0Arrives) {
    handshake_server server;
    bytes out;
    error_code ec;
    const std::array<std::uint8_t, 1> c0 = {0x06};  // C0: 6, RTMPE
    EXPECT_EQ(server.feed(c0, out, ec), 1u);
    EXPECT_EQ(ec, error::handshake_bad_version);
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(server.done());
    // The failure sticks.
    const bytes more = with_pattern(simple_c0c1_head, 1);
    EXPECT_EQ(server.feed(more, out, ec), 0u);
    EXPECT_EQ(ec, error::handshake_bad_version);
    EXPECT_TRUE(out.empty());
}

TEST(HandshakeServer, RefusesVersion0x10) {
    bytes c0c1 = with_pattern(simple_c0c1_head, 1);
    c0c1[0] = 0x10;
    handshake_server server;
    bytes out;
    error_code ec;
    server.feed(c0c1, out, ec);
    EXPECT_EQ(ec, error::handshake_bad_version);
    EXPECT_TRUE(out.empty());
}

TEST(HandshakeServer, InputAfterDoneIsNotConsumed) {
    handshake_server server;
    bytes out;
    error_code ec;
    bytes all = with_pattern(simple_c0c1_head, 2);
    all.resize(all.size() + packet_size, 0x5A);  // C2
    const bytes connect = connect_chunk();
    all.insert(all.end(), connect.begin(), connect.end());
    EXPECT_EQ(server.feed(all, out, ec), 1 + 2 * packet_size);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(server.done());
    out.clear();
    EXPECT_EQ(server.feed(connect, out, ec), 0u);
    EXPECT_EQ(ec, error::handshake_done);
    EXPECT_TRUE(out.empty());
}

TEST(HandshakeServer, EmptyInputNeedsMore) {
    handshake_server server;
    bytes out;
    error_code ec;
    EXPECT_EQ(server.feed({}, out, ec), 0u);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_TRUE(out.empty());
}

// Real C0C1s, captured by tests/tools/capture_c0c1.py.

TEST(HandshakeServer, Ffmpeg51C0C1GetsADigestAnswerFfmpegAccepts) {
    const bytes c0c1 = load("ffmpeg51_c0c1.bin");
    ASSERT_EQ(c0c1.size(), 1 + packet_size);
    ASSERT_EQ(field(c1_of(c0c1), 4), 0x09007C02u);  // Flash Player 9.0.124.2
    handshake_server server(server_epoch);
    bytes out;
    error_code ec;
    EXPECT_EQ(server.feed(c0c1, out, ec), c0c1.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(server.scheme(), handshake_scheme::digest_first);
    ASSERT_EQ(out.size(), 1 + 2 * packet_size);

    // ffmpeg's rtmp_handshake as a player: S1 byte 4 >= 3, then S1's digest at the position from
    // octets 772.. or, failing that, 8.., then S2's signature keyed from its own C1 digest.
    const view s1 = s1_of(out);
    EXPECT_GE(s1[4], 3);
    EXPECT_TRUE(c1s1_verifies(s1, handshake_scheme::digest_second, server_text) ||
                c1s1_verifies(s1, handshake_scheme::digest_first, server_text));
    EXPECT_TRUE(c1s1_verifies(s1, handshake_scheme::digest_first, server_text));
    const digest ffmpeg_digest = c1s1_digest(c1_of(c0c1), handshake_scheme::digest_first);
    EXPECT_TRUE(response_verifies(s2_of(out), server_text, ffmpeg_digest));

    const bytes c2(packet_size, 0);  // ffmpeg's C2 is checked by no one
    out.clear();
    EXPECT_EQ(server.feed(c2, out, ec), packet_size);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(server.done());
}

TEST(HandshakeServer, Rtmpdump24C0C1GetsTheSimpleAnswer) {
    const bytes c0c1 = load("rtmpdump24_c0c1.bin");
    ASSERT_EQ(c0c1.size(), 1 + packet_size);
    ASSERT_EQ(field(c1_of(c0c1), 4), 0u);  // librtmp sends no digest for plain rtmp://
    handshake_server server(server_epoch);
    bytes out;
    error_code ec;
    EXPECT_EQ(server.feed(c0c1, out, ec), c0c1.size());
    EXPECT_EQ(ec, error::need_more);
    EXPECT_EQ(server.scheme(), handshake_scheme::simple);
    ASSERT_EQ(out.size(), 1 + 2 * packet_size);
    EXPECT_EQ(s1_of(out)[4], 0);  // librtmp then does not look for a digest
    EXPECT_TRUE(std::ranges::equal(s2_of(out), c1_of(c0c1)));  // and compares S2 with its C1
}

// ---------------------------------------------------------------------------------------------
// Client

TEST(HandshakeClient, DigestC0C1IsFlashPlayerStyleInSchemeZero) {
    handshake_client client(true, client_epoch);
    bytes out;
    client.start(out);
    ASSERT_EQ(out.size(), 1 + packet_size);
    EXPECT_EQ(out[0], 3);
    const view c1 = c1_of(out);
    EXPECT_EQ(field(c1, 0), client_epoch);
    EXPECT_EQ(field(c1, 4), 0x09007C02u);
    EXPECT_TRUE(c1s1_verifies(c1, handshake_scheme::digest_first, player_text));
    client.start(out);  // once only
    EXPECT_EQ(out.size(), 1 + packet_size);
}

TEST(HandshakeClient, SimpleC0C1HasAZeroVersionField) {
    handshake_client client(false, client_epoch);
    bytes out;
    client.start(out);
    ASSERT_EQ(out.size(), 1 + packet_size);
    EXPECT_EQ(out[0], 3);
    EXPECT_EQ(field(c1_of(out), 0), client_epoch);
    EXPECT_EQ(field(c1_of(out), 4), 0u);
}

// S0S1S2 of a simple server: S1 version zero.
bytes simple_s0s1s2(view s2) {
    bytes reply = with_pattern(simple_c0c1_head, 9);
    reply.insert(reply.end(), s2.begin(), s2.end());
    return reply;
}

TEST(HandshakeClient, SimpleS1IsEchoedAndS2NotChecked) {
    handshake_client client(true, client_epoch);
    bytes c0c1;
    client.start(c0c1);
    const bytes garbage_s2(packet_size, 0xEE);  // ffmpeg ignores S2 here, librtmp only warns
    const bytes reply = simple_s0s1s2(garbage_s2);
    bytes c2;
    error_code ec;
    EXPECT_EQ(client.feed(reply, c2, ec), reply.size());
    EXPECT_FALSE(ec);
    EXPECT_TRUE(client.done());
    EXPECT_EQ(client.scheme(), handshake_scheme::simple);
    EXPECT_TRUE(std::ranges::equal(c2, s1_of(reply)));
}

TEST(HandshakeClient, RefusesS0OfRtmpe) {
    handshake_client client;
    bytes out;
    client.start(out);
    out.clear();
    error_code ec;
    const std::array<std::uint8_t, 1> s0 = {0x06};
    EXPECT_EQ(client.feed(s0, out, ec), 1u);
    EXPECT_EQ(ec, error::handshake_bad_version);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(client.feed(s0, out, ec), 0u);
    EXPECT_EQ(ec, error::handshake_bad_version);
}

TEST(HandshakeClient, RefusesS0Of0x10) {
    handshake_client client(false);
    bytes out;
    client.start(out);
    out.clear();
    bytes reply = simple_s0s1s2(bytes(packet_size, 0));
    reply[0] = 0x10;
    error_code ec;
    client.feed(reply, out, ec);
    EXPECT_EQ(ec, error::handshake_bad_version);
    EXPECT_TRUE(out.empty());
}

TEST(HandshakeClient, DigestClientRefusesAnS1WhoseDigestVerifiesNowhere) {
    handshake_client client(true);
    bytes out;
    client.start(out);
    out.clear();
    bytes reply = with_pattern(digest_c0c1_head, 4);  // S1 version nonzero, no valid digest
    reply.resize(1 + 2 * packet_size, 0);
    error_code ec;
    client.feed(reply, out, ec);
    EXPECT_EQ(ec, error::handshake_bad_digest);
    EXPECT_TRUE(out.empty());  // no C2
    EXPECT_FALSE(client.done());
}

TEST(HandshakeClient, SimpleClientTakesAnUnsignedNonzeroS1AsSimple) {
    // SRS answers a simple C1 with C1's time in S1's version field.
    handshake_client client(false);
    bytes out;
    client.start(out);
    out.clear();
    bytes reply = with_pattern(digest_c0c1_head, 4);
    reply.resize(1 + 2 * packet_size, 0);
    error_code ec;
    EXPECT_EQ(client.feed(reply, out, ec), reply.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(client.scheme(), handshake_scheme::simple);
    EXPECT_TRUE(std::ranges::equal(out, s1_of(reply)));
}

TEST(HandshakeClient, RefusesAnS2WhoseDigestDoesNotVerify) {
    for (const std::size_t flipped : {std::size_t{0}, packet_size - 1}) {  // signed part, digest
        handshake_client client(true);
        handshake_server server;
        bytes c0c1, reply;
        error_code ec;
        client.start(c0c1);
        server.feed(c0c1, reply, ec);
        reply[1 + packet_size + flipped] ^= 0x80;
        bytes c2;
        client.feed(reply, c2, ec);
        EXPECT_EQ(ec, error::handshake_bad_echo);
        EXPECT_FALSE(client.done());
        EXPECT_EQ(c2.size(), packet_size);  // C2 left when S1 was accepted
    }
}

// A server that signs S1 in the second layout (digest after the key block), as some FMS builds
// and SRS do when the client's C1 verified there: the client finds the digest in either layout,
// checks S2 against its own C1 digest, and signs C2 with S1's.
TEST(HandshakeClient, AcceptsAnS1SignedInSchemeOneAndAnswersWithAVerifiableC2) {
    bytes s1 = with_pattern(digest_c0c1_head, 9);
    s1.erase(s1.begin());  // with_pattern makes C0 too
    imprint(s1, handshake_scheme::digest_second, server_text);
    ASSERT_FALSE(c1s1_verifies(s1, handshake_scheme::digest_first, server_text));
    // S0 S1 S2 for the client that sent `c0c1`: S2 signed with its C1 digest.
    const auto answer = [&s1](view c0c1) {
        const digest c1_digest = c1s1_digest(c1_of(c0c1), handshake_scheme::digest_first);
        bytes s2 = with_pattern(simple_c0c1_head, 11);
        s2.erase(s2.begin());
        const digest s2_digest =
            hmac(hmac(whole_key(server_text), c1_digest), view(s2).first(packet_size - 32));
        std::copy(s2_digest.begin(), s2_digest.end(), s2.end() - 32);
        bytes reply = {0x03};
        reply.insert(reply.end(), s1.begin(), s1.end());
        reply.insert(reply.end(), s2.begin(), s2.end());
        return reply;
    };

    handshake_client client(true);
    bytes c0c1;
    client.start(c0c1);
    const bytes reply = answer(c0c1);
    bytes c2;
    error_code ec;
    EXPECT_EQ(client.feed(reply, c2, ec), reply.size());
    EXPECT_FALSE(ec);
    EXPECT_TRUE(client.done());
    EXPECT_EQ(client.scheme(), handshake_scheme::digest_second);
    ASSERT_EQ(c2.size(), packet_size);
    EXPECT_TRUE(
        response_verifies(c2, player_text, c1s1_digest(s1, handshake_scheme::digest_second)));

    // The same answer with one octet of S2's digest changed is refused.
    handshake_client other(true);
    bytes other_c0c1;
    other.start(other_c0c1);
    bytes broken = answer(other_c0c1);
    broken.back() ^= 0x01;
    bytes none;
    other.feed(broken, none, ec);
    EXPECT_EQ(ec, error::handshake_bad_echo);
    EXPECT_FALSE(other.done());
}

TEST(HandshakeClient, InputAfterDoneIsNotConsumed) {
    handshake_client client(false);
    bytes out;
    client.start(out);
    bytes reply = simple_s0s1s2(bytes(packet_size, 1));
    const bytes extra = connect_chunk();
    reply.insert(reply.end(), extra.begin(), extra.end());
    error_code ec;
    EXPECT_EQ(client.feed(reply, out, ec), 1 + 2 * packet_size);
    EXPECT_FALSE(ec);
    EXPECT_EQ(client.feed(extra, out, ec), 0u);
    EXPECT_EQ(ec, error::handshake_done);
}

// ---------------------------------------------------------------------------------------------
// Client and server together

class HandshakeRoundTrip : public testing::TestWithParam<bool> {};

TEST_P(HandshakeRoundTrip, Whole) {
    expect_complete(converse(GetParam(), whole, whole, whole), GetParam());
}

TEST_P(HandshakeRoundTrip, C0C1CutAtEveryOffset) {
    for (std::size_t k = 0; k <= 1 + packet_size; ++k) {
        SCOPED_TRACE(k);
        expect_complete(converse(GetParam(), split_at(k), whole, whole), GetParam());
        if (HasFailure()) return;
    }
}

TEST_P(HandshakeRoundTrip, S0S1S2CutAtEveryOffset) {
    for (std::size_t k = 0; k <= 1 + 2 * packet_size; ++k) {
        SCOPED_TRACE(k);
        expect_complete(converse(GetParam(), whole, split_at(k), whole), GetParam());
        if (HasFailure()) return;
    }
}

TEST_P(HandshakeRoundTrip, C2AndConnectCutAtEveryOffset) {
    for (std::size_t k = 0; k <= packet_size + connect_chunk().size(); ++k) {
        SCOPED_TRACE(k);
        expect_complete(converse(GetParam(), whole, whole, split_at(k)), GetParam());
        if (HasFailure()) return;
    }
}

TEST_P(HandshakeRoundTrip, ByteByByte) {
    expect_complete(converse(GetParam(), byte_by_byte, byte_by_byte, byte_by_byte), GetParam());
}

INSTANTIATE_TEST_SUITE_P(DigestAndSimple, HandshakeRoundTrip, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                             return info.param ? "DigestClient" : "SimpleClient";
                         });

}  // namespace
}  // namespace rtmpgate::protocol
