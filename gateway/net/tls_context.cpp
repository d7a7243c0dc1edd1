#include "gateway/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <strings.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace rtmpgate::gateway {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all AEAD already.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
    const auto code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

void require_readable(const std::string& key, const std::string& path) {
    if (path.empty()) throw std::runtime_error(key + ": not set");
    std::ifstream f(path);
    if (!f) throw std::runtime_error(key + ": cannot read '" + path + "': " + std::strerror(errno));
}

// ALPN: HTTPS clients that offer http/1.1 get it; RTMPS clients offer nothing or other names,
// and the handshake goes on without ALPN.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void*) {
    static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    for (unsigned int i = 0; i < in_len;) {
        const unsigned int len = in[i];
        if (i + 1 + len > in_len) break;
        if (len == sizeof http11 && std::memcmp(in + i + 1, http11, len) == 0) {
            *out = in + i + 1;
            *out_len = static_cast<unsigned char>(len);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

std::unique_ptr<ssl::context> make_context(const std::string& key_prefix,
                                           const std::string& certificate,
                                           const std::string& private_key) {
    require_readable(key_prefix + "certificate", certificate);
    require_readable(key_prefix + "private_key", private_key);
    auto c = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* ctx = c->native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(ctx, tls12_ciphers);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    // No TLS 1.3 session tickets: they follow the handshake as records of their own, and
    // librtmp built with GnuTLS (Debian's rtmpdump, SDKs built on it) fails its RTMP handshake
    // on them ("RTMP_Connect1, handshake failed") over rtmps and hangs over rtmpts. TLS 1.3
    // sessions are then not resumed; TLS 1.2 ones still are, by session id.
    SSL_CTX_set_num_tickets(ctx, 0);
    static constexpr unsigned char session_id_context[] = "rtmpgate";
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate.c_str()) != 1)
        throw std::runtime_error(key_prefix + "certificate: '" + certificate +
                                 "' is not a PEM certificate: " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(ctx, private_key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error(key_prefix + "private_key: '" + private_key +
                                 "' is not a PEM private key: " + openssl_error());
    if (SSL_CTX_check_private_key(ctx) != 1)
        throw std::runtime_error(key_prefix + "private_key: '" + private_key + "' does not match " +
                                 key_prefix + "certificate '" + certificate + "'");
    return c;
}

}  // namespace

tls_context::tls_context(const config::tls_t& settings) {
    contexts_.push_back({make_context("tls.", settings.certificate, settings.private_key), {}});
    for (std::size_t i = 0; i < settings.sni.size(); ++i) {
        const auto& pair = settings.sni[i];
        const auto prefix = "tls.sni[" + std::to_string(i) + "].";
        contexts_.push_back(
            {make_context(prefix, pair.certificate, pair.private_key), pair.server_names});
    }
    for (auto& e : contexts_) {
        SSL_CTX_set_tlsext_servername_callback(e.context->native_handle(), on_server_name);
        SSL_CTX_set_tlsext_servername_arg(e.context->native_handle(), this);
    }
}

int tls_context::on_server_name(SSL* ssl, int*, void* arg) {
    const auto* self = static_cast<const tls_context*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
    for (const auto& e : self->contexts_)
        for (const auto& candidate : e.server_names)
            if (server_name_matches(candidate, name)) {
                SSL_set_SSL_CTX(ssl, e.context->native_handle());
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_OK;
}

// "*.example.com" stands for exactly one label more ("a.example.com", not "example.com" nor
// "a.b.example.com"), as certificate wildcards do (RFC 6125 6.4.3).
bool server_name_matches(std::string_view pattern, std::string_view name) {
    const auto same = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
    };
    if (!pattern.starts_with("*.")) return same(pattern, name);
    const auto dot = name.find('.');
    return dot != 0 && dot != std::string_view::npos && same(pattern.substr(1), name.substr(dot));
}

}  // namespace rtmpgate::gateway
