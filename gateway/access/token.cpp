#include "gateway/access/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include "gateway/net/cidr.hpp"

namespace rtmpgate::gateway::access {

namespace {

constexpr std::size_t sig_octets = 32;  // SHA-256
constexpr std::size_t max_secret_line = 16 * 1024;

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes the %XX escapes of `text` into `out`; false on a '%' without two hex digits after it.
bool percent_decode(std::string_view text, std::string& out, std::size_t& bad_at) {
    out.clear();
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (high < 0 || low < 0) {
            bad_at = i;
            return false;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return true;
}

using mac = std::array<unsigned char, sig_octets>;

std::string signed_message(std::string_view app, std::string_view stream, std::int64_t expires,
                           std::string_view client) {
    std::string message = "rtmpgate-v1\n";
    message.append(app).append("\n").append(stream).append("\n");
    message.append(std::to_string(expires)).append("\n").append(client);
    return message;
}

mac hmac_sha256(std::string_view key, std::string_view message) {
    mac out{};
    unsigned int length = 0;
    // An empty key is valid HMAC input; OpenSSL wants a non-null pointer for it all the same.
    static const unsigned char empty = 0;
    const auto* key_octets =
        key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
    if (!HMAC(EVP_sha256(), key_octets, static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
              &length) ||
        length != out.size()) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return out;
}

std::string to_hex(const mac& m) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(m.size() * 2);
    for (const unsigned char octet : m) {
        text.push_back(digits[octet >> 4]);
        text.push_back(digits[octet & 0x0F]);
    }
    return text;
}

std::optional<mac> from_hex(std::string_view text) {
    if (text.size() != sig_octets * 2) return std::nullopt;
    mac m{};
    for (std::size_t i = 0; i < m.size(); ++i) {
        const int high = hex_value(text[2 * i]);
        const int low = hex_value(text[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        m[i] = static_cast<unsigned char>(high * 16 + low);
    }
    return m;
}

// 1..19 decimal digits whose value fits an int64_t; no sign, no spaces.
std::optional<std::int64_t> parse_expires(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    std::int64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string normal_address(const asio::ip::address& address) {
    return unmapped(address).to_string();
}

token_verdict verdict(reason why, std::string detail) { return {why, std::move(detail)}; }

}  // namespace

name_and_query split_query(std::string_view text) noexcept {
    const auto mark = text.find('?');
    if (mark == std::string_view::npos) return {text, {}};
    return {text.substr(0, mark), text.substr(mark + 1)};
}

boost::system::result<query_args, std::string> parse_query(std::string_view query) {
    query_args args;
    std::size_t start = 0;
    while (start <= query.size()) {
        const auto end = std::min(query.find('&', start), query.size());
        const auto pair = query.substr(start, end - start);
        if (!pair.empty()) {
            if (args.size() == max_query_args)
                return "more than " + std::to_string(max_query_args) + " parameters";
            const auto equals = pair.find('=');
            const auto key = pair.substr(0, equals);
            const auto value =
                equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
            auto& [decoded_key, decoded_value] = args.emplace_back();
            std::size_t bad_at = 0;
            if (!percent_decode(key, decoded_key, bad_at))
                return "bad percent escape at offset " + std::to_string(start + bad_at);
            if (!percent_decode(value, decoded_value, bad_at)) {
                return "bad percent escape at offset " +
                       std::to_string(start + key.size() + 1 + bad_at);
            }
        }
        start = end + 1;
    }
    return args;
}

std::string without_token_args(std::string_view query) {
    std::string kept;
    while (!query.empty()) {
        const auto end = std::min(query.find('&'), query.size());
        const auto pair = query.substr(0, end);
        query.remove_prefix(std::min(end + 1, query.size()));
        const auto key = pair.substr(0, pair.find('='));
        if (pair.empty() || key == "sig" || key == "expires" || key == "client") continue;
        if (!kept.empty()) kept += '&';
        kept += pair;
    }
    return kept;
}

token_verdict verify_token(std::span<const std::string> secrets, std::string_view app,
                           std::string_view stream, std::span<const query_args> sources,
                           const asio::ip::address& client, std::int64_t now) {
    const query_args* token = nullptr;
    for (const auto& source : sources) {
        const bool has_sig = std::any_of(source.begin(), source.end(),
                                         [](const auto& arg) { return arg.first == "sig"; });
        if (has_sig) {
            token = &source;
            break;
        }
    }
    if (!token) return verdict(reason::token_missing, "no sig parameter");

    const std::string* sig_text = nullptr;
    const std::string* expires_text = nullptr;
    const std::string* client_text = nullptr;
    for (const auto& [key, value] : *token) {
        const std::string** slot = key == "sig"       ? &sig_text
                                   : key == "expires" ? &expires_text
                                   : key == "client"  ? &client_text
                                                      : nullptr;
        if (!slot) continue;
        // Two of one parameter could mean two readers taking different ones; refuse both.
        if (*slot) return verdict(reason::token_malformed, key + " given twice");
        *slot = &value;
    }
    if (!expires_text) return verdict(reason::token_malformed, "sig without expires");
    const auto expires = parse_expires(*expires_text);
    if (!expires) return verdict(reason::token_malformed, "expires is not a Unix time");
    const auto sig = from_hex(*sig_text);
    if (!sig) return verdict(reason::token_malformed, "sig is not 64 hex digits");
    std::string bound_to;
    if (client_text) {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(*client_text, ec);
        if (ec) return verdict(reason::token_malformed, "client is not an IP address");
        if (unmapped(address) != unmapped(client))
            return verdict(reason::token_bad_signature, "bound to another client address");
        bound_to = normal_address(address);
    }

    const auto message = signed_message(app, stream, *expires, bound_to);
    bool matched = false;
    // Every secret is tried, so that the time taken says nothing about which one matched.
    for (const auto& secret : secrets) {
        const auto expected = hmac_sha256(secret, message);
        matched |= CRYPTO_memcmp(expected.data(), sig->data(), expected.size()) == 0;
    }
    if (!matched) return verdict(reason::token_bad_signature, "signature matches no secret");
    if (now >= *expires) return verdict(reason::token_expired, "expired");
    return verdict(reason::token_ok, {});
}

std::string sign(std::string_view secret, std::string_view app, std::string_view stream,
                 std::int64_t expires, const std::optional<asio::ip::address>& client) {
    const auto bound_to = client ? normal_address(*client) : std::string();
    const auto sig = to_hex(hmac_sha256(secret, signed_message(app, stream, expires, bound_to)));
    std::string query = "expires=" + std::to_string(expires) + "&sig=" + sig;
    if (client) query += "&client=" + bound_to;
    return query;
}

std::vector<std::string> read_secret_files(const std::vector<std::string>& files,
                                           std::string_view key_path) {
    std::vector<std::string> secrets;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto fail = [&](const std::string& why) {
            throw std::runtime_error(std::string(key_path) + "[" + std::to_string(i) +
                                     "]: " + files[i] + ": " + why);
        };
        const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
            std::fopen(files[i].c_str(), "rb"), &std::fclose);
        if (!file) fail(std::string("cannot read: ") + std::strerror(errno));
        std::string text(max_secret_line + 2, '\0');
        const auto n = std::fread(text.data(), 1, text.size(), file.get());
        if (std::ferror(file.get())) fail(std::string("cannot read: ") + std::strerror(errno));
        text.resize(n);
        const auto line_end = text.find('\n');
        if (line_end == std::string::npos && n > max_secret_line)
            fail("first line longer than " + std::to_string(max_secret_line) + " octets");
        std::string line = text.substr(0, line_end);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
        if (line.size() > max_secret_line)
            fail("first line longer than " + std::to_string(max_secret_line) + " octets");
        if (line.size() < min_secret_length) {
            fail("the secret (first line) has " + std::to_string(line.size()) +
                 " octets; at least " + std::to_string(min_secret_length) + " are needed");
        }
        secrets.push_back(std::move(line));
    }
    return secrets;
}

}  // namespace rtmpgate::gateway::access
