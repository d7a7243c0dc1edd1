#include "protocol/handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

#include "protocol/byte_reader.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol {
namespace {

constexpr std::uint8_t rtmp_version = 3;   // C0/S0 (spec 5.2.2); 6 would be RTMPE
constexpr std::size_t packet_size = 1536;  // C1 C2 S1 S2 (spec 5.2.3)
constexpr std::size_t digest_size = 32;    // SHA-256
// C2/S2 of the digest handshake: this many octets, then the response digest.
constexpr std::size_t signed_size = packet_size - digest_size;

using digest = std::array<std::uint8_t, digest_size>;
using bytes = std::span<const std::uint8_t>;

// The 32 octets that follow the text of both Adobe keys (same in ffmpeg rtmpproto.c, librtmp
// handshake.h and nginx-rtmp ngx_rtmp_handshake.c).
constexpr std::array<std::uint8_t, 32> key_tail = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
};

template <std::size_t N>
consteval std::array<std::uint8_t, N - 1 + key_tail.size()> make_key(const char (&text)[N]) {
    std::array<std::uint8_t, N - 1 + key_tail.size()> key{};
    for (std::size_t i = 0; i + 1 < N; ++i) key[i] = static_cast<std::uint8_t>(text[i]);
    for (std::size_t i = 0; i < key_tail.size(); ++i) key[N - 1 + i] = key_tail[i];
    return key;
}

constexpr auto player_key = make_key("Genuine Adobe Flash Player 001");        // 62 octets
constexpr auto server_key = make_key("Genuine Adobe Flash Media Server 001");  // 68 octets
// C1/S1 digests are keyed with the text alone (30 and 36 octets); the key of a C2/S2 response
// digest is derived from the whole key.
constexpr bytes player_text_key{player_key.data(), 30};
constexpr bytes server_text_key{server_key.data(), 36};

// C1's version field: Flash Player 9.0.124.2, what ffmpeg announces (libavformat/rtmp.h).
constexpr std::uint32_t player_version = 0x09'00'7C'02;
// S1's version field when we answer with a digest. ffmpeg (as a player) checks S1's digest only
// when the first octet is >= 3, librtmp only when it is nonzero: 3.5.1.1 makes both check it.
constexpr std::uint32_t server_version = 0x03'05'01'01;

// HMAC-SHA256. False only when OpenSSL fails (allocation); `out` then holds no digest.
bool hmac_sha256(bytes key, bytes data, digest& out) {
    unsigned int length = 0;
    return HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
                out.data(), &length) != nullptr &&
           length == digest_size;
}

// Where the 32-octet digest sits in C1/S1: past four octets whose sum, modulo 728, is the
// offset. Scheme 0 sums octets 8..11 (digest within 12..771), scheme 1 octets 772..775 (digest
// within 776..1535): ff_rtmp_calc_digest_pos in ffmpeg, GetDigestOffset1/2 in librtmp.
std::size_t digest_position(bytes packet, handshake_scheme scheme) {
    const std::size_t base = scheme == handshake_scheme::digest_first ? 8 : 772;
    byte_reader reader(packet);
    reader.skip(base);
    std::size_t sum = 0;
    for (int i = 0; i < 4; ++i) {
        std::uint8_t octet = 0;
        reader.read_u8(octet);
        sum += octet;
    }
    return base + 4 + sum % 728;
}

// A C1/S1 packet cut around its digest slot.
struct digest_slot {
    bytes before;
    bytes value;
    bytes after;
};

digest_slot split_at(bytes packet, std::size_t position) {
    digest_slot slot;
    byte_reader reader(packet);
    reader.read_bytes(position, slot.before);
    reader.read_bytes(digest_size, slot.value);
    slot.after = reader.rest();
    return slot;
}

// The C1/S1 digest: HMAC over the packet without its digest slot.
bool slot_digest(const digest_slot& slot, bytes key, digest& out) {
    std::vector<std::uint8_t> rest;
    rest.reserve(packet_size - digest_size);
    byte_writer writer(rest);
    writer.bytes(slot.before);
    writer.bytes(slot.after);
    return hmac_sha256(key, rest, out);
}

