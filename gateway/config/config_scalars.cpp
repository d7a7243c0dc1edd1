#include "gateway/config/config_scalars.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <system_error>

namespace rtmpgate::gateway {

namespace {

template <class T>
scalar_result<T> reject(std::string reason) {
    return scalar_result<T>(boost::system::in_place_error, std::move(reason));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct unit {
    std::string_view suffix;
    std::uint64_t factor;
};

// "<digits><suffix>" where suffix is one of `units` (the empty suffix included where allowed).
// The grammar is deliberately narrow: no sign, no fraction, no space, so "1.5s", "-1s", "5 s"
// and "5 parsecs" all fail the same way and the message can show the accepted forms.
template <std::size_t n>
scalar_result<std::uint64_t> parse_scaled(std::string_view text, const std::array<unit, n>& units,
                                          std::string_view forms) {
    if (!text.empty() && text.front() == '-') {
        return reject<std::uint64_t>("must not be negative (got " + quote_value(text) + ")");
    }
    const auto digits_end = std::find_if_not(text.begin(), text.end(), is_digit);
    const std::string_view digits(text.begin(), digits_end);
    const std::string_view suffix(digits_end, text.end());
    const auto u = std::find_if(units.begin(), units.end(),
                                [&](const unit& candidate) { return candidate.suffix == suffix; });
    if (digits.empty() || u == units.end()) {
        return reject<std::uint64_t>("expected " + std::string(forms) + " (got " +
                                     quote_value(text) + ")");
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc::result_out_of_range ||
        value > std::numeric_limits<std::uint64_t>::max() / u->factor) {
        return reject<std::uint64_t>("too large (got " + quote_value(text) + ")");
    }
    return value * u->factor;
}

// "1935" -> 1935; at most 65535.
bool parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit)) {
        return false;
    }
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

bool is_ip_address(int family, std::string_view text) {
    if (text.size() >= INET6_ADDRSTRLEN) return false;
    std::array<unsigned char, sizeof(in6_addr)> storage{};
    const std::string terminated(text);
    return inet_pton(family, terminated.c_str(), storage.data()) == 1;
}

// "10.0.0.999" passes as a host name but is surely a mistyped address.
bool looks_numeric(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

// Splits "host:port" or "[v6]:port". `port_text` is empty when no ":port" was written (and
// "host:" is an empty port, not a missing one). Returns false when the brackets or colons do not
// fit either form.
bool split_host_port(std::string_view text, std::string_view& host,
                     std::optional<std::string_view>& port_text, bool& bracketed) {
    port_text.reset();
    bracketed = !text.empty() && text.front() == '[';
    if (bracketed) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return false;
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':') return false;
        port_text = rest.substr(1);
        return true;
    }
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        host = text;
        return true;
    }
    // A second colon means an IPv6 address without brackets: ambiguous with the port.
    if (text.find(':', colon + 1) != std::string_view::npos) return false;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    return true;
}

}  // namespace

