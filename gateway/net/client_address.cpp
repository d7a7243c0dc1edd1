#include "gateway/net/client_address.hpp"

#include <ostream>

#include "gateway/net/endpoint.hpp"

namespace rtmpgate::gateway {

std::string client_address::to_string() const {
    // X-Forwarded-For names no port: ":0" would read as a port that was seen.
    if (endpoint_.port() != 0) return format_endpoint(endpoint_);
    const auto address = endpoint_.address().to_string();
    return endpoint_.address().is_v6() ? "[" + address + "]" : address;
}

std::string client_address::describe() const {
    return via_ ? to_string() + " via " + format_endpoint(*via_) : to_string();
}

std::ostream& operator<<(std::ostream& out, const client_address& a) { return out << a.describe(); }

}  // namespace rtmpgate::gateway
