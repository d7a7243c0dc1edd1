// Socket addresses as the logs write them, and the options every client socket gets.
#pragma once

#include <string>

#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {

// "127.0.0.1:5000" or "[::1]:5000".
std::string format_endpoint(const tcp::endpoint& ep);

// TCP_NODELAY and TCP keep-alive probes on a client socket (see endpoint.cpp for why).
void set_client_socket_options(int fd);

}  // namespace rtmpgate::gateway
