// Told of every publish the engine starts, on the publishing session's strand right after its
// NetStream.Publish.Start: what relays a stream elsewhere (upstream/push.hpp) hooks in here, so
// that the engine knows nothing of routes and backends.
#pragma once

#include <memory>
#include <string>

#include "gateway/engine/stream.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway::engine {

class publish_observer {
public:
    virtual ~publish_observer() = default;
    // `s` has just been published as `app`/`name` by the connection `log_id` ("conn 12"), whose
    // strand is `strand`. Hand over, never block.
    virtual void published(const std::shared_ptr<stream>& s, const std::string& app,
                           const std::string& name, const std::string& log_id,
                           const asio::any_io_executor& strand) = 0;
};

}  // namespace rtmpgate::gateway::engine
