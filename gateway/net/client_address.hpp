// "The client's address": who a client connection or an RTMPT session is from, the one value
// that logs, /metrics, access rules and hooks use. It is set once, where the connection is
// accepted (app/server), and never changes: the socket's peer, or, when a trusted proxy declared
// the client (a PROXY protocol header, an RTMPT /open's forwarded headers), the declared address,
// the proxy being kept as via().
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

class client_address {
public:
    // Unknown: the unspecified IPv4 address, port 0 (a socket whose peer could not be read).
    client_address() = default;
    // The socket's peer is the client.
    explicit client_address(tcp::endpoint peer) : endpoint_(peer) {}
    // A proxy at `via` declared the client `declared` (port 0 when it declared none).
    client_address(tcp::endpoint declared, tcp::endpoint via) : endpoint_(declared), via_(via) {}

    const tcp::endpoint& endpoint() const noexcept { return endpoint_; }
    asio::ip::address address() const { return endpoint_.address(); }
    // The proxy that declared the client; nullopt when the client is the socket's peer.
    const std::optional<tcp::endpoint>& via() const noexcept { return via_; }

    // "203.0.113.5:41000", "[2001:db8::1]:41000"; the address alone when the port is unknown (0).
    std::string to_string() const;
    // to_string(), then " via <proxy>" when a proxy declared it: what a connection's log lines
    // name it by.
    std::string describe() const;

    friend bool operator==(const client_address&, const client_address&) = default;
    // Writes describe(), for log lines.
    friend std::ostream& operator<<(std::ostream& out, const client_address& a);

private:
    tcp::endpoint endpoint_;
    std::optional<tcp::endpoint> via_;
};

}  // namespace rtmpgate::gateway
