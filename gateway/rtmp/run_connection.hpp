// The one way every front starts an RTMP client connection, whatever carries its bytes: plain
// TCP (app/server), TLS (front/tls_sniffer), an RTMPT tunnel session (tunnel/registry).
#pragma once

#include <memory>

#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::rtmp {

// Serves the client of `stream` as an rtmp::connection on the calling coroutine's executor,
// which must be a strand (the connection's and, for a tunnel, its session's), and completes when
// the connection has ended and logged its close line. While it runs the connection is in
// context.connections, which is how shutdown finds and ends it: a front that co_spawns this
// need not keep a handle of its own. Errors end the connection, never the caller: nothing but
// std::bad_alloc before the connection exists is thrown.
asio::awaitable<void> run_connection(std::unique_ptr<byte_stream> stream, server_context& context);

}  // namespace rtmpgate::gateway::rtmp
