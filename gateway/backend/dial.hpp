// Dialing an RTMP server as a client: TCP (or TLS) to a backend_target, then the RTMP client
// handshake. Shared by the backend link (which splices a client's bytes through) and the push
// relay (which publishes a stream of the engine there).
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/net/counters.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::backend {

// "rtmp://host:port" or "rtmps://host:port", for the log.
std::string target_text(const backend_target& t);

// What a step towards the backend gave, or why it failed in the words of the log.
template <typename T>
using step = boost::system::result<T, std::string>;

// Why a step failed, for the log: a deadline names itself ("connect timed out") and is counted.
std::string failure(const std::string& step, const error_code& ec, counters& stats);

// Resolves and connects within backend.connect_timeout, writes `proxy_header` (may be empty)
// first, then does the TLS handshake within backend.handshake_timeout when the target says so.
asio::awaitable<step<std::unique_ptr<byte_stream>>> open_backend(
    const backend_target& target, std::span<const std::uint8_t> proxy_header,
    server_context& context);

// The RTMP client handshake towards the backend, without a deadline of its own (the caller
// bounds it); gives the bytes the backend sent after S2.
asio::awaitable<step<std::vector<std::uint8_t>>> handshake_backend(byte_stream& backend);

}  // namespace rtmpgate::gateway::backend
