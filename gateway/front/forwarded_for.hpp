// The client an HTTP proxy names in X-Forwarded-For or Forwarded (RFC 7239): parsed without I/O,
// so that the http front takes it from an RTMPT /open of a trusted proxy, and tests and odd
// inputs reach it directly.
//
// Both headers list one hop per comma-separated element, the client's side first, each proxy
// appending the address it received the request from. Only the right-most hops are believable:
// a hop is taken from the right while its address is a trusted proxy, and the first one that is
// not is the client. Everything to its left was written by that client, or by proxies nobody
// vouches for.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gateway/net/cidr.hpp"

namespace rtmpgate::gateway::front {

// Hops kept from a header's value: the right-most ones. A longer chain is cut on the left.
inline constexpr std::size_t max_forwarded_hops = 16;

struct forwarded_hop {
    // nullopt: the hop names no address ("unknown", an obfuscated "_name", no for= in a
    // Forwarded element, or text that is no address).
    std::optional<boost::asio::ip::address> address;
    std::uint16_t port = 0;  // 0: none given (or an obfuscated "_port")
};

struct forwarded_chain {
    std::vector<forwarded_hop> hops;  // left (the client's side) to right, at most the bound
    bool cut = false;                 // hops on the left were dropped for the bound
};

// X-Forwarded-For: "203.0.113.5, 10.0.0.2". An element is an IPv4 address, an IPv6 address bare
// or in brackets, either with a ":port" in the forms "1.2.3.4:80" and "[::1]:80", or "unknown".
// Empty elements (",,", a trailing comma) are no hops; OWS around elements is skipped. Several
// header lines are one value joined with commas, in order.
forwarded_chain parse_x_forwarded_for(std::string_view value);

// Forwarded: "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"".
// Each element is a ';'-separated list of name=value pairs (names case-insensitive, values a
// token or a quoted-string with \-escapes); its for= is the hop. An element whose syntax breaks
// (an unterminated quote, a pair without '=') is a hop without an address, as is the rest of the
// value after an unterminated quote.
forwarded_chain parse_forwarded(std::string_view value);

// The client as `chain` names it: walking from the right, the first hop whose address is not in
// `trusted`. nullopt when that hop names no address (the client cannot be known from here), when
// the chain is empty, or when every hop kept is trusted and hops were cut; when every hop is
// trusted and none was cut, the left-most. The port is the hop's (0 when it gave none).
std::optional<boost::asio::ip::tcp::endpoint> forwarded_client(const forwarded_chain& chain,
                                                               std::span<const cidr> trusted);

}  // namespace rtmpgate::gateway::front
