#include "gateway/front/forwarded_for.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace rtmpgate::gateway::front {

namespace {

using boost::asio::ip::address;

constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// An address in its plain text form, without zone, brackets or port.
std::optional<address> to_address(std::string_view text) {
    // Hex digits, '.' and ':' only: no zone ("%eth0"), and no NUL that would end the text early
    // for the parser underneath.
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
    });
    if (text.empty() || text.size() > 45 || !plain) return std::nullopt;
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return a;
}

// 1..65535 in decimal digits only; 0 otherwise (an obfuscated "_port" included).
std::uint16_t to_port(std::string_view text) {
    unsigned value = 0;
    if (text.empty() || text.size() > 5) return 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return 0;
    return static_cast<std::uint16_t>(value);
}

// A node: "1.2.3.4", "1.2.3.4:80", "[::1]", "[::1]:80", and, as X-Forwarded-For writes it, a bare
// "::1". "unknown", "_hidden" and anything else name no address.
forwarded_hop to_hop(std::string_view node) {
    forwarded_hop hop;
    if (node.starts_with('[')) {
        const auto close = node.find(']');
        if (close == std::string_view::npos) return hop;
        const auto rest = node.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return hop;
        hop.address = to_address(node.substr(1, close - 1));
        if (hop.address && hop.address->is_v4()) hop.address.reset();  // "[1.2.3.4]" is no form
        if (hop.address && !rest.empty()) hop.port = to_port(rest.substr(1));
        return hop;
    }
    const auto colon = node.find(':');
    if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
        // One colon: IPv4 with a port (a bare IPv6 address has at least two).
        hop.address = to_address(node.substr(0, colon));
        if (hop.address && hop.address->is_v4())
            hop.port = to_port(node.substr(colon + 1));
        else
            hop.address.reset();
        return hop;
    }
    hop.address = to_address(node);
    return hop;
}

// Keeps the right-most max_forwarded_hops of what is added.
void add(forwarded_chain& chain, forwarded_hop hop) {
    if (chain.hops.size() == max_forwarded_hops) {
        chain.hops.erase(chain.hops.begin());
        chain.cut = true;
    }
    chain.hops.push_back(hop);
}

// RFC 7230 3.2.6 tchar.
constexpr bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Reads a Forwarded element's pairs from `s` at `i` up to the ',' that ends the element (or the
// end), and gives its for= node. `ok` turns false on broken syntax; the element is then skipped
// to its end as far as it can be told.
struct element_reader {
    std::string_view s;
    std::size_t i = 0;

    void skip_ows() {
        while (i < s.size() && is_ows(s[i])) ++i;
    }

    // A token or a quoted-string (unescaped into `out`); false when broken.
    bool value(std::string& out) {
        if (i < s.size() && s[i] == '"') {
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\') ++i;
                if (i >= s.size()) return false;
                out += s[i++];
                if (out.size() > 256) return false;  // no node is this long
            }
            if (i >= s.size()) return false;
            ++i;
            return true;
        }
        const auto start = i;
        // Brackets and ':' are not tchars: an unquoted "[::1]:80" is read too, leniently.
        while (i < s.size() && (is_tchar(s[i]) || s[i] == '[' || s[i] == ']' || s[i] == ':')) ++i;
        out.assign(s.substr(start, i - start));
        return i > start;
    }

    // One element; its hop (no address when it has no for= or breaks).
    forwarded_hop element() {
        forwarded_hop hop;
        bool ok = true, has_for = false;
        std::string node;
        for (;;) {
            skip_ows();
            if (i >= s.size() || s[i] == ',') break;
            const auto start = i;
            while (i < s.size() && is_tchar(s[i])) ++i;
            const auto name = s.substr(start, i - start);
            if (name.empty() || i >= s.size() || s[i] != '=') {
                ok = false;
                break;
            }
            ++i;
            std::string v;
            if (!value(v)) {
                ok = false;
                break;
            }
            if (iequals(name, "for")) {
                if (has_for) ok = false;  // two for= in one element: which one?
                has_for = true;
                node = std::move(v);
            }
            skip_ows();
            if (i < s.size() && s[i] == ';') {
                ++i;
                continue;
            }
            if (i < s.size() && s[i] != ',') ok = false;
            break;
        }
        if (!ok) {
            // Past the element; a quote that never closes takes the rest of the value with it.
            bool quoted = false;
            while (i < s.size() && (quoted || s[i] != ',')) {
                if (s[i] == '"') quoted = !quoted;
                if (quoted && s[i] == '\\') ++i;
                ++i;
            }
            return hop;
        }
        return has_for ? to_hop(node) : hop;
    }
};

}  // namespace

forwarded_chain parse_x_forwarded_for(std::string_view value) {
    forwarded_chain chain;
    while (!value.empty()) {
        const auto comma = value.find(',');
        const auto element = trim(value.substr(0, comma));
        if (!element.empty()) add(chain, to_hop(element));
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return chain;
}

forwarded_chain parse_forwarded(std::string_view value) {
    forwarded_chain chain;
    element_reader r{value};
    while (r.i < value.size()) {
        r.skip_ows();
        if (r.i < value.size() && value[r.i] == ',') {  // an empty element
            ++r.i;
            continue;
        }
        if (r.i >= value.size()) break;
        add(chain, r.element());
        if (r.i < value.size()) ++r.i;  // the ','
    }
    return chain;
}

std::optional<boost::asio::ip::tcp::endpoint> forwarded_client(const forwarded_chain& chain,
                                                               std::span<const cidr> trusted) {
    const auto& hops = chain.hops;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        if (!it->address) return std::nullopt;
        if (contains_any(trusted, *it->address)) continue;
        return boost::asio::ip::tcp::endpoint(unmapped(*it->address), it->port);
    }
    // Proxies all the way: the left-most is the client, unless hops further left were cut.
    if (hops.empty() || chain.cut) return std::nullopt;
    return boost::asio::ip::tcp::endpoint(unmapped(*hops.front().address), hops.front().port);
}

}  // namespace rtmpgate::gateway::front
