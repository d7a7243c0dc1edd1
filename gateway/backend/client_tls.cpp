#include "gateway/backend/client_tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace rtmpgate::gateway::backend {

namespace ssl = boost::asio::ssl;

ssl::context& client_tls_contexts::get(const backend_target& target) {
    std::lock_guard lock(mutex_);
    auto& slot = contexts_[{target.verify, target.ca_file}];
    if (slot) return *slot;
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    if (target.verify) {
        context->set_verify_mode(ssl::verify_peer);
        boost::system::error_code ec;
        if (target.ca_file.empty())
            context->set_default_verify_paths(ec);
        else
            context->load_verify_file(target.ca_file, ec);
        if (ec) {
            contexts_.erase({target.verify, target.ca_file});
            throw std::runtime_error(
                "cannot load trusted CAs from '" +
                (target.ca_file.empty() ? std::string("the system store") : target.ca_file) +
                "': " + ec.message());
        }
    } else {
        context->set_verify_mode(ssl::verify_none);
    }
    slot = std::move(context);
    return *slot;
}

void client_tls_contexts::prepare(const std::vector<route>& routes) {
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const auto& r = routes[i];
        // The rtmps:// entries of an engine route's push list, as rtmps:// routes.
        for (std::size_t j = 0; j < r.push.size(); ++j) {
            if (!r.push[j].backend.tls) continue;
            try {
                get(r.push[j].backend);
            } catch (const std::exception& e) {
                throw std::runtime_error("routes[" + std::to_string(i) + "].push[" +
                                         std::to_string(j) + "].ca_file: " + e.what());
            }
        }
        if (r.to_engine || !r.backend.tls) continue;
        try {
            get(r.backend);
        } catch (const std::exception& e) {
            throw std::runtime_error("routes[" + std::to_string(i) + "].ca_file: " + e.what());
        }
    }
}

}  // namespace rtmpgate::gateway::backend
