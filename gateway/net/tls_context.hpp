// The server's TLS configuration: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers in the server's
// order, session resumption, ALPN "http/1.1" for HTTPS clients that offer it, and SNI choosing
// among certificate/key pairs by server name. Built whole from the config; SIGHUP builds a new
// one and swaps it in, while connections keep the one they started with.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway {

// Whether a configured server name ("example.com", or "*.example.com" for one label more)
// covers the name a client asked for in SNI; case-insensitive.
bool server_name_matches(std::string_view pattern, std::string_view name);

class tls_context {
public:
    // Throws std::runtime_error naming the config key (tls.certificate, tls.sni[1].private_key...)
    // when a file is unreadable, not PEM, or a key does not match its certificate.
    explicit tls_context(const config::tls_t& settings);

    // The context a new connection starts with (the default certificate; SNI may switch it).
    boost::asio::ssl::context& initial() noexcept { return *contexts_.front().context; }

private:
    struct entry {
        std::unique_ptr<boost::asio::ssl::context> context;
        std::vector<std::string> server_names;
    };
    static int on_server_name(SSL* ssl, int* alert, void* arg);

    std::vector<entry> contexts_;  // [0]: the default pair
};

// The current tls_context of a process, replaced on SIGHUP.
class tls_holder {
public:
    explicit tls_holder(std::shared_ptr<tls_context> initial) : current_(std::move(initial)) {}
    std::shared_ptr<tls_context> get() const {
        std::lock_guard lock(mutex_);
        return current_;
    }
    void set(std::shared_ptr<tls_context> next) {
        std::lock_guard lock(mutex_);
        current_ = std::move(next);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<tls_context> current_;
};

}  // namespace rtmpgate::gateway
