#include "protocol/proxy_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "protocol/byte_reader.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol {
namespace {

constexpr std::array<std::uint8_t, 6> v1_signature{'P', 'R', 'O', 'X', 'Y', ' '};
// Spec 2.2: chosen to be rejected by the protocols a PROXY header may land on by mistake.
constexpr std::array<std::uint8_t, 12> v2_signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// v2, spec 2.2: the version and command octet, the family and transport octet.
constexpr std::uint8_t v2_version = 0x2;
constexpr std::uint8_t v2_command_local = 0x0;
constexpr std::uint8_t v2_command_proxy = 0x1;
constexpr std::uint8_t v2_family_unspec = 0x0;
constexpr std::uint8_t v2_family_inet = 0x1;
constexpr std::uint8_t v2_family_inet6 = 0x2;
constexpr std::uint8_t v2_family_unix = 0x3;
constexpr std::uint8_t v2_transport_stream = 0x1;
constexpr std::uint8_t v2_transport_dgram = 0x2;
// Address block sizes: two addresses and two ports; AF_UNIX has two 108-octet paths.
constexpr std::size_t v2_inet_block = 2 * 4 + 2 * 2;
constexpr std::size_t v2_inet6_block = 2 * 16 + 2 * 2;
constexpr std::size_t v2_unix_block = 2 * 108;

constexpr std::size_t ipv4_size = 4;
constexpr std::size_t ipv6_groups = 8;

enum class prefix_match : std::uint8_t { no, partial, full };

template <std::size_t N>
prefix_match match(std::span<const std::uint8_t> in, const std::array<std::uint8_t, N>& sig) {
    const std::size_t n = std::min(in.size(), N);
    if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), sig.begin()))
        return prefix_match::no;
    return n == N ? prefix_match::full : prefix_match::partial;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Decimal without leading zeros ("0" itself is fine), at most `max`. Spec 2.1 forbids leading
// zeros in ports and address octets "to avoid any possible confusion with octal numbers".
bool parse_decimal(std::string_view s, std::uint32_t max, std::uint32_t& value) noexcept {
    if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) return false;
    if (!std::all_of(s.begin(), s.end(), is_digit)) return false;
    value = 0;
    std::from_chars(s.data(), s.data() + s.size(), value);
    return value <= max;
}

bool parse_dotted_quad(std::string_view s, std::uint8_t* out) noexcept {
    for (std::size_t i = 0; i < ipv4_size; ++i) {
        const auto dot = i + 1 < ipv4_size ? s.find('.') : s.size();
        if (dot == std::string_view::npos) return false;
        std::uint32_t octet = 0;
        if (dot > 3 || !parse_decimal(s.substr(0, dot), 255, octet)) return false;
        out[i] = static_cast<std::uint8_t>(octet);
        s.remove_prefix(std::min(dot + 1, s.size()));
    }
    return true;
}

bool parse_hex_group(std::string_view s, std::uint16_t& group) noexcept {
    if (s.empty() || s.size() > 4) return false;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), group, 16);
    // from_chars takes no sign or "0x" here, so consuming everything means all hex digits.
    return ec == std::errc{} && end == s.data() + s.size();
}

// The colon-separated groups of one side of "::" (or of a whole address without one) into
// `groups` from `count` on. The last piece may be a dotted quad (two groups) when `v4_tail`.
bool parse_ipv6_groups(std::string_view s, bool v4_tail, std::array<std::uint16_t, 8>& groups,
                       std::size_t& count) noexcept {
    while (true) {
        const auto colon = s.find(':');
        const std::string_view piece = s.substr(0, colon);
        if (colon == std::string_view::npos && v4_tail && piece.find('.') != piece.npos) {
            std::array<std::uint8_t, ipv4_size> quad{};
            if (count + 2 > ipv6_groups || !parse_dotted_quad(piece, quad.data())) return false;
            groups[count++] = static_cast<std::uint16_t>(quad[0] << 8 | quad[1]);
            groups[count++] = static_cast<std::uint16_t>(quad[2] << 8 | quad[3]);
            return true;
        }
        if (count == ipv6_groups || !parse_hex_group(piece, groups[count])) return false;
        ++count;
        if (colon == std::string_view::npos) return true;
        s.remove_prefix(colon + 1);
    }
}

