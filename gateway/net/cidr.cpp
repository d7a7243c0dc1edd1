#include "gateway/net/cidr.hpp"

#include <algorithm>
#include <charconv>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

namespace {

// True when the first `bits` bits of `a` and `b` are equal.
bool same_prefix(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b, unsigned bits) {
    const unsigned whole = bits / 8, rest = bits % 8;
    if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

// True when no bit after the first `bits` is set.
bool zero_after(std::span<const std::uint8_t> a, unsigned bits) {
    for (unsigned i = bits; i < a.size() * 8; ++i)
        if (a[i / 8] & (0x80 >> (i % 8))) return false;
    return true;
}

}  // namespace

asio::ip::address unmapped(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    return address;
}

std::optional<cidr> cidr::parse(std::string_view text) {
    const auto slash = text.find('/');
    const auto address_text = std::string(text.substr(0, slash));
    // Asio takes a zone ("fe80::1%eth0"): a network has none.
    if (address_text.find('%') != std::string::npos) return std::nullopt;
    error_code ec;
    const auto address = asio::ip::make_address(address_text, ec);
    if (ec) return std::nullopt;

    const unsigned width = address.is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        // Decimal digits only, all of the rest: from_chars takes no sign or space for an
        // unsigned but stops at the first non-digit.
        if (digits.empty() || digits.size() > 3) return std::nullopt;
        const auto [end, err] =
            std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (err != std::errc() || end != digits.data() + digits.size() || prefix > width)
            return std::nullopt;
    }

    cidr c;
    if (address.is_v4()) {
        const auto b = address.to_v4().to_bytes();
        std::copy(b.begin(), b.end(), c.bytes_.begin());
        c.v4_ = true;
    } else {
        const auto v6 = address.to_v6();
        const auto b = v6.to_bytes();
        if (v6.is_v4_mapped() && prefix >= 96) {
            std::copy(b.begin() + 12, b.end(), c.bytes_.begin());
            c.v4_ = true;
            prefix -= 96;
        } else {
            std::copy(b.begin(), b.end(), c.bytes_.begin());
            c.v4_ = false;
        }
    }
    c.prefix_ = prefix;
    if (!zero_after(std::span(c.bytes_).first(c.v4_ ? 4 : 16), prefix)) return std::nullopt;
    return c;
}

bool cidr::contains(const asio::ip::address& address) const noexcept {
    const auto a = unmapped(address);
    if (a.is_v4() != v4_) return false;
    if (v4_) return same_prefix(a.to_v4().to_bytes(), std::span(bytes_).first(4), prefix_);
    return same_prefix(a.to_v6().to_bytes(), bytes_, prefix_);
}

std::string cidr::to_string() const {
    std::string address;
    if (v4_) {
        asio::ip::address_v4::bytes_type b{};
        std::copy_n(bytes_.begin(), 4, b.begin());
        address = asio::ip::address_v4(b).to_string();
    } else {
        address = asio::ip::address_v6(bytes_).to_string();
    }
    return address + "/" + std::to_string(prefix_);
}

bool contains_any(std::span<const cidr> networks, const asio::ip::address& address) noexcept {
    return std::any_of(networks.begin(), networks.end(),
                       [&](const cidr& n) { return n.contains(address); });
}

}  // namespace rtmpgate::gateway
