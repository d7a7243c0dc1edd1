// The RTMP handshake (C0 C1 C2 / S0 S1 S2) as state machines fed bytes, in both roles. Both the
// simple handshake (RTMP 1.0 spec 5.2) and the digest handshake of Flash Player 9+ and FMS
// (HMAC-SHA256 digest at either of the two known offsets) are spoken.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/error.hpp"

namespace rtmpgate::protocol {

enum class handshake_scheme : std::uint8_t {
    simple,         // no digest (C1 version field zero, or no digest verifies)
    digest_first,   // digest offset computed from bytes 8..11 (scheme 0)
    digest_second,  // digest offset computed from bytes 772..775 (scheme 1)
};

// Server side: for clients. Answers C0C1 with S0S1S2 at once, then waits for C2.
//
// C1 with a zero version field, or with a digest that verifies in neither scheme, gets the
// simple answer: S1 = epoch, zero, random; S2 = C1 echoed octet for octet. A verified digest
// gets S1 with an FMS digest in the client's scheme and S2 = C1's first 1504 octets followed by
// the response digest. C2 is counted, not checked (see handshake.cpp).
class handshake_server {
public:
    // `epoch` fills the time field of S1 (the caller's clock; codecs read none).
    explicit handshake_server(std::uint32_t epoch = 0);

    // Consumes handshake bytes from `in`, appends bytes to send to `out`. Returns the octets
    // consumed; once done() it consumes nothing more, so bytes after C2 (the client's connect,
    // often in the same segment) stay in `in` for the chunk decoder.
    // ec == error::need_more: feed more. Other errors: refuse the client.
    //   handshake_bad_version: C0 is not 3 (reported as soon as C0 arrives);
    //   handshake_done: feed() called again after done() (nothing consumed).
    // After an error every later call reports the same error and consumes nothing.
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out,
                     error_code& ec);

    bool done() const noexcept;
    handshake_scheme scheme() const noexcept;  // known once C1 has arrived

private:
    enum class stage : std::uint8_t { c0c1, c2, done, failed };

    void answer(std::vector<std::uint8_t>& out);

    std::uint32_t epoch_;
    stage stage_ = stage::c0c1;
    handshake_scheme scheme_ = handshake_scheme::simple;
    error failure_ = error::need_more;
    std::vector<std::uint8_t> c0c1_;  // C0 and C1 as they arrive, up to 1537 octets
    std::size_t c2_received_ = 0;     // C2 is counted, never stored
};

// Client side: towards a backend RTMP server.
//
// C2 goes out as soon as S1 is accepted (as librtmp does), S2 is checked when it arrives. C2 is
// in digest form when S1's digest verifies (in either scheme), else S1 echoed octet for octet.
class handshake_client {
public:
    // `digest`: send a Flash Player 9 style C1 with a digest (what ffmpeg sends) and verify S1/S2.
    explicit handshake_client(bool digest = true, std::uint32_t epoch = 0);

    // Appends C0C1 to `out`. Call once, first (later calls append nothing).
    void start(std::vector<std::uint8_t>& out);

    // Consumes S0S1S2, appends C2 to `out`. Same contract as handshake_server::feed: bytes after
    // S2 are left unconsumed. Errors:
    //   handshake_bad_version: S0 is not 3;
    //   handshake_bad_digest: we sent a digest, S1's version field is nonzero and S1's digest
    //     verifies in neither scheme (what ffmpeg and librtmp abort on). Without a digest of our
    //     own, such an S1 is taken as a simple one;
    //   handshake_bad_echo: S1 carried a digest, we sent one, and S2's digest does not verify;
    //   handshake_done: feed() called again after done().
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out,
                     error_code& ec);

    bool done() const noexcept;
    handshake_scheme scheme() const noexcept;  // S1's digest scheme, known once S1 has arrived

private:
    enum class stage : std::uint8_t { s0s1, s2, done, failed };

    bool accept_s1(std::vector<std::uint8_t>& out);  // S0S1 complete: checks S1, writes C2
    bool s2_verifies() const;                        // S2 complete

    bool digest_;
    std::uint32_t epoch_;
    bool started_ = false;
    stage stage_ = stage::s0s1;
    handshake_scheme scheme_ = handshake_scheme::simple;
    error failure_ = error::need_more;
    std::array<std::uint8_t, 32> c1_digest_{};  // the digest we put in C1 (digest_ only)
    std::vector<std::uint8_t> pending_;         // S0S1 (1537 octets), then S2 (1536)
};

}  // namespace rtmpgate::protocol