bool same(bytes a, bytes b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct found_digest {
    handshake_scheme scheme = handshake_scheme::simple;  // simple: none verifies
    digest value{};
};

// Scheme 0 first: Flash Player, ffmpeg and librtmp put an unencrypted C1's digest there.
found_digest find_digest(bytes packet, bytes key) {
    for (const auto scheme : {handshake_scheme::digest_first, handshake_scheme::digest_second}) {
        const auto slot = split_at(packet, digest_position(packet, scheme));
        found_digest found{scheme, {}};
        if (slot_digest(slot, key, found.value) && same(found.value, slot.value)) return found;
    }
    return {};
}

// Writes C1/S1 `packet` with its digest slot in `scheme` filled; returns the digest.
digest write_with_digest(byte_writer& writer, bytes packet, handshake_scheme scheme, bytes key) {
    const auto slot = split_at(packet, digest_position(packet, scheme));
    digest value{};
    slot_digest(slot, key, value);  // on failure zeros go out and the peer refuses them
    writer.bytes(slot.before);
    writer.bytes(value);
    writer.bytes(slot.after);
    return value;
}

// The last 32 octets of a digest-handshake C2/S2: HMAC(HMAC(whole key, the peer's C1/S1
// digest), the first 1504 octets).
bool response_digest(bytes signed_part, bytes whole_key, const digest& peer_digest, digest& out) {
    digest key{};
    return hmac_sha256(whole_key, peer_digest, key) && hmac_sha256(key, signed_part, out);
}

// C2/S2 of the digest handshake. The 1504 signed octets echo the peer's C1/S1, so that a peer
// that compares the echo (ffmpeg's server warns when C2 differs from S1) finds it there too.
void write_response(byte_writer& writer, bytes echoed, bytes whole_key, const digest& peer_digest) {
    const auto signed_part = echoed.first(signed_size);
    digest value{};
    response_digest(signed_part, whole_key, peer_digest, value);
    writer.bytes(signed_part);
    writer.bytes(value);
}

bool response_verifies(bytes packet, bytes whole_key, const digest& our_digest) {
    byte_reader reader(packet);
    bytes signed_part;
    reader.read_bytes(signed_size, signed_part);
    digest expected{};
    return response_digest(signed_part, whole_key, our_digest, expected) &&
           same(expected, reader.rest());
}

// C1/S1 before any digest: time (4), version or zero (4), random (1528).
std::vector<std::uint8_t> make_packet(std::uint32_t time, std::uint32_t version) {
    std::vector<std::uint8_t> packet;
    packet.reserve(packet_size);
    byte_writer writer(packet);
    writer.u32be(time);
    writer.u32be(version);
    std::array<std::uint8_t, packet_size - 8> random{};
    // The random part guards no secret (both keys are public): should RAND_bytes fail, the
    // zeros still make a valid handshake.
    RAND_bytes(random.data(), static_cast<int>(random.size()));
    writer.bytes(random);
    return packet;
}

std::uint32_t version_field(bytes packet) {
    byte_reader reader(packet);
    std::uint32_t version = 0;
    reader.skip(4);
    reader.read_u32be(version);
    return version;
}

bytes packet_after_c0(const std::vector<std::uint8_t>& c0_and_packet) {
    byte_reader reader(c0_and_packet);
    reader.skip(1);
    return reader.rest();
}

// Moves octets from `reader` into `buffer` until it holds `wanted`; true once it does.
bool collect(byte_reader& reader, std::vector<std::uint8_t>& buffer, std::size_t wanted) {
    bytes part;
    reader.read_bytes(std::min(reader.remaining(), wanted - buffer.size()), part);
    byte_writer(buffer).bytes(part);
    return buffer.size() == wanted;
}

bool bad_version(const std::vector<std::uint8_t>& c0_and_packet) {
    std::uint8_t version = 0;
    return byte_reader(c0_and_packet).peek_u8(version) && version != rtmp_version;
}

// Once a handshake has failed or completed, feed() consumes nothing and reports the failure,
// or error::handshake_done. True in those two cases.
bool ended(bool failed, bool done, error failure, error_code& ec) {
    if (failed)
        ec = failure;
    else if (done)
        ec = error::handshake_done;
    return failed || done;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

handshake_server::handshake_server(std::uint32_t epoch) : epoch_(epoch) {}

bool handshake_server::done() const noexcept { return stage_ == stage::done; }

handshake_scheme handshake_server::scheme() const noexcept { return scheme_; }

std::size_t handshake_server::feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out,
                                   error_code& ec) {
    if (ended(stage_ == stage::failed, stage_ == stage::done, failure_, ec)) return 0;
    byte_reader reader(in);
    if (stage_ == stage::c0c1) {
        const bool complete = collect(reader, c0c1_, 1 + packet_size);
        // Refused as soon as C0 is seen: 6 (RTMPE) and anything else but 3.
        if (bad_version(c0c1_)) {
            stage_ = stage::failed;
            failure_ = error::handshake_bad_version;
            ec = failure_;
            return reader.position();
        }
        if (!complete) {
            ec = error::need_more;
            return reader.position();
        }
        answer(out);
        c0c1_ = {};
        stage_ = stage::c2;
    }
    // C2 is not checked. nginx-rtmp ignores it; ffmpeg's server only warns when it differs from
    // S1; librtmp's C2 replaces S1's second field with its own uptime, and nginx-rtmp relaying
    // as a client sends random octets when S1 has no digest. A strict check would refuse them.
    const std::size_t take = std::min(reader.remaining(), packet_size - c2_received_);
    reader.skip(take);
    c2_received_ += take;
    if (c2_received_ < packet_size) {
        ec = error::need_more;
        return reader.position();
    }
    stage_ = stage::done;
    ec = {};
    return reader.position();
}

void handshake_server::answer(std::vector<std::uint8_t>& out) {
    const bytes c1 = packet_after_c0(c0c1_);
    // As nginx-rtmp: a zero version field means an old client, and a digest that verifies in
    // neither scheme (encoders that put junk there) gets the simple answer rather than a refusal.
    const found_digest client =
        version_field(c1) != 0 ? find_digest(c1, player_text_key) : found_digest{};
    scheme_ = client.scheme;

    byte_writer writer(out);
    writer.u8(rtmp_version);
    if (scheme_ == handshake_scheme::simple) {
        writer.bytes(make_packet(epoch_, 0));  // S1: time, zero, random (spec 5.2.3)
        writer.bytes(c1);                      // S2: C1 echoed whole, as nginx-rtmp does
        return;
    }
    // Same scheme as the client's: ffmpeg tries both, librtmp tries scheme 1 first, then 0.
    write_with_digest(writer, make_packet(epoch_, server_version), scheme_, server_text_key);
    // ffmpeg as a player aborts ("Signature mismatch") unless S2 carries this digest.
    write_response(writer, c1, server_key, client.value);
}

// ---------------------------------------------------------------------------------------------
// Client

handshake_client::handshake_client(bool digest, std::uint32_t epoch)
    : digest_(digest), epoch_(epoch) {}

bool handshake_client::done() const noexcept { return stage_ == stage::done; }

handshake_scheme handshake_client::scheme() const noexcept { return scheme_; }

void handshake_client::start(std::vector<std::uint8_t>& out) {
    if (started_) return;
    started_ = true;
    byte_writer writer(out);
    writer.u8(rtmp_version);
    const auto c1 = make_packet(epoch_, digest_ ? player_version : 0);
    if (digest_) {
        // Scheme 0, as ffmpeg and librtmp do for unencrypted RTMP.
        c1_digest_ = write_with_digest(writer, c1, handshake_scheme::digest_first, player_text_key);
    } else {
        writer.bytes(c1);
    }
}

std::size_t handshake_client::feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out,
                                   error_code& ec) {
    if (ended(stage_ == stage::failed, stage_ == stage::done, failure_, ec)) return 0;
    const auto fail = [&](error e, std::size_t consumed) {
        stage_ = stage::failed;
        failure_ = e;
        ec = e;
        return consumed;
    };
    byte_reader reader(in);
    if (stage_ == stage::s0s1) {
        const bool complete = collect(reader, pending_, 1 + packet_size);
        if (bad_version(pending_)) return fail(error::handshake_bad_version, reader.position());
        if (!complete) {
            ec = error::need_more;
            return reader.position();
        }
        // C2 goes out now, before S2 arrives, as librtmp does: a server that waits for C2
        // before sending S2 still completes.
        if (!accept_s1(out)) return fail(error::handshake_bad_digest, reader.position());
        pending_.clear();
        stage_ = stage::s2;
    }
    if (!collect(reader, pending_, packet_size)) {
        ec = error::need_more;
        return reader.position();
    }
    if (!s2_verifies()) return fail(error::handshake_bad_echo, reader.position());
    pending_ = {};
    stage_ = stage::done;
    ec = {};
    return reader.position();
}

bool handshake_client::accept_s1(std::vector<std::uint8_t>& out) {
    const bytes s1 = packet_after_c0(pending_);
    found_digest server{};
    if (version_field(s1) != 0) {
        server = find_digest(s1, server_text_key);
        // Only a client that sent a digest insists, as ffmpeg and librtmp do: SRS, for one,
        // answers a simple C1 with C1's time in S1's version field.
        if (server.scheme == handshake_scheme::simple && digest_) return false;
    }
    scheme_ = server.scheme;

    byte_writer writer(out);
    if (scheme_ == handshake_scheme::simple) {
        writer.bytes(s1);  // C2: S1 echoed whole, as ffmpeg does
    } else {
        write_response(writer, s1, player_key, server.value);
    }
    return true;
}

bool handshake_client::s2_verifies() const {
    // Checked only when both sides signed, as ffmpeg ("Signature mismatch") and librtmp ("Server
    // not genuine Adobe!") do. Otherwise S2 is not looked at: ffmpeg ignores it, librtmp only
    // warns when it differs from C1.
    if (!digest_ || scheme_ == handshake_scheme::simple) return true;
    return response_verifies(pending_, server_key, c1_digest_);
}

}  // namespace rtmpgate::protocol
