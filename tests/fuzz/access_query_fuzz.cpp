// The query and token parsers of access/token.hpp fed arbitrary stream names and connect-URL
// queries.
//
// Input: split (1 octet: where the stream name ends), then the stream name ("key?query") and the
// connect URL's query. Aborts when a contract of token.hpp breaks: split_query does not give back
// its input, a parsed query has more than max_query_args pairs or a decoded key or value longer
// than the text, pairs that do not survive encode -> parse, a verdict outside the token reasons,
// a token accepted without a sig in the query it came from, or a token that sign() made for the
// name not accepted (or accepted after one octet of its sig changed).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/access/token.hpp"

namespace {

using namespace rtmpgate::gateway;
using namespace rtmpgate::gateway::access;

void check(bool condition) {
    if (!condition) std::abort();
}

std::string encode(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '%' || c == '&' || c == '=' || u < 0x21 || u > 0x7E) {
            out.push_back('%');
            out.push_back(digits[u >> 4]);
            out.push_back(digits[u & 0x0F]);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// The parsed pairs of `query`, checked against the contract; empty when malformed.
query_args parse_checked(std::string_view query) {
    const auto parsed = parse_query(query);
    if (!parsed) {
        check(!parsed.error().empty());
        return {};
    }
    check(parsed->size() <= max_query_args);
    std::string again;
    for (const auto& [key, value] : *parsed) {
        check(key.size() + value.size() <= query.size());
        again += encode(key) + "=" + encode(value) + "&";
    }
    const auto reparsed = parse_query(again);
    check(reparsed && *reparsed == *parsed);
    return *parsed;
}

bool is_token_reason(reason r) {
    return r == reason::token_ok || r == reason::token_missing || r == reason::token_malformed ||
           r == reason::token_expired || r == reason::token_bad_signature;
}

bool has_sig(const query_args& args) {
    for (const auto& [key, value] : args) {
        if (key == "sig") return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1 || size > 4096) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto split = std::min<std::size_t>(data[0] * 16, input.size());
    const auto stream_text = input.substr(0, split);
    const auto connect_query = input.substr(split);

    const auto [name, query] = split_query(stream_text);
    if (stream_text.find('?') == std::string_view::npos) {
        check(name == stream_text && query.empty());
    } else {
        check(std::string(name) + "?" + std::string(query) == stream_text);
        check(name.find('?') == std::string_view::npos);
    }

    const query_args sources[] = {parse_checked(query), parse_checked(connect_query)};
    static const std::string secrets[] = {"0123456789abcdef0123", "another secret, rotated"};
    const auto client = asio::ip::make_address("192.0.2.7");
    const std::int64_t now = 1'700'000'000;
    const auto v = verify_token(secrets, "live", name, sources, client, now);
    check(is_token_reason(v.why));
    if (v.why != reason::token_missing) check(has_sig(sources[0]) || has_sig(sources[1]));

    // A token made for this name verifies until it expires, and not with its sig changed.
    const std::int64_t expires = now + 1 + (size % 100000);
    const auto signed_query = sign(secrets[size % 2], "live", name, expires, std::nullopt);
    const query_args token[] = {parse_checked(signed_query)};
    check(verify_token(secrets, "live", name, token, client, now).ok());
    check(verify_token(secrets, "live", name, token, client, expires).why == reason::token_expired);
    auto tampered = signed_query;
    auto& octet = tampered[tampered.find("sig=") + 4 + size % 64];
    octet = octet == '0' ? '1' : '0';
    const query_args bad[] = {parse_checked(tampered)};
    check(verify_token(secrets, "live", name, bad, client, now).why == reason::token_bad_signature);
    return 0;
}
