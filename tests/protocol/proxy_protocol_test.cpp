#include "protocol/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes to_bytes(std::string_view s) { return {s.begin(), s.end()}; }

template <std::size_t N>
bytes to_bytes(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

bytes concat(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

proxy_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                 std::uint16_t port) {
    proxy_address address;
    address.octets = {a, b, c, d};
    address.port = port;
    return address;
}

proxy_address v6(std::array<std::uint16_t, 8> groups, std::uint16_t port) {
    proxy_address address;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        address.octets[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
        address.octets[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
    }
    address.port = port;
    return address;
}

// ---- wire vectors ---------------------------------------------------------------------------

// The example of spec 2.1, as HAProxy's send-proxy writes it.
constexpr std::string_view v1_tcp4 =
    "PROXY "         // signature and its one space
    "TCP4 "          // protocol: TCP over IPv4
    "192.168.0.1 "   // source address (the client)
    "192.168.0.11 "  // destination address (what the client reached)
    "56324 "         // source port
    "443"            // destination port
    "\r\n";          // CRLF
constexpr std::string_view v1_tcp6 =
    "PROXY "
    "TCP6 "
    "2001:db8::1 "           // source, "::" for five zero groups
    "2001:DB8:0:0:0:0:0:2 "  // destination, upper case and uncompressed
    "65535 "                 // source port, the highest
    "0"                      // destination port, the lowest
    "\r\n";
// inet_ntop writes IPv4-mapped IPv6 addresses with a dotted quad tail.
constexpr std::string_view v1_tcp6_mapped =
    "PROXY "
    "TCP6 "
    "::ffff:127.0.0.1 "  // source
    "::1 "               // destination
    "40000 "
    "1935"
    "\r\n";
constexpr std::string_view v1_unknown_short = "PROXY UNKNOWN\r\n";  // 15 octets
// Spec 2.1's worst case, 107 octets: whatever follows UNKNOWN is ignored.
constexpr std::string_view v1_unknown_longest =
    "PROXY "
    "UNKNOWN "
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    "65535 "
    "65535"
    "\r\n";
static_assert(v1_unknown_longest.size() == proxy_v1_max_size);

// v2, TCP over IPv4, as HAProxy's send-proxy-v2 writes it (without TLVs).
constexpr std::array<std::uint8_t, 28> v2_tcp4{
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x21,                                                                    // version 2, PROXY
    0x11,                                                                    // AF_INET, STREAM
    0x00, 0x0C,                                                              // length 12
    0xC0, 0xA8, 0x00, 0x01,                                                  // source 192.168.0.1
    0xC0, 0xA8, 0x00, 0x0B,  // destination 192.168.0.11
    0xDC, 0x04,              // source port 56324
    0x01, 0xBB,              // destination port 443
};
// v2, TCP over IPv6, followed by two TLVs the receiver skips (PP2_TYPE_ALPN "h2" and
// PP2_TYPE_NOOP with 3 octets of padding).
constexpr std::array<std::uint8_t, 16 + 36 + 5 + 6> v2_tcp6_tlvs{
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x21,                                                                    // version 2, PROXY
    0x21,                                                                    // AF_INET6, STREAM
    0x00, 0x2F,  // length 36 + 5 + 6 = 47
    0x20, 0x01, 0x0D, 0xB8, 0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0x01,  // source 2001:db8::1
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0x01,              // destination ::1
    0x9C, 0x40,                          // source port 40000
    0x07, 0x8F,                          // destination port 1935
    0x01, 0x00, 0x02, 'h',  '2',         // TLV ALPN, length 2
    0x04, 0x00, 0x03, 0x00, 0x00, 0x00,  // TLV NOOP, length 3
};
// v2 LOCAL (a balancer's health check) with an address block it should not have sent: skipped,
// and no address taken from it.
constexpr std::array<std::uint8_t, 28> v2_local_with_block{
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x20,                                // version 2, LOCAL
    0x11,                                // AF_INET, STREAM (ignored under LOCAL)
    0x00, 0x0C,                          // length 12
    127,  0,    0,    1,    127,  0,
    0,    2,    0x00, 0x50, 0x00, 0x51,  // addresses and ports, ignored
};
// v2 LOCAL as senders should write it: no family, no address block.
constexpr std::array<std::uint8_t, 16> v2_local{
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x20,                                                                    // version 2, LOCAL
    0x00,                                                                    // AF_UNSPEC, UNSPEC
    0x00, 0x00,                                                              // length 0
};
// v2 PROXY over UDP: valid, but not a TCP client, so no address.
constexpr std::array<std::uint8_t, 28> v2_udp4{
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
    0x21,                                                                    // version 2, PROXY
    0x12,                                                                    // AF_INET, DGRAM
    0x00, 0x0C,                                                              // length 12
    10,   0,    0,    1,    10,   0,    0,    2,    0x13, 0x88, 0x13, 0x89,
};

// The fixed part of a v2 header with the given version/command, family/transport and length.
bytes v2_fixed(std::uint8_t version_command, std::uint8_t family_transport, std::uint16_t length) {
    bytes out(v2_tcp4.begin(), v2_tcp4.begin() + 12);
    out.push_back(version_command);
    out.push_back(family_transport);
    out.push_back(static_cast<std::uint8_t>(length >> 8));
    out.push_back(static_cast<std::uint8_t>(length));
    return out;
}

// ---- feeding --------------------------------------------------------------------------------

struct outcome {
    error_code ec;
    std::size_t consumed = 0;
    proxy_header header;
    bool done = false;
};

// Feeds `in` cut at the offsets `cuts` (ascending), stopping where the parser stops.
outcome feed_pieces(std::span<const std::uint8_t> in, const std::vector<std::size_t>& cuts) {
    proxy_header_parser parser;
    outcome o;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : in.size();
        const std::size_t used = parser.feed(in.subspan(from, to - from), o.ec);
        o.consumed += used;
        // Done (perhaps before the piece ran out: the rest is the client's) or failed.
        if (o.ec != error::need_more) break;
        EXPECT_EQ(used, to - from) << "need_more must mean everything was taken";
        from = to;
    }
    o.done = parser.done();
    if (o.done) o.header = parser.header();
    return o;
}

void expect_same(const outcome& a, const outcome& b, const std::string& how) {
    EXPECT_EQ(a.ec, b.ec) << how;
    EXPECT_EQ(a.done, b.done) << how;
    EXPECT_EQ(a.header, b.header) << how;
    if (a.done) {
        EXPECT_EQ(a.consumed, b.consumed) << how;
    }
}

// Feeds `in` whole, cut at every offset, and octet by octet; the result must not change.
outcome feed_every_way(std::span<const std::uint8_t> in) {
    const outcome whole = feed_pieces(in, {});
    for (std::size_t cut = 1; cut < in.size(); ++cut)
        expect_same(whole, feed_pieces(in, {cut}), "cut at " + std::to_string(cut));
    std::vector<std::size_t> every;
    for (std::size_t cut = 1; cut < in.size(); ++cut) every.push_back(cut);
    expect_same(whole, feed_pieces(in, every), "octet by octet");
    return whole;
}

// A header followed by the client's first octets (an RTMP C0 and the start of C1).
const bytes client_data{0x03, 0x00, 0x00, 0x00, 0x00};

proxy_header expect_header(const bytes& header_octets) {
    const outcome o = feed_every_way(concat(header_octets, client_data));
    EXPECT_FALSE(o.ec) << o.ec.message();
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.consumed, header_octets.size()) << "the client's data is not consumed";
    EXPECT_EQ(o.header.size, header_octets.size());
    return o.header;
}

