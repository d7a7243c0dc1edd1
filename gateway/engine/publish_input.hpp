// What a publisher sends, put into its stream as the engine's players expect it: audio and video
// as they are, "@setDataFrame"/"onMetaData" as the stream's metadata (without @setDataFrame),
// other data as it is, and aggregate messages split into their parts. Shared by the engine's
// publishing sessions and the pulls of backend streams (upstream/pull.hpp).
#pragma once

#include "gateway/engine/stream.hpp"
#include "gateway/net/asio.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::engine {

// Publishes `m` into `target`. Other message types are ignored. Data or an aggregate that
// cannot be parsed gives its protocol error (nothing of it is published).
error_code publish_input(stream& target, const protocol::message& m);

}  // namespace rtmpgate::gateway::engine
