// The text forms of rtmpgate.yaml's scalar values, parsed without YAML. Each parser takes the whole
// scalar and returns the value, or a short reason for the caller to prefix with file, line and key
// path. Nothing is trimmed: " 5s" is rejected.
//
//   duration   <digits>[ms|s|m|h]        "200ms", "45s", "2m", "1h"; plain "200" is milliseconds
//   size       <digits>[KiB|MiB|GiB]     "64KiB", "4MiB", "1GiB"; plain "4096" is bytes
//   unsigned   <digits>                  no sign, no base prefix, no exponent
//   endpoint   <IPv4>:<port> | [<IPv6>]:<port> | ""  (disabled); port 0..65535
//   target     engine | rtmp://<host>[:port] | rtmps://<host>[:port]   (no path: the client's
//              app is passed to the backend unchanged); host a name, IPv4 or [IPv6]; port 1..65535
#pragma once

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway {

// The value, or the reason the text is not one (e.g. "must not be negative (got \"-1s\")").
template <class T>
using scalar_result = boost::system::result<T, std::string>;

scalar_result<milliseconds> parse_duration(std::string_view text);
scalar_result<std::uint64_t> parse_size(std::string_view text);
scalar_result<std::uint64_t> parse_unsigned(std::string_view text);
scalar_result<endpoint> parse_endpoint(std::string_view text);

// What a route's `to` says. backend.server_name is left empty: config fills it with the host.
struct route_target {
    bool to_engine = true;
    backend_target backend;
};
scalar_result<route_target> parse_route_target(std::string_view text);

// A route's push entry: rtmp://<host>[:port]/<app>[/<name>] or rtmps://... (ports as for
// targets); app and name printable ASCII without spaces, '?' or '#', each at most 256 characters.
// backend.server_name is left empty.
scalar_result<push_target> parse_push_target(std::string_view text);

// True for a DNS name: dot-separated labels of [A-Za-z0-9-], none empty, none starting or ending
// with '-', at most 253 characters. With `allow_wildcard`, a leading "*." is accepted too.
bool is_host_name(std::string_view text, bool allow_wildcard = false);

// `text` in double quotes, cut to 64 characters ("...") so that a pasted certificate does not make
// a thousand-character error line.
std::string quote_value(std::string_view text);

// The shortest exact spelling in the units above: 30000ms -> "30s", 120000ms -> "2m",
// 4194304 -> "4MiB", 1000 -> "1000". For messages, and round-trips through the parsers.
std::string format_duration(milliseconds value);
std::string format_size(std::uint64_t bytes);

}  // namespace rtmpgate::gateway