void expect_error(const bytes& in, error e) {
    const outcome o = feed_every_way(in);
    EXPECT_EQ(o.ec, e) << "got " << o.ec.message();
    EXPECT_FALSE(o.done);
}

void expect_v1_error(std::string_view line, error e) {
    SCOPED_TRACE(std::string(line));
    expect_error(to_bytes(line), e);
}

// ---- detection ------------------------------------------------------------------------------

TEST(proxy_detect, tells_headers_from_tls_rtmp_and_http) {
    EXPECT_EQ(detect_proxy_header({}), proxy_detection::need_more);
    EXPECT_EQ(detect_proxy_header(to_bytes("P")), proxy_detection::need_more);
    EXPECT_EQ(detect_proxy_header(to_bytes("PROXY")), proxy_detection::need_more);
    EXPECT_EQ(detect_proxy_header(to_bytes("PROXY ")), proxy_detection::v1);
    EXPECT_EQ(detect_proxy_header(to_bytes(v1_tcp4)), proxy_detection::v1);
    EXPECT_EQ(detect_proxy_header(to_bytes("PO")), proxy_detection::absent);  // POST: RTMPT
    EXPECT_EQ(detect_proxy_header(to_bytes("PROXYX")), proxy_detection::absent);
    EXPECT_EQ(detect_proxy_header(bytes{0x03}), proxy_detection::absent);              // RTMP C0
    EXPECT_EQ(detect_proxy_header(bytes{0x16, 0x03, 0x01}), proxy_detection::absent);  // TLS
    const bytes v2 = to_bytes(v2_tcp4);
    for (std::size_t n = 1; n < 12; ++n)
        EXPECT_EQ(detect_proxy_header(std::span(v2).first(n)), proxy_detection::need_more) << n;
    EXPECT_EQ(detect_proxy_header(std::span(v2).first(12)), proxy_detection::v2);
    EXPECT_EQ(detect_proxy_header(bytes{0x0D, 0x0A, 0x0D, 0x0A, 0x01}), proxy_detection::absent);
}

