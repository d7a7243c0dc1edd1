// The backend link: rtmpgate in front of an existing RTMP server. After the client's connect has
// chosen a backend route, the link opens TCP (or TLS) to the backend, does its own client
// handshake, replays the client's post-handshake bytes verbatim, and splices both directions, so
// the backend sees exactly the chunk stream the client sent. Each direction moves at most one
// buffer at a time: a side that cannot take more stops the other side's reading.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "gateway/access/decision.hpp"
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

// Decides a publish or play (`what`) of `stream` (the name with its query, as the client sent
// it) that the client asks of the backend; runs on the link's executor.
using stream_decider =
    std::function<asio::awaitable<access::decision>(access::action what, std::string stream)>;

// Runs the link until either side ends. `replay`: the client's bytes after its C2, up to and
// including its connect (and whatever followed in the same read).
// With `decide`, every publish and play of the client is held (backend/command_guard.hpp) until
// `decide` allows it, and then goes to the backend unchanged; a refused one never reaches it: the
// client gets an error-level onStatus and the link ends ("publish refused: ..."). A decision that
// renames the stream sends the command anew with that name (the client is not told); where that
// cannot be done safely (the command's chunks interleaved with others') it refuses. The
// watchdog keeps pinging
// both ends while a decision is pending. Without `decide` the client's bytes are spliced as they
// come, at no cost.
asio::awaitable<link_result> run_link(byte_stream& client, std::vector<std::uint8_t> replay,
                                      const backend_target& target, server_context& context,
                                      stream_decider decide = {});

}  // namespace rtmpgate::gateway::backend