// IPv6 text as spec 2.1 and RFC 4291 2.2 give it: 1 to 4 hex digits a group, one "::" at most
// standing for one or more zero groups, an optional dotted quad in the last 32 bits (what
// inet_ntop writes for IPv4-mapped addresses); no zone id, 128 bits in all.
bool parse_ipv6(std::string_view s, std::uint8_t* out) noexcept {
    std::array<std::uint16_t, 8> head{}, tail{};
    std::size_t head_count = 0, tail_count = 0;
    const auto gap = s.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_ipv6_groups(s, true, head, head_count) || head_count != ipv6_groups)
            return false;
    } else {
        const std::string_view before = s.substr(0, gap), after = s.substr(gap + 2);
        if (after.find("::") != std::string_view::npos) return false;
        if (!before.empty() && !parse_ipv6_groups(before, false, head, head_count)) return false;
        if (!after.empty() && !parse_ipv6_groups(after, true, tail, tail_count)) return false;
        if (head_count + tail_count >= ipv6_groups) return false;
    }
    std::array<std::uint16_t, 8> groups{};
    std::copy_n(head.begin(), head_count, groups.begin());
    std::copy_n(tail.begin(), tail_count, groups.end() - static_cast<std::ptrdiff_t>(tail_count));
    for (std::size_t i = 0; i < ipv6_groups; ++i) {
        out[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
        out[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
    }
    return true;
}

// "PROXY " is stripped and CRLF checked: `body` is "<protocol>[ <fields>]".
result<proxy_header> parse_v1_body(std::string_view body) {
    std::array<std::string_view, 5> fields;
    std::size_t count = 0;
    while (true) {
        const auto space = body.find(' ');
        if (count == fields.size()) return error::proxy_v1_malformed;  // a sixth field
        fields[count++] = body.substr(0, space);
        // "UNKNOWN": spec 2.1, "the receiver must ignore anything presented before the CRLF".
        if (count == 1 && fields[0] == "UNKNOWN") return proxy_header{};
        if (space == std::string_view::npos) break;
        body.remove_prefix(space + 1);
    }
    if (fields[0].empty()) return error::proxy_v1_malformed;
    proxy_header header;
    if (fields[0] == "TCP4")
        header.family = proxy_family::tcp4;
    else if (fields[0] == "TCP6")
        header.family = proxy_family::tcp6;
    else
        return error::proxy_v1_bad_protocol;
    if (count != fields.size() ||
        std::any_of(fields.begin(), fields.end(), [](auto f) { return f.empty(); }))
        return error::proxy_v1_malformed;

    const auto parse_address = header.family == proxy_family::tcp4 ? parse_dotted_quad : parse_ipv6;
    if (!parse_address(fields[1], header.source.octets.data()) ||
        !parse_address(fields[2], header.destination.octets.data()))
        return error::proxy_v1_bad_address;
    std::uint32_t source_port = 0, destination_port = 0;
    if (!parse_decimal(fields[3], 65535, source_port) ||
        !parse_decimal(fields[4], 65535, destination_port))
        return error::proxy_v1_bad_port;
    header.source.port = static_cast<std::uint16_t>(source_port);
    header.destination.port = static_cast<std::uint16_t>(destination_port);
    return header;
}

void write_address(byte_writer& w, proxy_family family, const proxy_address& a) {
    w.bytes(std::span(a.octets).first(family == proxy_family::tcp4 ? 4 : 16));
}

void append_ipv4_text(std::string& out, const proxy_address& a) {
    for (std::size_t i = 0; i < ipv4_size; ++i) {
        if (i != 0) out += '.';
        out += std::to_string(a.octets[i]);
    }
}

// RFC 5952 4: lower case, no leading zeros, the longest run of two or more zero groups (the
// first of equal runs) written "::".
void append_ipv6_text(std::string& out, const proxy_address& a) {
    std::array<std::uint16_t, 8> groups{};
    byte_reader reader(a.octets);
    for (auto& g : groups) reader.read_u16be(g);
    std::size_t best_start = ipv6_groups, best_length = 1;
    for (std::size_t i = 0; i < ipv6_groups;) {
        std::size_t j = i;
        while (j < ipv6_groups && groups[j] == 0) ++j;
        if (j - i > best_length) best_start = i, best_length = j - i;
        i = std::max(i + 1, j);
    }
    std::array<char, 4> digits{};
    for (std::size_t i = 0; i < ipv6_groups; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_length - 1;
            continue;
        }
        if (i != 0 && i != best_start + best_length) out += ':';
        const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), groups[i], 16);
        out.append(digits.data(), end.ptr);
    }
}

}  // namespace