// ---- v1 -------------------------------------------------------------------------------------

// v1_tcp4 and v2_tcp4 both carry the example of spec 2.1.
void expect_spec_example(const bytes& in, std::uint8_t version) {
    const auto h = expect_header(in);
    EXPECT_EQ(h.version, version);
    EXPECT_EQ(h.command, proxy_command::proxy);
    EXPECT_EQ(h.family, proxy_family::tcp4);
    EXPECT_EQ(h.source, v4(192, 168, 0, 1, 56324));
    EXPECT_EQ(h.destination, v4(192, 168, 0, 11, 443));
}

TEST(proxy_v1, tcp4) { expect_spec_example(to_bytes(v1_tcp4), 1); }

TEST(proxy_v1, tcp6) {
    const auto h = expect_header(to_bytes(v1_tcp6));
    EXPECT_EQ(h.family, proxy_family::tcp6);
    EXPECT_EQ(h.source, v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, 65535));
    EXPECT_EQ(h.destination, v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2}, 0));
}

TEST(proxy_v1, tcp6_with_dotted_quad_tail) {
    const auto h = expect_header(to_bytes(v1_tcp6_mapped));
    EXPECT_EQ(h.source, v6({0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001}, 40000));
    EXPECT_EQ(h.destination, v6({0, 0, 0, 0, 0, 0, 0, 1}, 1935));
}

TEST(proxy_v1, ipv6_forms_that_decode_to_128_bits) {
    const struct {
        std::string_view text;
        std::array<std::uint16_t, 8> groups;
    } cases[] = {
        {"::", {0, 0, 0, 0, 0, 0, 0, 0}},
        {"1::", {1, 0, 0, 0, 0, 0, 0, 0}},
        {"1:2:3:4:5:6:7::", {1, 2, 3, 4, 5, 6, 7, 0}},  // "::" for a single group
        {"::2:3:4:5:6:7:8", {0, 2, 3, 4, 5, 6, 7, 8}},
        {"ffff:FFFF:0:00:000:0000:a:B", {0xffff, 0xffff, 0, 0, 0, 0, 0xa, 0xb}},
        {"1:2:3:4:5:6:1.2.3.4", {1, 2, 3, 4, 5, 6, 0x0102, 0x0304}},
    };
    for (const auto& c : cases) {
        const std::string line = "PROXY TCP6 " + std::string(c.text) + " ::1 1 2\r\n";
        SCOPED_TRACE(line);
        EXPECT_EQ(expect_header(to_bytes(line)).source, v6(c.groups, 1));
    }
}

TEST(proxy_v1, unknown_means_no_address_and_ignores_the_rest) {
    for (const auto line : {v1_unknown_short, v1_unknown_longest,
                            std::string_view("PROXY UNKNOWN anything at all \x01\r\n")}) {
        SCOPED_TRACE(std::string(line));
        const auto h = expect_header(to_bytes(line));
        EXPECT_EQ(h.version, 1);
        EXPECT_EQ(h.family, proxy_family::none);
        EXPECT_EQ(h.source, proxy_address{});
        EXPECT_EQ(h.destination, proxy_address{});
    }
}

