// TLS client contexts for rtmps:// backend routes, built on first use and kept for the process.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway::backend {

class client_tls_contexts {
public:
    // One context per (verify, CA file): TLS 1.2 or later, peer verification as the route says.
    // Thread-safe; the reference stays valid for the object's life. Throws when the CA file
    // cannot be loaded, and then keeps nothing, so a later call tries again.
    boost::asio::ssl::context& get(const backend_target& target);

    // Builds the context of every rtmps:// route (and rtmps:// push entry) now, so that an
    // unreadable or malformed CA file stops start-up (and --check-config) with a message naming
    // routes[i].ca_file.
    void prepare(const std::vector<route>& routes);

private:
    std::mutex mutex_;
    std::map<std::pair<bool, std::string>, std::unique_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace rtmpgate::gateway::backend
