#include "gateway/front/request_framing.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstddef>

namespace rtmpgate::gateway::front {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// 18 digits: far above any body the gateway takes, and below what overflows 64 bits.
constexpr std::size_t max_length_digits = 18;

}  // namespace

framing_error check_request_framing(std::string_view header) {
    bool have_length = false;
    bool request_line = true;
    while (!header.empty()) {
        const auto eol = header.find('\n');
        auto line = header.substr(0, eol);
        header.remove_prefix(eol == std::string_view::npos ? header.size() : eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (request_line) {
            request_line = false;  // Beast checks its syntax
            continue;
        }
        if (line.empty()) continue;  // the end of the header
        // RFC 9112 5.2: a server must refuse obs-fold with 400 or unfold it; Beast unfolds it,
        // and a proxy in front of the gateway may not, so the two would read different fields.
        if (is_ows(line.front())) return framing_error::obs_fold;
        const auto colon = line.find(':');
        // RFC 9112 5.1: white space between a field name and its colon must be refused.
        if (colon == std::string_view::npos || colon == 0 || is_ows(line[colon - 1]))
            return framing_error::field_syntax;
        const auto name = line.substr(0, colon);
        const auto value = trim_ows(line.substr(colon + 1));
        // RFC 9112 6.1: chunked is the only coding a server must know, and is final; nginx
        // answers any other coding with 501 and chunked in HTTP/1.0 with 400, Beast ignores a
        // coding it does not know and reads the request as bodiless. No RTMPT client sends a
        // coding (ffmpeg turns chunked_post off for RTMPT; librtmp and Flash send a length), so
        // any Transfer-Encoding is refused, chunked too: no chunk extensions, trailers or sizes to
        // get wrong.
        if (boost::beast::iequals(name, "transfer-encoding"))
            return framing_error::transfer_encoding;
        if (boost::beast::iequals(name, "content-length")) {
            // RFC 9110 8.6 lets a recipient take "5, 5" or a repeated equal field as one; nginx
            // refuses a repeated field, and so does the gateway: one field, one number.
            if (have_length) return framing_error::repeated_content_length;
            have_length = true;
            if (value.find(',') != std::string_view::npos)
                return framing_error::repeated_content_length;
            if (value.empty() || value.size() > max_length_digits ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= '0' && c <= '9'; }))
                return framing_error::invalid_content_length;
        }
    }
    return framing_error::none;
}

std::string_view framing_error_message(framing_error e) {
    switch (e) {
        case framing_error::none:
            return "framed by its Content-Length";
        case framing_error::obs_fold:
            return "a header line folded onto the next (obs-fold)";
        case framing_error::field_syntax:
            return "a header field line that is not name:value";
        case framing_error::transfer_encoding:
            return "Transfer-Encoding (RTMPT bodies have a Content-Length)";
        case framing_error::repeated_content_length:
            return "more than one Content-Length";
        case framing_error::invalid_content_length:
            return "a Content-Length that is not a number";
    }
    return "bad framing";
}

}  // namespace rtmpgate::gateway::front
