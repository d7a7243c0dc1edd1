#include "protocol/rtmpt.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace rtmpgate::protocol {
namespace {

// At most 20 digits: 2^64-1 has 20.
constexpr std::size_t max_sequence_digits = 20;
// More than this many empty replies in a row before the poll delay starts to grow (Red5).
constexpr std::uint32_t empty_replies_before_backoff = 10;

bool is_alnum(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool all_alnum(std::string_view s) noexcept { return std::all_of(s.begin(), s.end(), is_alnum); }

// Reduces an origin-form or absolute-form request target to its path, without the query and
// without one trailing slash. An HTTP proxy in front of the gateway may forward the absolute
// form (RFC 9112 3.2.2: a server must accept it).
std::string_view target_path(std::string_view target) noexcept {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.substr(0, scheme.size()) == scheme) {
            target.remove_prefix(scheme.size());
            // The authority ends at the first '/', '?' or '#' (RFC 3986 3.2): in
            // "http://h?x/open/1" the path is empty and "/open/1" belongs to the query.
            const auto end = target.find_first_of("/?#");
            target = end == std::string_view::npos || target[end] != '/' ? std::string_view{}
                                                                         : target.substr(end);
            break;
        }
    }
    if (const auto query = target.find('?'); query != std::string_view::npos)
        target = target.substr(0, query);
    if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
    return target;
}

// Splits "/a/b/c" into up to 4 segments; returns how many there were (4 meaning "4 or more").
std::size_t split_path(std::string_view path, std::array<std::string_view, 4>& segments) noexcept {
    if (path.empty() || path.front() != '/') return 0;
    path.remove_prefix(1);
    std::size_t count = 0;
    while (count < segments.size()) {
        const auto slash = path.find('/');
        segments[count++] = path.substr(0, slash);
        if (slash == std::string_view::npos) return count;
        path.remove_prefix(slash + 1);
    }
    return count;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
    if (s.empty() || s.size() > max_sequence_digits) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

// Beast's reason phrases (obsolete_reason), which the gateway sent before it wrote heads itself.
struct status_line {
    rtmpt_status status;
    std::string_view line;
};
constexpr std::array<status_line, 7> status_lines{{
    {rtmpt_status::ok, "HTTP/1.1 200 OK\r\n"},
    {rtmpt_status::bad_request, "HTTP/1.1 400 Bad Request\r\n"},
    {rtmpt_status::not_found, "HTTP/1.1 404 Not Found\r\n"},
    {rtmpt_status::method_not_allowed, "HTTP/1.1 405 Method Not Allowed\r\n"},
    {rtmpt_status::request_timeout, "HTTP/1.1 408 Request Timeout\r\n"},
    {rtmpt_status::payload_too_large, "HTTP/1.1 413 Payload Too Large\r\n"},
    {rtmpt_status::service_unavailable, "HTTP/1.1 503 Service Unavailable\r\n"},
}};

struct command_name {
    std::string_view name;
    rtmpt_command command;
};
constexpr std::array<command_name, 4> session_commands{{
    {"send", rtmpt_command::send},
    {"idle", rtmpt_command::idle},
    {"close", rtmpt_command::close},
    {"open", rtmpt_command::open},
}};

result<rtmpt_request> parse_path(std::string_view path) {
    std::array<std::string_view, 4> seg;
    const std::size_t n = split_path(path, seg);
    if (n == 0) return error::rtmpt_unknown_command;

    // Flash Player and HaishinKit POST /fcs/ident2 before /open; Akamai-era players GET
    // /fcs/ident. Neither is part of a session.
    if (seg[0] == "fcs") {
        if (n == 2 && (seg[1] == "ident2" || seg[1] == "ident"))
            return rtmpt_request{rtmpt_command::ident, {}, std::nullopt};
        return error::rtmpt_unknown_command;
    }

    const auto known = std::find_if(session_commands.begin(), session_commands.end(),
                                    [&](const command_name& c) { return c.name == seg[0]; });
    if (known == session_commands.end()) return error::rtmpt_unknown_command;

    if (known->command == rtmpt_command::open) {
        // Every client sends /open/1 (librtmp and ffmpeg spell it literally). The number is not
        // a sequence number and not kept, but it must be one.
        if (n > 2) return error::rtmpt_unknown_command;
        if (n < 2 || !parse_decimal(seg[1])) return error::rtmpt_bad_sequence;
        return rtmpt_request{rtmpt_command::open, {}, std::nullopt};
    }

    if (n > 3) return error::rtmpt_unknown_command;
    if (n < 2 || !is_valid_rtmpt_session_id(seg[1])) return error::rtmpt_bad_session_id;
    rtmpt_request request{known->command, seg[1], std::nullopt};
    if (n == 3) {
        request.sequence = parse_decimal(seg[2]);
        if (!request.sequence) return error::rtmpt_bad_sequence;
    } else if (known->command != rtmpt_command::close) {
        // Only /close is sent without a sequence number (Flash-style clients on teardown).
        return error::rtmpt_bad_sequence;
    }
    return request;
}

}  // namespace

