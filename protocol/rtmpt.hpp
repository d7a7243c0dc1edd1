// RTMPT, RTMP tunnelled in HTTP POSTs: the request target as a typed command, the reply heads and
// bodies, the poll delay byte and the session id syntax. No HTTP parsing here (the gateway's HTTP
// front does that); these functions see only the method and the request target.
//
// What clients send (ffmpeg libavformat/rtmphttp.c, librtmp rtmp.c HTTP_Post, Flash Player,
// HaishinKit): POST /fcs/ident2 (Flash-style clients only, answered 404), POST /open/1, then
// POST /send/<id>/<seq>, /idle/<id>/<seq> and /close/<id>/<seq>; /close may come without <seq>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.hpp"

namespace rtmpgate::protocol {

enum class rtmpt_command : std::uint8_t {
    ident,  // /fcs/ident2 or /fcs/ident: the caller answers 404 with an empty body
    open,   // /open/<n>: create a session, reply make_rtmpt_open_reply()
    send,   // /send/<id>/<seq>: the body carries RTMP bytes from the client
    idle,   // /idle/<id>/<seq>: a poll; the body is one 0x00 (ignored)
    close,  // /close/<id>[/<seq>]: end the session, reply make_rtmpt_close_reply()
};

struct rtmpt_request {
    rtmpt_command command = rtmpt_command::ident;
    // send, idle, close: a view into the `target` given to parse_rtmpt_request; empty otherwise.
    std::string_view session_id;
    // send and idle always; close when the client gave one; absent for open and ident.
    std::optional<std::uint64_t> sequence;
};

// Longest session id accepted or produced. ffmpeg reads the /open reply into a 64-byte buffer
// with a terminating NUL, so 63 characters is the most a session id can have.
inline constexpr std::size_t rtmpt_session_id_max_length = 63;

// Parses `method` and the HTTP request target. Tolerated, because real clients and proxies send
// them: an absolute-form target ("http://host:port/idle/..."), a query string (ignored), one
// trailing slash. Commands are case-sensitive, as every client spells them in lower case.
// Errors, checked in this order:
//   rtmpt_unknown_command  the path is none of the commands above, or has extra segments;
//   rtmpt_bad_session_id   the id is missing or fails is_valid_rtmpt_session_id;
//   rtmpt_bad_sequence     <seq> (or the <n> of /open/<n>) is missing where required, empty,
//                          not all decimal digits, or above 2^64-1;
//   rtmpt_bad_method       the command is known but the method is not POST (ident also
//                          accepts GET: Akamai-style ident probes are GETs).
result<rtmpt_request> parse_rtmpt_request(std::string_view method, std::string_view target);

// 1..63 characters of [A-Za-z0-9], optionally after a node prefix "<node>-" where <node> is
// 1 or more characters of [A-Za-z0-9]. At most one '-'.
bool is_valid_rtmpt_session_id(std::string_view id) noexcept;

// "<node>-<random>", or just <random> when `node` is empty. The gateway draws <random> from a
// CSPRNG (16-32 characters). error::rtmpt_bad_session_id when the result would not be valid.
result<std::string> format_rtmpt_session_id(std::string_view node, std::string_view random);

// The node prefix of a valid session id ("" when it has none), for routing a session back to the
// instance that owns it.
std::string_view rtmpt_session_node(std::string_view id) noexcept;

// Poll delay byte, the first byte of every /send and /idle reply: a hint of how long the client
// may wait before its next /idle. Red5 and FMS send 0x01 while data flows and back off up to
// 0x21 as the session stays idle. ffmpeg reads the byte and discards it; librtmp stores it
// (m_polling) and never consults it, so for them only its presence matters.
inline constexpr std::uint8_t rtmpt_poll_delay_min = 0x01;
inline constexpr std::uint8_t rtmpt_poll_delay_max = 0x21;
// The rule: 0x01 until more than 10 replies in a row carried no data, then the delay doubles
// with each further empty reply (2, 4, 8, 16, 32) and the byte is delay + 1, capped at 0x21.
// `consecutive_empty_replies`: how many /send and /idle replies in a row, ending with this one,
// carry no RTMP bytes (0 when this one carries some).
std::uint8_t rtmpt_poll_delay(std::uint32_t consecutive_empty_replies) noexcept;

// The HTTP statuses of RTMPT replies.
enum class rtmpt_status : std::uint16_t {
    ok = 200,
    bad_request = 400,          // not HTTP
    not_found = 404,            // an unknown command or session, /fcs/ident2
    method_not_allowed = 405,   // a known command with a method other than POST
    request_timeout = 408,      // a request's header or body that stopped coming
    payload_too_large = 413,    // a /send body over the gateway's bound
    service_unavailable = 503,  // no room for another session
};

// The head of every reply: the status line, the header lines and the empty line, for a body of
// `content_length` octets. Always HTTP/1.1 (also to an HTTP/1.0 request), always a
// Content-Length spelled exactly so (librtmp finds it with a case-sensitive search for
// "Content-"), never chunked. `keep_alive` false (the gateway then closes the connection) says
// "Connection: close" instead, after Content-Length:
//   HTTP/1.1 200 OK\r\n
//   Server: rtmpgate\r\n
//   Content-Type: application/x-fcs\r\n
//   Cache-Control: no-cache\r\n
//   Connection: Keep-Alive\r\n
//   Content-Length: 9\r\n
//   \r\n
std::string make_rtmpt_reply_head(rtmpt_status status, std::size_t content_length,
                                  bool keep_alive = true);

// Reply bodies. /open: the session id and exactly one LF (librtmp drops the body's last byte
// whatever it is; ffmpeg trims trailing white space). /close: a single 0x00.
std::vector<std::uint8_t> make_rtmpt_open_reply(std::string_view session_id);
std::vector<std::uint8_t> make_rtmpt_close_reply();

// /send and /idle replies (200, keep-alive): the body is the poll byte, then `pending_size` RTMP
// octets, so it is never empty. This gives the head and the poll byte; the caller sends the
// pending octets right after them, from wherever they are, so that they are never copied
// together into one reply buffer.
std::string make_rtmpt_poll_reply_head(std::uint8_t poll_delay, std::size_t pending_size);

}  // namespace rtmpgate::protocol
