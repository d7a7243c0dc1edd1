#include "gateway/net/endpoint.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace rtmpgate::gateway {

std::string format_endpoint(const tcp::endpoint& ep) {
    const auto address = ep.address().to_string();
    return (ep.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(ep.port());
}

// TCP_NODELAY: RTMP and RTMPT replies are small and latency-bound. Keep-alive probes: a client
// that vanishes without a FIN (a dropped NAT entry, a pulled cable) is noticed within about a
// minute and a half even where nothing else would notice it (a spliced backend link that only
// reads from it, a player waiting for a stream).
void set_client_socket_options(int fd) {
    const int one = 1, idle_seconds = 60, interval_seconds = 10, probes = 3;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_seconds, sizeof idle_seconds);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_seconds, sizeof interval_seconds);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

}  // namespace rtmpgate::gateway