result<rtmpt_request> parse_rtmpt_request(std::string_view method, std::string_view target) {
    auto request = parse_path(target_path(target));
    if (!request) return request;
    // HTTP methods are case-sensitive (RFC 9110 9.1). Check the method after the path so that
    // a browser's GET / is "not found" rather than "method not allowed".
    const bool allowed =
        method == "POST" || (request->command == rtmpt_command::ident && method == "GET");
    if (!allowed) return error::rtmpt_bad_method;
    return request;
}

bool is_valid_rtmpt_session_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > rtmpt_session_id_max_length) return false;
    const auto dash = id.find('-');
    if (dash == std::string_view::npos) return all_alnum(id);
    const auto node = id.substr(0, dash);
    const auto random = id.substr(dash + 1);
    return !node.empty() && !random.empty() && all_alnum(node) && all_alnum(random);
}

result<std::string> format_rtmpt_session_id(std::string_view node, std::string_view random) {
    // A '-' inside `node` or `random` would make the prefix ambiguous: with an empty node,
    // "a-b" would pass the validator as node "a", so each part is checked on its own.
    if (!all_alnum(node) || !all_alnum(random)) return error::rtmpt_bad_session_id;
    std::string id;
    if (!node.empty()) {
        id.reserve(node.size() + 1 + random.size());
        id.append(node).append(1, '-');
    }
    id.append(random);
    // An empty `random` leaves "<node>-" or "", both invalid; so does a result above 63 chars.
    if (!is_valid_rtmpt_session_id(id)) return error::rtmpt_bad_session_id;
    return id;
}

std::string_view rtmpt_session_node(std::string_view id) noexcept {
    const auto dash = id.find('-');
    return dash == std::string_view::npos ? std::string_view{} : id.substr(0, dash);
}

std::uint8_t rtmpt_poll_delay(std::uint32_t consecutive_empty_replies) noexcept {
    // Red5's RTMPTConnection: the delay starts at 0, doubles (from 1) on each empty reply once
    // more than 10 came in a row, is capped at 32, and goes out as delay + 1.
    if (consecutive_empty_replies <= empty_replies_before_backoff) return rtmpt_poll_delay_min;
    const std::uint32_t doublings = consecutive_empty_replies - empty_replies_before_backoff;
    constexpr std::uint32_t max_delay = rtmpt_poll_delay_max - 1;
    const std::uint32_t delay = doublings >= 5 ? max_delay : (1u << doublings);
    return static_cast<std::uint8_t>(delay + 1);
}

std::string make_rtmpt_reply_head(rtmpt_status status, std::size_t content_length,
                                  bool keep_alive) {
    // The lines and their order are what the gateway sent through Beast before it wrote replies
    // itself (tests/protocol/rtmpt_test.cpp holds them): Connection last when it says close.
    const auto line = std::find_if(status_lines.begin(), status_lines.end(),
                                   [&](const status_line& l) { return l.status == status; });
    constexpr std::string_view fields =
        "Server: rtmpgate\r\n"
        "Content-Type: application/x-fcs\r\n"
        "Cache-Control: no-cache\r\n";
    std::array<char, 20> digits{};  // 2^64-1 has 20
    const auto length =
        std::to_chars(digits.data(), digits.data() + digits.size(), content_length).ptr;
    std::string head;
    head.reserve(192);
    head.append(line->line).append(fields);
    if (keep_alive) head.append("Connection: Keep-Alive\r\n");
    head.append("Content-Length: ").append(digits.data(), length).append("\r\n");
    if (!keep_alive) head.append("Connection: close\r\n");
    head.append("\r\n");
    return head;
}

std::vector<std::uint8_t> make_rtmpt_open_reply(std::string_view session_id) {
    std::vector<std::uint8_t> body(session_id.begin(), session_id.end());
    body.push_back('\n');
    return body;
}

std::vector<std::uint8_t> make_rtmpt_close_reply() { return {0x00}; }

std::string make_rtmpt_poll_reply_head(std::uint8_t poll_delay, std::size_t pending_size) {
    auto head = make_rtmpt_reply_head(rtmpt_status::ok, 1 + pending_size);
    head.push_back(static_cast<char>(poll_delay));
    return head;
}

}  // namespace rtmpgate::protocol
