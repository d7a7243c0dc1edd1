#include "gateway/web/web_target.hpp"

#include <optional>
#include <vector>

namespace rtmpgate::gateway::web {

namespace {

constexpr std::size_t max_segments = 4;  // more than any path served here

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A path segment with its %XX escapes decoded (a browser escapes what a stream name may hold);
// nullopt when it is empty or malformed, or decodes to a separator or a control character.
std::optional<std::string> decode_segment(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (s.size() - i < 3) return std::nullopt;
            const int high = hex_value(s[i + 1]);
            const int low = hex_value(s[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        }
        const auto octet = static_cast<unsigned char>(c);
        if (c == '/' || octet < 0x20 || octet == 0x7F) return std::nullopt;
        out.push_back(c);
    }
    return out;
}

}  // namespace

web_target parse_web_target(std::string_view target) {
    web_target out;
    const auto q = target.find('?');
    const auto path = target.substr(0, q);
    if (q != std::string_view::npos) out.query = target.substr(q + 1);
    if (!path.starts_with('/')) return out;
    std::vector<std::string_view> segments;
    for (std::string_view rest = path.substr(1);;) {
        if (segments.size() == max_segments) return out;
        const auto slash = rest.find('/');
        segments.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    constexpr std::string_view flv_suffix = ".flv";
    if (segments.size() == 2 && segments[0] == "play" && segments[1] == "mpegts.js") {
        out.what = web_target::kind::script;
        return out;
    }
    const bool flv = segments.size() == 2 && segments[1].ends_with(flv_suffix);
    const bool page = segments.size() == 3 && segments[0] == "play";
    if (!flv && !page) return out;
    auto app = decode_segment(segments[page ? 1 : 0]);
    auto stream = decode_segment(flv ? segments[1].substr(0, segments[1].size() - flv_suffix.size())
                                     : segments[2]);
    if (!app || !stream) return out;
    out.what = flv ? web_target::kind::flv : web_target::kind::page;
    out.app = std::move(*app);
    out.stream = std::move(*stream);
    return out;
}

}  // namespace rtmpgate::gateway::web
