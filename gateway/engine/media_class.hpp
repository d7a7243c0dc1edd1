// How a message of a live stream is treated by a slow player's queue (rtmp/output_queue.hpp):
// stream::classify() gives each message its class.
#pragma once

#include <cstdint>

namespace rtmpgate::gateway::engine {

enum class media_class : std::uint8_t {
    essential,  // control, commands, metadata, sequence headers: never dropped
    keyframe,   // a video frame a decoder can start from
    frame,      // other video, audio, other data
};

}  // namespace rtmpgate::gateway::engine
