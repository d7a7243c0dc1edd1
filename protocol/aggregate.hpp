// Aggregate messages (type 22, RTMP 1.0 spec 7.1.6): a run of FLV tags, each with its
// PreviousTagSize, carried as one message. The engine splits them so that players and the
// GOP cache see ordinary audio, video and data messages.
#pragma once

#include <vector>

#include "protocol/error.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::protocol {

// The messages inside aggregate `m`, in order. Each keeps m's chunk stream and message stream
// id; timestamps are rebased so that the first tag's timestamp becomes m.timestamp and the others
// keep their offsets from it. Each sub-message owns a copy of its tag body (aggregates are rare:
// no common encoder sends them). The tags' own stream id fields are ignored (FMS writes the
// message stream id there). An empty payload gives no messages.
// error::aggregate_malformed when a tag is cut short, a tag type is not audio, video or data, or
// a PreviousTagSize disagrees with its tag.
result<std::vector<message>> split_aggregate(const message& m);

}  // namespace rtmpgate::protocol
