// Signed tokens (access/policy.hpp: publish.token, play.token) and the query strings that carry
// them: "key?expires=1700000000&sig=<64 hex>" as ffmpeg and OBS pass a stream name, or the same
// parameters in the connect URL's query ("rtmp://host/live?expires=...&sig=.../key").
//
// A token is HMAC-SHA256, keyed with one of the secrets (the first line of a secret file, its
// octets as they are), over the message
//
//     "rtmpgate-v1\n" <app> "\n" <stream> "\n" <expires> "\n" <client or nothing>
//
// where app and stream are the names without their query, as the client sent them (not
// percent-decoded), expires is the decimal Unix time in seconds at which the token stops being
// valid (its value: written without leading zeros) and client, when the token is bound to one
// address, that address in its normal text form (IPv4-mapped IPv6 as IPv4). `sig` is the HMAC in
// hexadecimal (sign() writes lowercase; either case is read).
//
// Query strings are read as application/x-www-form-urlencoded would be, except that '+' stays '+'
// (RTMP clients pass the stream name as typed; a key may hold a '+' of base64): pairs separated by
// '&', empty pairs skipped, a pair without '=' is a key with an empty value, %XX decoded in keys
// and values (a '%' not followed by two hex digits is malformed).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/access/decision.hpp"

namespace rtmpgate::gateway::access {

using query_args = std::vector<std::pair<std::string, std::string>>;

// At most this many pairs in one query string; more is malformed (a client has no use for more,
// and every pair is copied into each hook request).
constexpr std::size_t max_query_args = 32;

// "key?a=b" -> {"key", "a=b"}; at the first '?'. A text without '?' is all name, query "".
struct name_and_query {
    std::string_view name;
    std::string_view query;
};
name_and_query split_query(std::string_view text) noexcept;

// The decoded pairs of `query` (without its '?'), in order; or why it is malformed ("bad
// percent escape at offset 4", "more than 32 parameters"). Decoded keys and values are never
// longer than their text.
boost::system::result<query_args, std::string> parse_query(std::string_view query);

// `query` (without its '?') less the parameters of a signed token (expires, sig, client) and
// empty ones, the rest as sent, in order: what goes on to a backend, which has no use for the
// gateway's token.
std::string without_token_args(std::string_view query);

// The outcome of verify_token: reason token_ok, token_missing, token_malformed, token_expired or
// token_bad_signature, and for the log a few words on why ("sig is not 64 hex digits").
struct token_verdict {
    reason why = reason::token_missing;
    std::string detail;
    bool ok() const noexcept { return why == reason::token_ok; }
};

// Checks the token of a request for `app` and `stream` (names without their query) from
// `client`, at Unix time `now` (seconds). `sources` are the query arguments in the order they
// are searched, each source the pairs of one query string: the stream name's, then the connect
// URL's. The token is the first source holding a `sig`; its `expires` and `client` are read
// from that same source only, so a token may sit in either query but is never assembled from
// both. (A caller that has the pairs of both in one list passes it as one source; a token then
// must appear once in all.)
//
//   token_missing        no source has a `sig`
//   token_malformed      in the token's source: `sig`, `expires` or `client` twice; no
//                        `expires`; expires not 1..19 decimal digits or above 2^63-1; sig not
//                        64 hex digits; client not an IPv4 or IPv6 address
//   token_bad_signature  a `client` other than `client`, or the HMAC matches no secret (checked
//                        in constant time against each)
//   token_expired        signed correctly, but now >= expires
//   token_ok             otherwise
// With no secrets, every token has a bad signature.
token_verdict verify_token(std::span<const std::string> secrets, std::string_view app,
                           std::string_view stream, std::span<const query_args> sources,
                           const asio::ip::address& client, std::int64_t now);

// "expires=<expires>&sig=<64 lowercase hex>" and "&client=<address>" when `client` is given: the
// query that verify_token accepts for `app` and `stream` until `expires`.
std::string sign(std::string_view secret, std::string_view app, std::string_view stream,
                 std::int64_t expires, const std::optional<asio::ip::address>& client);

// The secret of each file: its first line without the line end (LF or CRLF), which must be at
// least `min_secret_length` octets (the first 16 KiB of a file are read; a first line longer
// than that is an error). Throws std::runtime_error "<key_path>[<i>]: <file>: <why>".
constexpr std::size_t min_secret_length = 16;
std::vector<std::string> read_secret_files(const std::vector<std::string>& files,
                                           std::string_view key_path);

}  // namespace rtmpgate::gateway::access