scalar_result<milliseconds> parse_duration(std::string_view text) {
    static constexpr std::array<unit, 5> units{
        {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
    auto ms = parse_scaled(text, units,
                           "a whole number with a unit ms, s, m or h, e.g. 200ms or 45s "
                           "(a plain number is milliseconds)");
    if (!ms) return reject<milliseconds>(std::move(ms.error()));
    if (*ms > static_cast<std::uint64_t>(std::numeric_limits<milliseconds::rep>::max())) {
        return reject<milliseconds>("too large (got " + quote_value(text) + ")");
    }
    return milliseconds(static_cast<milliseconds::rep>(*ms));
}

scalar_result<std::uint64_t> parse_size(std::string_view text) {
    static constexpr std::array<unit, 4> units{{{"", 1},
                                                {"KiB", std::uint64_t{1} << 10},
                                                {"MiB", std::uint64_t{1} << 20},
                                                {"GiB", std::uint64_t{1} << 30}}};
    return parse_scaled(text, units,
                        "a whole number with a unit KiB, MiB or GiB, e.g. 64KiB or 4MiB "
                        "(a plain number is bytes)");
}

scalar_result<std::uint64_t> parse_unsigned(std::string_view text) {
    static constexpr std::array<unit, 1> units{{{"", 1}}};
    return parse_scaled(text, units, "a whole number");
}

scalar_result<endpoint> parse_endpoint(std::string_view text) {
    if (text.empty()) return endpoint{};
    const auto form = [&] {
        return " (got " + quote_value(text) +
               "; expected IPv4:port, [IPv6]:port, or \"\" to disable)";
    };
    std::string_view host;
    std::optional<std::string_view> port_text;
    bool bracketed = false;
    if (!split_host_port(text, host, port_text, bracketed)) {
        return reject<endpoint>("not an address and port" + form());
    }
    if (!port_text) return reject<endpoint>("missing :port" + form());
    std::uint16_t port = 0;
    if (!parse_port(*port_text, port)) {
        return reject<endpoint>("port must be a number from 0 to 65535" + form());
    }
    // Listeners bind, so the host must be an address: names would need resolving and may yield
    // several addresses.
    if (!is_ip_address(bracketed ? AF_INET6 : AF_INET, host)) {
        return reject<endpoint>(
            std::string(bracketed ? "not an IPv6 address" : "not an IPv4 address") + form());
    }
    return endpoint{std::string(host), port, true};
}

scalar_result<route_target> parse_route_target(std::string_view text) {
    const auto form = [&] {
        return " (got " + quote_value(text) +
               "; expected engine, rtmp://host[:port] or rtmps://host[:port])";
    };
    if (text == "engine") return route_target{};

    route_target target;
    target.to_engine = false;
    std::string_view rest;
    if (text.starts_with("rtmp://")) {
        rest = text.substr(7);
        target.backend.port = 1935;
    } else if (text.starts_with("rtmps://")) {
        rest = text.substr(8);
        target.backend.port = 443;
        target.backend.tls = true;
    } else {
        return reject<route_target>("unknown target" + form());
    }
    if (rest.find_first_of("/?#@") != std::string_view::npos) {
        return reject<route_target>(
            "must be only a scheme, host and port: the client's app and stream go to the backend "
            "unchanged" +
            form());
    }
    std::string_view host;
    std::optional<std::string_view> port_text;
    bool bracketed = false;
    if (!split_host_port(rest, host, port_text, bracketed)) {
        return reject<route_target>("not a host and port" + form());
    }
    const bool host_ok =
        bracketed ? is_ip_address(AF_INET6, host)
                  : is_host_name(host) && (!looks_numeric(host) || is_ip_address(AF_INET, host));
    if (!host_ok) return reject<route_target>("not a host name or address" + form());
    if (port_text && (!parse_port(*port_text, target.backend.port) || target.backend.port == 0)) {
        return reject<route_target>("port must be a number from 1 to 65535" + form());
    }
    target.backend.host = std::string(host);
    return target;
}

scalar_result<push_target> parse_push_target(std::string_view text) {
    const auto form = [&] {
        return " (got " + quote_value(text) +
               "; expected rtmp://host[:port]/app[/name] or rtmps://host[:port]/app[/name])";
    };
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || !text.starts_with("rtmp"))
        return reject<push_target>("unknown target" + form());
    const auto slash = text.find('/', scheme_end + 3);
    if (slash == std::string_view::npos)
        return reject<push_target>("needs an application after the host" + form());
    auto server = parse_route_target(text.substr(0, slash));
    if (!server || server->to_engine)
        return reject<push_target>("not a host name or address and port" + form());
    const auto path = text.substr(slash + 1);
    const auto cut = path.find('/');
    const auto app = path.substr(0, cut);
    const auto name = cut == std::string_view::npos ? std::string_view() : path.substr(cut + 1);
    const auto plain = [](std::string_view part) {
        return part.size() <= 256 && std::all_of(part.begin(), part.end(), [](char c) {
                   return c > 0x20 && c < 0x7F && c != '?' && c != '#';
               });
    };
    if (app.empty()) return reject<push_target>("needs an application after the host" + form());
    if (!plain(app) || !plain(name))
        return reject<push_target>(
            "application and name must be printable, without spaces, '?' or '#'" + form());
    if (cut != std::string_view::npos && name.empty())
        return reject<push_target>("ends in '/': leave the name out to keep the stream's" + form());
    return push_target{server->backend, std::string(app), std::string(name)};
}

std::string quote_value(std::string_view text) {
    constexpr std::size_t shown = 64;
    std::string out = "\"";
    out.append(text.substr(0, shown));
    if (text.size() > shown) out += "...";
    out += '"';
    return out;
}

bool is_host_name(std::string_view text, bool allow_wildcard) {
    if (allow_wildcard && text.starts_with("*.")) text.remove_prefix(2);
    if (text.empty() || text.size() > 253) return false;
    std::size_t label_start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == '.') {
            const auto label = text.substr(label_start, i - label_start);
            if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
                return false;
            }
            label_start = i + 1;
            continue;
        }
        const char c = text[i];
        const bool allowed =
            is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!allowed) return false;
    }
    return true;
}

std::string format_duration(milliseconds value) {
    const auto ms = value.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<unit, 3> units{{{"GiB", std::uint64_t{1} << 30},
                                                {"MiB", std::uint64_t{1} << 20},
                                                {"KiB", std::uint64_t{1} << 10}}};
    for (const auto& u : units) {
        if (bytes != 0 && bytes % u.factor == 0)
            return std::to_string(bytes / u.factor) + std::string(u.suffix);
    }
    return std::to_string(bytes);
}

}  // namespace rtmpgate::gateway
