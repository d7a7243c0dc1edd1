#include "gateway/backend/proxy_header.hpp"

#include <algorithm>

#include "protocol/proxy_protocol.hpp"

namespace rtmpgate::gateway::backend {

namespace {

namespace ip = asio::ip;

// The IPv4 address inside an IPv4-mapped IPv6 one (a dual-stack listener's IPv4 clients).
ip::address unmapped(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

ip::address_v6 as_v6(const ip::address& a) {
    return a.is_v6() ? a.to_v6() : ip::make_address_v6(ip::v4_mapped, a.to_v4());
}

protocol::proxy_address to_proxy(const ip::address& a, std::uint16_t port, bool v6) {
    protocol::proxy_address out;
    if (v6) {
        const auto bytes = as_v6(a).to_bytes();
        std::copy(bytes.begin(), bytes.end(), out.octets.begin());
    } else {
        const auto bytes = a.to_v4().to_bytes();
        std::copy(bytes.begin(), bytes.end(), out.octets.begin());
    }
    out.port = port;
    return out;
}

}  // namespace

std::vector<std::uint8_t> make_backend_proxy_header(backend_target::proxy_protocol version,
                                                    const tcp::endpoint& client,
                                                    const std::optional<tcp::endpoint>& reached) {
    using enum backend_target::proxy_protocol;
    if (version == none) return {};
    const auto make =
        version == v1 ? protocol::make_proxy_v1_header : protocol::make_proxy_v2_header;
    const auto source = unmapped(client.address());
    if (source.is_unspecified()) return make(protocol::proxy_family::none, {}, {});
    const auto destination =
        reached ? unmapped(reached->address())
                : (source.is_v4() ? ip::address(ip::address_v4::any()) : ip::address_v6::any());
    const std::uint16_t destination_port = reached ? reached->port() : 0;
    // The header has one family for both: TCP4 only when both are IPv4.
    const bool v6 = source.is_v6() || destination.is_v6();
    return make(v6 ? protocol::proxy_family::tcp6 : protocol::proxy_family::tcp4,
                to_proxy(source, client.port(), v6), to_proxy(destination, destination_port, v6));
}

}  // namespace rtmpgate::gateway::backend
