// Port 443: after the TLS handshake, the first byte tells the two meanings of "RTMPS" apart.
// An HTTP method ('P' of POST, or any other letter) goes to the http front as RTMPT over HTTPS;
// 0x03 goes to an rtmp_connection as RTMP over TLS; 0x06 (RTMPE) and anything else are refused.
#pragma once

#include <memory>
#include <string>

#include "gateway/front/http_front.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "gateway/net/tls_context.hpp"

namespace rtmpgate::gateway::front {

asio::awaitable<void> sniff_tls(tcp::socket socket, client_address client,
                                std::shared_ptr<tls_context> tls, http_front_context& context);

}  // namespace rtmpgate::gateway::front
