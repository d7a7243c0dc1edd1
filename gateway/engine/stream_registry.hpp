// All live streams of the engine by key ("app/name"), shared by every connection.
#pragma once

#include "gateway/engine/stream.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rtmpgate::gateway::engine {

class stream_registry {
public:
    explicit stream_registry(stream_settings settings) : settings_(settings) {}

    // The stream named `key`, created when absent.
    std::shared_ptr<stream> acquire(const std::string& key);
    // Forgets `key` if nobody publishes or plays it any more.
    void release(const std::string& key);

    std::size_t size() const;

private:
    const stream_settings settings_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<stream>> streams_;
};

}  // namespace rtmpgate::gateway::engine
