// The RTMP handshake (C0 C1 C2 / S0 S1 S2) as state machines fed bytes, in both roles. Both the
// simple handshake (RTMP 1.0 spec 5.2) and the digest handshake of Flash Player 9+ and FMS
// (HMAC-SHA256 digest at either of the two known offsets) are spoken.
#pragma once

#include "protocol/error.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace rtmpgate::protocol {

enum class handshake_scheme : std::uint8_t {
    simple,        // no digest (C1 version field zero, or no digest verifies)
    digest_first,  // digest offset computed from bytes 8..11 (scheme 0)
    digest_second, // digest offset computed from bytes 772..775 (scheme 1)
};

// Server side: for clients. Answers C0C1 with S0S1S2 at once, then waits for C2.
class handshake_server {
public:
    // `epoch` fills the time field of S1 (the caller's clock; codecs read none).
    explicit handshake_server(std::uint32_t epoch = 0);

    // Consumes handshake bytes from `in`, appends bytes to send to `out`. Returns the octets
    // consumed; once done() it consumes nothing more, so bytes after C2 (the client's connect,
    // often in the same segment) stay in `in` for the chunk decoder.
    // ec == error::need_more: feed more. Other errors: refuse the client.
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out, error_code& ec);

    bool done() const noexcept;
    handshake_scheme scheme() const noexcept;  // known once C1 has arrived

private:
    // members: chosen by the implementation
};

// Client side: towards a backend RTMP server.
class handshake_client {
public:
    // `digest`: send a Flash Player 9 style C1 with a digest (what ffmpeg sends) and verify S1/S2.
    explicit handshake_client(bool digest = true, std::uint32_t epoch = 0);

    // Appends C0C1 to `out`. Call once, first.
    void start(std::vector<std::uint8_t>& out);

    // Consumes S0S1S2, appends C2 to `out`. Same contract as handshake_server::feed: bytes after
    // S2 are left unconsumed.
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out, error_code& ec);

    bool done() const noexcept;

private:
    // members: chosen by the implementation
};

}  // namespace rtmpgate::protocol