TEST(proxy_v1, not_a_header) {
    expect_error(to_bytes("POST /open/1 HTTP/1.1\r\n"), error::proxy_no_signature);
    expect_error(bytes{0x03, 0x00}, error::proxy_no_signature);
    expect_error(to_bytes("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"), error::proxy_no_signature);
}

TEST(proxy_v1, too_long) {
    // 107 octets and no CRLF: refused at the 107th, whatever follows.
    std::string line = "PROXY UNKNOWN ";
    line.append(proxy_v1_max_size - line.size(), 'x');
    expect_v1_error(line, error::proxy_v1_too_long);
    expect_v1_error(line + "\r\n", error::proxy_v1_too_long);
    // 108 octets where the CRLF comes one octet too late.
    std::string late = "PROXY UNKNOWN ";
    late.append(proxy_v1_max_size - late.size() - 1, 'x');
    expect_v1_error(late + "\r\n", error::proxy_v1_too_long);
}

TEST(proxy_v1, bad_protocol) {
    expect_v1_error("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", error::proxy_v1_bad_protocol);
    expect_v1_error("PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", error::proxy_v1_bad_protocol);
    expect_v1_error("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", error::proxy_v1_bad_protocol);
    expect_v1_error("PROXY UNKNOWNX\r\n", error::proxy_v1_bad_protocol);
}

TEST(proxy_v1, malformed) {
    expect_v1_error("PROXY \r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1  2\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4\r\n", error::proxy_v1_malformed);
    expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", error::proxy_v1_malformed);  // bare LF
    expect_v1_error("PROXY UNKNOWN\n", error::proxy_v1_malformed);
}

TEST(proxy_v1, bad_address) {
    for (const auto address :
         {"1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..3.4", "1.2.3.4.",
          "a.b.c.d", "1.2.3.-4", "1234.1.1.1", "::1", "+1.2.3.4"}) {
        expect_v1_error("PROXY TCP4 " + std::string(address) + " 1.2.3.4 1 2\r\n",
                        error::proxy_v1_bad_address);
    }
    // An address of the other family, in either position.
    expect_v1_error("PROXY TCP4 1.2.3.4 ::1 1 2\r\n", error::proxy_v1_bad_address);
    for (const auto address :
         {"1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", ":1:2:3:4:5:6:7",
          "1:2:3:4:5:6:7:", "12345::", "g::", "1:2:3:4:5:6:7:8::", "::1.2.3", "1.2.3.4::",
          "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "1.2.3.4", "::-1", "::0x1"}) {
        expect_v1_error("PROXY TCP6 " + std::string(address) + " ::1 1 2\r\n",
                        error::proxy_v1_bad_address);
    }
}

TEST(proxy_v1, bad_port) {
    for (const auto port : {"65536", "01", "00", "-1", "+1", "1a", "100000", "99999"}) {
        expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 " + std::string(port) + " 2\r\n",
                        error::proxy_v1_bad_port);
        expect_v1_error("PROXY TCP4 1.2.3.4 1.2.3.4 1 " + std::string(port) + "\r\n",
                        error::proxy_v1_bad_port);
    }
}

// ---- v2 -------------------------------------------------------------------------------------

TEST(proxy_v2, tcp4) { expect_spec_example(to_bytes(v2_tcp4), 2); }

TEST(proxy_v2, tcp6_with_tlvs_skipped) {
    const auto h = expect_header(to_bytes(v2_tcp6_tlvs));
    EXPECT_EQ(h.family, proxy_family::tcp6);
    EXPECT_EQ(h.source, v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, 40000));
    EXPECT_EQ(h.destination, v6({0, 0, 0, 0, 0, 0, 0, 1}, 1935));
    EXPECT_EQ(h.size, 16u + 47u);
}

