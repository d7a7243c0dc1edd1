// An IP network in CIDR notation and whether an address lies in it: what trusted_proxies lists
// (and access rules match clients against). "10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"; an
// address alone is the network of that one address (/32 or /128).
//
// An IPv4-mapped IPv6 address (::ffff:10.1.2.3, as a dual-stack socket or a PROXY v2 header may
// give it) is its IPv4 address everywhere: 10.0.0.0/8 contains it, ::ffff:10.0.0.0/104 is read as
// 10.0.0.0/8, and ::/0 (every IPv6 address) does not contain it.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rtmpgate::gateway {

namespace asio = boost::asio;

class cidr {
public:
    // nullopt unless `text` is exactly "<address>" or "<address>/<prefix>": an IPv4 address in
    // dotted-quad form or an IPv6 address without a zone, a prefix of decimal digits within the
    // address's width, and no bit set in the address after the prefix (10.0.0.1/8 is refused: a
    // typo for 10.0.0.1/32, or for 10.0.0.0/8, could widen what is trusted).
    static std::optional<cidr> parse(std::string_view text);

    bool contains(const asio::ip::address& address) const noexcept;

    bool is_v4() const noexcept { return v4_; }
    unsigned prefix_length() const noexcept { return prefix_; }
    // "10.0.0.0/8", "2001:db8::/32": the normal form (IPv4-mapped networks as IPv4).
    std::string to_string() const;

    friend bool operator==(const cidr&, const cidr&) = default;

private:
    cidr() = default;

    std::array<std::uint8_t, 16> bytes_{};  // the network; the first 4 for IPv4
    unsigned prefix_ = 0;
    bool v4_ = true;
};

// True when one of `networks` contains `address`.
bool contains_any(std::span<const cidr> networks, const asio::ip::address& address) noexcept;

// `address`, with an IPv4-mapped IPv6 address made the IPv4 address it maps.
asio::ip::address unmapped(const asio::ip::address& address);

}  // namespace rtmpgate::gateway
