#include "gateway/backend/client_tls.hpp"

#include <openssl/ssl.h>

namespace rtmpgate::gateway::backend {

namespace ssl = boost::asio::ssl;

ssl::context& client_tls_contexts::get(const backend_target& target) {
    std::lock_guard lock(mutex_);
    auto& slot = contexts_[{target.verify, target.ca_file}];
    if (!slot) {
        slot = std::make_unique<ssl::context>(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(slot->native_handle(), TLS1_2_VERSION);
        if (target.verify) {
            slot->set_verify_mode(ssl::verify_peer);
            if (target.ca_file.empty())
                slot->set_default_verify_paths();
            else
                slot->load_verify_file(target.ca_file);
        } else {
            slot->set_verify_mode(ssl::verify_none);
        }
    }
    return *slot;
}

}  // namespace rtmpgate::gateway::backend