TEST(proxy_v2, local_and_other_families_have_no_address) {
    for (const bytes& in : {to_bytes(v2_local), to_bytes(v2_local_with_block)}) {
        const auto h = expect_header(in);
        EXPECT_EQ(h.version, 2);
        EXPECT_EQ(h.command, proxy_command::local);
        EXPECT_EQ(h.family, proxy_family::none);
        EXPECT_EQ(h.source, proxy_address{});
    }
    const auto udp = expect_header(to_bytes(v2_udp4));
    EXPECT_EQ(udp.command, proxy_command::proxy);
    EXPECT_EQ(udp.family, proxy_family::none);
    // AF_UNSPEC under PROXY, with some octets it may carry; AF_UNIX with its two paths.
    EXPECT_EQ(expect_header(concat(v2_fixed(0x21, 0x00, 3), {1, 2, 3})).family, proxy_family::none);
    EXPECT_EQ(expect_header(concat(v2_fixed(0x21, 0x31, 216), bytes(216, 'p'))).family,
              proxy_family::none);
    // LOCAL ignores the family octet, even one that PROXY would refuse.
    EXPECT_EQ(expect_header(v2_fixed(0x20, 0xFF, 0)).command, proxy_command::local);
}

TEST(proxy_v2, longest_length_accepted) {
    bytes in = to_bytes(v2_tcp4);
    in[14] = static_cast<std::uint8_t>(proxy_v2_max_length >> 8);
    in[15] = static_cast<std::uint8_t>(proxy_v2_max_length & 0xFF);
    in.resize(proxy_v2_fixed_size + proxy_v2_max_length, 0x04);  // NOOP TLV octets
    const auto h = expect_header(in);
    EXPECT_EQ(h.source, v4(192, 168, 0, 1, 56324));
    EXPECT_EQ(h.size, proxy_v2_fixed_size + proxy_v2_max_length);
}

TEST(proxy_v2, bad_version) {
    expect_error(v2_fixed(0x11, 0x11, 12), error::proxy_v2_bad_version);
    expect_error(v2_fixed(0x31, 0x11, 12), error::proxy_v2_bad_version);
    expect_error(v2_fixed(0x01, 0x11, 12), error::proxy_v2_bad_version);
}

TEST(proxy_v2, bad_command) {
    expect_error(v2_fixed(0x22, 0x11, 12), error::proxy_v2_bad_command);
    expect_error(v2_fixed(0x2F, 0x11, 12), error::proxy_v2_bad_command);
}

TEST(proxy_v2, bad_family) {
    expect_error(v2_fixed(0x21, 0x41, 12), error::proxy_v2_bad_family);  // family 4
    expect_error(v2_fixed(0x21, 0x13, 12), error::proxy_v2_bad_family);  // transport 3
    expect_error(v2_fixed(0x21, 0xF0, 12), error::proxy_v2_bad_family);
}

TEST(proxy_v2, too_short) {
    expect_error(v2_fixed(0x21, 0x11, 11), error::proxy_v2_too_short);
    expect_error(v2_fixed(0x21, 0x12, 0), error::proxy_v2_too_short);
    expect_error(v2_fixed(0x21, 0x21, 35), error::proxy_v2_too_short);
    expect_error(v2_fixed(0x21, 0x22, 12), error::proxy_v2_too_short);
    expect_error(v2_fixed(0x21, 0x31, 215), error::proxy_v2_too_short);
}

TEST(proxy_v2, too_long) {
    expect_error(v2_fixed(0x21, 0x11, proxy_v2_max_length + 1), error::proxy_v2_too_long);
    expect_error(v2_fixed(0x20, 0x00, 0xFFFF), error::proxy_v2_too_long);
}

TEST(proxy_v2, not_a_header) {
    bytes in = to_bytes(v2_tcp4);
    in[11] = 0x0B;  // last signature octet
    expect_error(in, error::proxy_no_signature);
}

// ---- the parser's lifecycle -----------------------------------------------------------------