proxy_detection detect_proxy_header(std::span<const std::uint8_t> first_octets) noexcept {
    const auto v1 = match(first_octets, v1_signature);
    const auto v2 = match(first_octets, v2_signature);
    if (v1 == prefix_match::full) return proxy_detection::v1;
    if (v2 == prefix_match::full) return proxy_detection::v2;
    if (v1 == prefix_match::partial || v2 == prefix_match::partial)
        return proxy_detection::need_more;
    return proxy_detection::absent;
}

std::size_t proxy_header_parser::fail(error_code e, std::size_t consumed, error_code& ec) {
    stage_ = stage::failed;
    failure_ = e;
    ec = e;
    return consumed;
}

std::size_t proxy_header_parser::feed(std::span<const std::uint8_t> in, error_code& ec) {
    ec = {};
    if (stage_ == stage::failed) {
        ec = failure_;
        return 0;
    }
    if (stage_ == stage::done) return 0;
    std::size_t used = 0;
    // One octet at a time until the signature decides: a v1 or v2 header, or none at all.
    while (stage_ == stage::detect) {
        if (used == in.size()) {
            ec = error::need_more;
            return used;
        }
        buffer_[buffered_++] = in[used++];
        switch (detect_proxy_header(std::span(buffer_).first(buffered_))) {
            case proxy_detection::need_more:
                break;
            case proxy_detection::absent:
                return fail(error::proxy_no_signature, used, ec);
            case proxy_detection::v1:
                stage_ = stage::v1_line;
                break;
            case proxy_detection::v2:
                stage_ = stage::v2_fixed;
                break;
        }
    }
    const auto rest = in.subspan(used);
    return used + (stage_ == stage::v1_line ? feed_v1(rest, ec) : feed_v2(rest, ec));
}

std::size_t proxy_header_parser::feed_v1(std::span<const std::uint8_t> in, error_code& ec) {
    for (std::size_t used = 0; used < in.size();) {
        const std::uint8_t octet = in[used++];
        buffer_[buffered_++] = octet;
        if (octet == '\n') {
            // Spec 2.1: "must not tolerate a single CR or LF character to end the line".
            if (buffer_[buffered_ - 2] != '\r') return fail(error::proxy_v1_malformed, used, ec);
            const std::string_view line(reinterpret_cast<const char*>(buffer_.data()), buffered_);
            auto header = parse_v1_body(
                line.substr(v1_signature.size(), buffered_ - v1_signature.size() - 2));
            if (!header) return fail(header.error(), used, ec);
            header_ = *header;
            header_.version = 1;
            header_.command = proxy_command::proxy;
            header_.size = buffered_;
            stage_ = stage::done;
            return used;
        }
        // Decided at the 107th octet rather than the 108th, so that the outcome does not depend
        // on whether another octet has arrived.
        if (buffered_ == proxy_v1_max_size) return fail(error::proxy_v1_too_long, used, ec);
    }
    ec = error::need_more;
    return in.size();
}

