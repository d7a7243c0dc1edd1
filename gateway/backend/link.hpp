// The backend link: rtmpgate in front of an existing RTMP server. After the client's connect has
// chosen a backend route, the link opens TCP (or TLS) to the backend, does its own client
// handshake, replays the client's post-handshake bytes verbatim, and splices both directions, so
// the backend sees exactly the chunk stream the client sent. Each direction moves at most one
// buffer at a time: a side that cannot take more stops the other side's reading.
#pragma once

#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::backend {

struct link_result {
    bool spliced = false;         // false: the backend was never reached; the client can be told
    bool backend_failed = false;  // the backend side ended it (refused, timed out, closed, reset)
    std::string reason;           // why the link ended, for the log
};

// Runs the link until either side ends. `replay`: the client's bytes after its C2, up to and
// including its connect (and whatever followed in the same read).
asio::awaitable<link_result> run_link(byte_stream& client, std::vector<std::uint8_t> replay,
                                      const backend_target& target, server_context& context);

}  // namespace rtmpgate::gateway::backend
