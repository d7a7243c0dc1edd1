// hook_url (access/hook_client.hpp): the URLs of hooks.on_connect and the others, read strictly
// so that a typo stops start-up rather than refusing every client later.
#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "gateway/access/hook_client.hpp"
#include "gateway/config/config_scalars.hpp"

namespace rtmpgate::gateway::access {

namespace {

// Longer than any hook URL an operator writes; keeps the request line of every call short.
constexpr std::size_t max_url_length = 2048;

// What the path and query may hold: printable ASCII without space, '#' (a fragment is never sent)
// or the characters RFC 3986 leaves out of URIs ("<>\"{}|\\^`"), which servers read differently.
bool is_target_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
    return std::string_view("#<>\"{}|\\^`").find(c) == std::string_view::npos;
}

}  // namespace

std::optional<hook_url> hook_url::parse(std::string_view text) {
    if (text.size() > max_url_length) return std::nullopt;
    hook_url url;
    std::string_view rest;
    if (text.starts_with("http://")) {
        rest = text.substr(7);
    } else if (text.starts_with("https://")) {
        url.tls = true;
        url.port = 443;
        rest = text.substr(8);
    } else {
        return std::nullopt;
    }

    const auto authority_end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, authority_end);
    const auto target =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // user info

    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
            if (port.empty()) return std::nullopt;
        }
        boost::system::error_code ec;
        const auto v6 = asio::ip::make_address_v6(std::string(host), ec);
        if (ec || v6.scope_id() != 0) return std::nullopt;  // no zones: "%" is not a URL octet
    } else {
        const auto colon = authority.find(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
            if (port.empty()) return std::nullopt;
        }
        boost::system::error_code ec;
        asio::ip::make_address_v4(std::string(host), ec);
        // Digits and dots that are no IPv4 address ("10.0.0.256", "10.1") are a typo, not a name:
        // no top-level domain is all digits, and resolvers read some of them as addresses.
        const bool numeric = host.find_first_not_of("0123456789.") == std::string_view::npos;
        if (ec && (numeric || !is_host_name(host))) return std::nullopt;
    }
    if (host.empty()) return std::nullopt;
    if (!port.empty()) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || port.size() > 5 || value < 1 ||
            value > 65535 || port.front() == '+') {
            return std::nullopt;
        }
        url.port = static_cast<std::uint16_t>(value);
    }

    for (const char c : target) {
        if (!is_target_char(c)) return std::nullopt;
    }
    url.host = std::string(host);
    if (target.empty() || target.front() == '?')
        url.target = "/" + std::string(target);
    else
        url.target = std::string(target);
    return url;
}

std::string hook_url::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string text = tls ? "https://" : "http://";
    text += v6 ? "[" + host + "]" : host;
    if (port != (tls ? 443 : 80)) text += ":" + std::to_string(port);
    return text + target;
}

}  // namespace rtmpgate::gateway::access
