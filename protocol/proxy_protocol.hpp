// The PROXY protocol of HAProxy (doc/proxy-protocol.txt), versions 1 (one text line) and 2
// (binary): a header a proxy or load balancer writes first on a TCP connection, before the data it
// relays, to tell the receiver the original client's address. Read on listeners behind a trusted
// balancer, written towards backends that want the client's address.
//
// Addresses are plain octets in network order and ports plain integers: the gateway turns them
// into and out of its socket types.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/error.hpp"

namespace rtmpgate::protocol {

// The longest v1 line a receiver must accept, CRLF included ("PROXY UNKNOWN" followed by two
// full-length IPv6 addresses and two 5-digit ports: spec 2.1).
inline constexpr std::size_t proxy_v1_max_size = 107;
// The v2 fixed part: 12-octet signature, version and command, family and transport, length.
inline constexpr std::size_t proxy_v2_fixed_size = 16;
// The bound on the v2 length field (address block and TLVs after the fixed part). The field
// allows 65535; what senders put there is the address block (at most 216 octets, AF_UNIX) and
// TLVs: HAProxy's ALPN, authority, unique id (at most 128), SSL and NETNS, AWS and Azure
// endpoint ids, GCP's connection id. 2048 holds all of them at once with room to spare and
// keeps a hostile peer from making the receiver wait for 64 KB.
inline constexpr std::size_t proxy_v2_max_length = 2048;

// What the first octets of a connection say about a PROXY header.
enum class proxy_detection : std::uint8_t {
    need_more,  // what arrived is a proper prefix of "PROXY " or of the v2 signature (or nothing)
    absent,     // the connection starts with something else (TLS, RTMP, HTTP)
    v1,         // starts with "PROXY "
    v2,         // starts with the 12-octet v2 signature
};

// Looks only at the first 6 (v1) or 12 (v2) octets; never reports an error.
proxy_detection detect_proxy_header(std::span<const std::uint8_t> first_octets) noexcept;

enum class proxy_command : std::uint8_t {
    local,  // v2 LOCAL: the proxy's own connection (a health check); use the socket's endpoints
    proxy,  // relayed on behalf of a client (every v1 header)
};

enum class proxy_family : std::uint8_t {
    none,  // no address to use: v1 UNKNOWN, v2 LOCAL, v2 AF_UNSPEC, AF_UNIX, or not STREAM
    tcp4,  // TCP over IPv4: the first 4 octets of proxy_address::octets
    tcp6,  // TCP over IPv6: all 16 octets
};

struct proxy_address {
    std::array<std::uint8_t, 16> octets{};  // network order; tcp4 uses the first 4, rest zero
    std::uint16_t port = 0;

    friend bool operator==(const proxy_address&, const proxy_address&) = default;
};

struct proxy_header {
    std::uint8_t version = 0;  // 1 or 2
    proxy_command command = proxy_command::proxy;
    proxy_family family = proxy_family::none;
    proxy_address source;       // the client (zero when family is none)
    proxy_address destination;  // the address the client reached (zero when family is none)
    std::size_t size = 0;       // octets the header took; the client's own data follows

    friend bool operator==(const proxy_header&, const proxy_header&) = default;
};

// Reads one PROXY header, v1 or v2 (told apart by its first octets), from the start of a
// connection. Memory is a fixed 108-octet buffer: v2 TLVs and AF_UNIX addresses are counted and
// skipped, never stored.
class proxy_header_parser {
public:
    // Consumes header octets from `in` and returns how many. It never consumes past the header's
    // last octet, so what is left in `in` once done() is the client's data (TLS, RTMP, HTTP).
    // Once done() it consumes nothing more. ec == error::need_more: feed more. Other errors:
    // close the connection; every later call reports the same error and consumes nothing.
    //   proxy_no_signature     the input starts with neither "PROXY " nor the v2 signature
    //                          (reported as soon as an octet disagrees);
    //   proxy_v1_too_long      no CRLF within proxy_v1_max_size octets;
    //   proxy_v1_bad_protocol  the protocol is not TCP4, TCP6 or UNKNOWN;
    //   proxy_v1_malformed     not exactly one space between fields, a field missing or one too
    //                          many, or a line ended by a bare LF;
    //   proxy_v1_bad_address   an address that is not a dotted quad (TCP4, no leading zeros) or
    //                          IPv6 text (TCP6: 1-4 hex digits a group, at most one "::", an
    //                          optional dotted quad tail, 128 bits in all);
    //   proxy_v1_bad_port      a port that is not decimal 0..65535 without leading zeros.
    //   proxy_v2_bad_version   the version nibble is not 2;
    //   proxy_v2_bad_command   the command nibble is neither LOCAL nor PROXY;
    //   proxy_v2_bad_family    PROXY with a family above AF_UNIX or a transport above DGRAM;
    //   proxy_v2_too_short     PROXY with a length below its family's address block (12 for
    //                          AF_INET, 36 for AF_INET6, 216 for AF_UNIX);
    //   proxy_v2_too_long      a length above proxy_v2_max_length.
    // v1 is checked once its CRLF has arrived (spec 2.1: "wait for the CRLF before decoding"),
    // v2 once its 16-octet fixed part has: the result never depends on how input was split.
    std::size_t feed(std::span<const std::uint8_t> in, error_code& ec);

    bool done() const noexcept { return stage_ == stage::done; }
    // The header, once done().
    const proxy_header& header() const noexcept { return header_; }

private:
    enum class stage : std::uint8_t { detect, v1_line, v2_fixed, v2_block, done, failed };

    std::size_t feed_v1(std::span<const std::uint8_t> in, error_code& ec);
    std::size_t feed_v2(std::span<const std::uint8_t> in, error_code& ec);
    std::size_t fail(error_code e, std::size_t consumed, error_code& ec);

    stage stage_ = stage::detect;
    error_code failure_;
    proxy_header header_;
    std::array<std::uint8_t, proxy_v1_max_size + 1> buffer_{};
    std::size_t buffered_ = 0;   // octets in buffer_
    std::size_t v2_length_ = 0;  // the v2 length field
    std::size_t v2_block_ = 0;   // v2 address block octets received (stored or skipped)
};

// Header encoders, for PROXY out: the PROXY command with the client as `source` and the address it
// reached as `destination`, both of `family`. Family none gives "PROXY UNKNOWN\r\n" (v1) or
// PROXY with AF_UNSPEC and no address block (v2): "use the connection's own endpoints".
// v1 writes IPv6 in RFC 5952 form (lower case, longest run of two or more zero groups as "::").
std::vector<std::uint8_t> make_proxy_v1_header(proxy_family family, const proxy_address& source,
                                               const proxy_address& destination);
std::vector<std::uint8_t> make_proxy_v2_header(proxy_family family, const proxy_address& source,
                                               const proxy_address& destination);

}  // namespace rtmpgate::protocol
