// The PROXY protocol on a listener (proxy_protocol.http/https/rtmp): before anything else is read
// from a new connection, what it begins with decides who its client is.
//
//   from trusted_proxies, a v1 or v2 header     the client is the header's source address (a v2
//                                               LOCAL or v1 UNKNOWN header: the socket's peer)
//   from trusted_proxies, anything else         closed (refusal proxy_header_missing)
//   from anywhere else, a header                closed (refusal proxy_header_untrusted)
//   from anywhere else, anything else           served, the client being the socket's peer
//   a malformed header (after its signature)    closed (refusal proxy_header_invalid)
//   no decision within proxy_protocol.header_timeout: closed (timeout proxy_header)
//
// Each closing is one log line and one count. Octets are taken off the socket only as far as the
// header goes (peeked first, then consumed as protocol::proxy_header_parser takes them), so the
// client's data behind it stays in the socket for whoever reads next: a TLS handshake on https
// reads the socket itself.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::front {

struct proxied_client {
    client_address client;
    // The client's own octets that had to be consumed to tell them from a header (they began like
    // one: "P" of an HTTP "POST" sent alone); to be read before the socket. Almost always empty.
    std::vector<std::uint8_t> received;
};

// Reads what `socket` (accepted from `peer`) begins with, as above; nullopt when the connection
// is to be closed (already logged and counted). `tls_follows`: the listener's next reader is a
// TLS handshake, which cannot be handed consumed octets: a connection that needs them is closed
// (such octets never begin a TLS record).
asio::awaitable<std::optional<proxied_client>> read_proxy_header(tcp::socket& socket,
                                                                 const client_address& peer,
                                                                 bool tls_follows,
                                                                 server_context& context);

}  // namespace rtmpgate::gateway::front
