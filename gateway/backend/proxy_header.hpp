// PROXY out: the PROXY protocol header (protocol/proxy_protocol.hpp) a backend route with
// send_proxy_protocol writes first on its backend connection, so that the backend sees the
// client's address instead of the gateway's.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway::backend {

// The header for `version` (empty for none): `client` (byte_stream::client(), the client's
// address as the gateway knows it, also when a trusted proxy declared it) as the source, `reached`
// (the address the client connected to) as the destination. IPv4-mapped IPv6 addresses are written
// as IPv4; when the two are of different families the IPv4 one is mapped into IPv6 (TCP6). An
// unknown `reached` (an RTMPT session spans several connections) is the unspecified address of the
// client's family, port 0. An unspecified client address (not known) gives a header without an
// address (v1 UNKNOWN, v2 AF_UNSPEC): the backend then uses the connection's own.
std::vector<std::uint8_t> make_backend_proxy_header(backend_target::proxy_protocol version,
                                                    const tcp::endpoint& client,
                                                    const std::optional<tcp::endpoint>& reached);

}  // namespace rtmpgate::gateway::backend