TEST(proxy_parser, consumes_nothing_once_done_and_repeats_its_error) {
    proxy_header_parser done;
    error_code ec;
    const bytes header = to_bytes(v1_tcp4);
    EXPECT_EQ(done.feed(header, ec), header.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(done.feed(client_data, ec), 0u);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(done.done());

    proxy_header_parser failed;
    failed.feed(to_bytes("PROXY TCP9 x\r\n"), ec);
    EXPECT_EQ(ec, error::proxy_v1_bad_protocol);
    EXPECT_EQ(failed.feed(header, ec), 0u);
    EXPECT_EQ(ec, error::proxy_v1_bad_protocol);
    EXPECT_FALSE(failed.done());
}

TEST(proxy_parser, empty_input_needs_more) {
    proxy_header_parser parser;
    error_code ec;
    EXPECT_EQ(parser.feed({}, ec), 0u);
    EXPECT_EQ(ec, error::need_more);
}

// ---- encoders -------------------------------------------------------------------------------

TEST(proxy_encode, v1_matches_the_spec_example) {
    EXPECT_EQ(make_proxy_v1_header(proxy_family::tcp4, v4(192, 168, 0, 1, 56324),
                                   v4(192, 168, 0, 11, 443)),
              to_bytes(v1_tcp4));
    EXPECT_EQ(make_proxy_v1_header(proxy_family::none, {}, {}), to_bytes(v1_unknown_short));
}

TEST(proxy_encode, v1_writes_ipv6_in_rfc5952_form) {
    const struct {
        std::array<std::uint16_t, 8> groups;
        std::string_view text;
    } cases[] = {
        {{0, 0, 0, 0, 0, 0, 0, 0}, "::"},
        {{0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
        {{1, 0, 0, 0, 0, 0, 0, 0}, "1::"},
        {{0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, "2001:db8::1"},
        {{0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}, "2001:db8:0:1:1:1:1:1"},  // one zero group stays
        {{0x2001, 0, 0, 1, 0, 0, 0, 1}, "2001:0:0:1::1"},             // the longest run
        {{1, 0, 0, 2, 0, 0, 3, 4}, "1::2:0:0:3:4"},                   // the first of equals
        {{0xABCD, 0xffff, 0x0f00, 0, 0, 0, 0xffff, 0x7f00}, "abcd:ffff:f00::ffff:7f00"},
    };
    for (const auto& c : cases) {
        const std::string expected = "PROXY TCP6 " + std::string(c.text) + " ::1 7 8\r\n";
        EXPECT_EQ(make_proxy_v1_header(proxy_family::tcp6, v6(c.groups, 7),
                                       v6({0, 0, 0, 0, 0, 0, 0, 1}, 8)),
                  to_bytes(expected));
    }
}

TEST(proxy_encode, v2_matches_the_wire_vector) {
    EXPECT_EQ(make_proxy_v2_header(proxy_family::tcp4, v4(192, 168, 0, 1, 56324),
                                   v4(192, 168, 0, 11, 443)),
              to_bytes(v2_tcp4));
    EXPECT_EQ(make_proxy_v2_header(proxy_family::none, {}, {}), v2_fixed(0x21, 0x00, 0));
}

TEST(proxy_encode, round_trips_through_the_parser) {
    const struct {
        proxy_family family;
        proxy_address source, destination;
    } cases[] = {
        {proxy_family::tcp4, v4(127, 0, 0, 1, 51234), v4(127, 0, 0, 1, 1935)},
        {proxy_family::tcp4, v4(255, 255, 255, 255, 65535), v4(0, 0, 0, 0, 0)},
        {proxy_family::tcp6, v6({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}, 1), v6({}, 0)},
        {proxy_family::tcp6,
         v6({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}, 65535),
         v6({0, 0, 0, 0, 0, 0xffff, 0x7f00, 1}, 443)},
        {proxy_family::none, {}, {}},
    };
    for (const auto& c : cases) {
        for (const int version : {1, 2}) {
            SCOPED_TRACE(version);
            const bytes wire = version == 1
                                   ? make_proxy_v1_header(c.family, c.source, c.destination)
                                   : make_proxy_v2_header(c.family, c.source, c.destination);
            const auto h = expect_header(wire);
            EXPECT_EQ(h.version, version);
            EXPECT_EQ(h.command, proxy_command::proxy);
            EXPECT_EQ(h.family, c.family);
            EXPECT_EQ(h.source, c.source);
            EXPECT_EQ(h.destination, c.destination);
            if (version == 1) {
                EXPECT_LE(wire.size(), proxy_v1_max_size);
            }
        }
    }
}

}  // namespace
}  // namespace rtmpgate::protocol