std::size_t proxy_header_parser::feed_v2(std::span<const std::uint8_t> in, error_code& ec) {
    std::size_t used = 0;
    if (stage_ == stage::v2_fixed) {
        const std::size_t take = std::min(in.size(), proxy_v2_fixed_size - buffered_);
        std::copy_n(in.begin(), take, buffer_.begin() + static_cast<std::ptrdiff_t>(buffered_));
        buffered_ += take;
        used += take;
        if (buffered_ < proxy_v2_fixed_size) {
            ec = error::need_more;
            return used;
        }
        byte_reader fixed{std::span(buffer_).subspan(v2_signature.size(), 4)};
        std::uint8_t version_command = 0, family_transport = 0;
        std::uint16_t length = 0;
        fixed.read_u8(version_command);
        fixed.read_u8(family_transport);
        fixed.read_u16be(length);
        const std::uint8_t command = version_command & 0x0F;
        const std::uint8_t family = family_transport >> 4, transport = family_transport & 0x0F;
        if (version_command >> 4 != v2_version) return fail(error::proxy_v2_bad_version, used, ec);
        if (command != v2_command_local && command != v2_command_proxy)
            return fail(error::proxy_v2_bad_command, used, ec);
        // LOCAL: spec 2.2, "discard the protocol block including the family which is ignored".
        if (command == v2_command_proxy) {
            if (family > v2_family_unix || transport > v2_transport_dgram)
                return fail(error::proxy_v2_bad_family, used, ec);
            const std::size_t minimum = family == v2_family_inet    ? v2_inet_block
                                        : family == v2_family_inet6 ? v2_inet6_block
                                        : family == v2_family_unix  ? v2_unix_block
                                                                    : 0;
            if (length < minimum) return fail(error::proxy_v2_too_short, used, ec);
        }
        if (length > proxy_v2_max_length) return fail(error::proxy_v2_too_long, used, ec);
        v2_length_ = length;
        header_.version = 2;
        header_.command = command == v2_command_proxy ? proxy_command::proxy : proxy_command::local;
        if (command == v2_command_proxy && transport == v2_transport_stream) {
            if (family == v2_family_inet) header_.family = proxy_family::tcp4;
            if (family == v2_family_inet6) header_.family = proxy_family::tcp6;
        }
        stage_ = stage::v2_block;
    }

    // The address block: the part that holds TCP addresses is kept, the rest (TLVs, AF_UNIX
    // paths, a longer block of an unused family) is counted and dropped.
    const std::size_t take = std::min(in.size() - used, v2_length_ - v2_block_);
    const std::size_t keep =
        std::min(v2_block_ + take, v2_inet6_block) - std::min(v2_block_, v2_inet6_block);
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(used), keep,
                buffer_.begin() + static_cast<std::ptrdiff_t>(buffered_));
    buffered_ += keep;
    v2_block_ += take;
    used += take;
    if (v2_block_ < v2_length_) {
        ec = error::need_more;
        return used;
    }

    if (header_.family != proxy_family::none) {
        const std::size_t size = header_.family == proxy_family::tcp4 ? 4 : 16;
        byte_reader block{std::span(buffer_).subspan(proxy_v2_fixed_size, 2 * size + 4)};
        std::span<const std::uint8_t> source, destination;
        block.read_bytes(size, source);
        block.read_bytes(size, destination);
        std::copy(source.begin(), source.end(), header_.source.octets.begin());
        std::copy(destination.begin(), destination.end(), header_.destination.octets.begin());
        block.read_u16be(header_.source.port);
        block.read_u16be(header_.destination.port);
    }
    header_.size = proxy_v2_fixed_size + v2_length_;
    stage_ = stage::done;
    return used;
}

std::vector<std::uint8_t> make_proxy_v1_header(proxy_family family, const proxy_address& source,
                                               const proxy_address& destination) {
    std::string line(v1_signature.begin(), v1_signature.end());
    if (family == proxy_family::none) {
        line += "UNKNOWN";
    } else {
        const auto append = family == proxy_family::tcp4 ? append_ipv4_text : append_ipv6_text;
        line += family == proxy_family::tcp4 ? "TCP4 " : "TCP6 ";
        append(line, source);
        line += ' ';
        append(line, destination);
        line += ' ' + std::to_string(source.port) + ' ' + std::to_string(destination.port);
    }
    line += "\r\n";
    return {line.begin(), line.end()};
}

std::vector<std::uint8_t> make_proxy_v2_header(proxy_family family, const proxy_address& source,
                                               const proxy_address& destination) {
    std::vector<std::uint8_t> out;
    byte_writer w(out);
    w.bytes(v2_signature);
    w.u8(v2_version << 4 | v2_command_proxy);
    switch (family) {
        case proxy_family::none:
            w.u8(v2_family_unspec << 4);
            w.u16be(0);
            return out;
        case proxy_family::tcp4:
            w.u8(v2_family_inet << 4 | v2_transport_stream);
            w.u16be(v2_inet_block);
            break;
        case proxy_family::tcp6:
            w.u8(v2_family_inet6 << 4 | v2_transport_stream);
            w.u16be(v2_inet6_block);
            break;
    }
    write_address(w, family, source);
    write_address(w, family, destination);
    w.u16be(source.port);
    w.u16be(destination.port);
    return out;
}

}  // namespace rtmpgate::protocol
