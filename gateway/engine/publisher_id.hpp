// Who publishes a stream: a number the stream registry gives out once per engine session, so
// that a stream tells its own publisher from another one by value, not by an address that a
// later session may reuse.
#pragma once

#include <cstdint>

namespace rtmpgate::gateway::engine {

struct publisher_id {
    std::uint64_t value = 0;

    friend bool operator==(publisher_id, publisher_id) = default;
};

}  // namespace rtmpgate::gateway::engine
