// All live streams of the engine by key ("app/name"), shared by every connection.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/engine/publish_observer.hpp"
#include "gateway/engine/stream.hpp"

namespace rtmpgate::gateway::engine {

// Every stream of the engine summed up at one moment (for /metrics).
struct engine_counts {
    std::size_t streams = 0;
    std::size_t publishers = 0;       // streams with a publisher
    std::size_t players = 0;          // players on a stream with a publisher
    std::size_t players_waiting = 0;  // players on a stream without one (not yet, or no longer)
    // Viewers (playing or waiting) by viewer_transports, index for index: pushes are no viewers.
    std::array<std::size_t, viewer_transports.size()> viewers{};
};

class stream_registry {
public:
    explicit stream_registry(stream_settings settings) : settings_(settings) {}

    // A publisher id not given out before by this registry; thread-safe. Each engine session
    // takes one.
    publisher_id new_publisher() noexcept { return {++last_publisher_}; }
    // The stream named `key` (created when absent) with `owner` as its publisher, or null when
    // another publisher holds it. Lookup and attach happen under the registry's lock, so a
    // release() from another connection cannot forget the stream in between.
    std::shared_ptr<stream> publish(const std::string& key, publisher_id owner,
                                    publisher_drop drop = {}, publisher_info who = {});
    // The stream named `key` (created when absent) with `s` among its players; `playing` tells
    // whether a publisher is on (then `initial` holds what the player needs first). Atomic with
    // respect to release() like publish().
    std::shared_ptr<stream> subscribe(const std::string& key, std::shared_ptr<subscriber> s,
                                      std::vector<protocol::message>& initial, bool& playing);
    // Ends the publisher and every player of `key` (stream::drop); nullopt when the engine has
    // no stream of that name. Each connection leaves the stream from its own strand, after which
    // the name may be published again.
    std::optional<drop_result> drop(const std::string& key);
    // Forgets `key` if nobody publishes or plays it any more.
    void release(const std::string& key);

    std::size_t size() const;

    // Who is told of every publish (engine/publish_observer.hpp): set once, before any session
    // runs; none by default.
    void set_observer(publish_observer* o) noexcept { observer_ = o; }
    publish_observer* observer() const noexcept { return observer_; }
    // Walks every stream under the registry's lock, taking each stream's lock in turn to read
    // two fields: a scrape pays for the count; the media path keeps none and never takes the
    // registry's lock.
    engine_counts counts() const;
    // Every stream's stream::info, sorted by key, taken under the locks as counts() takes them
    // (for the admin's /streams).
    std::vector<stream_info> info() const;

private:
    std::shared_ptr<stream>& find_or_create(const std::string& key);  // caller holds mutex_

    const stream_settings settings_;
    mutable std::mutex mutex_;
    std::atomic<std::uint64_t> last_publisher_{0};
    std::unordered_map<std::string, std::shared_ptr<stream>> streams_;
    publish_observer* observer_ = nullptr;
};

}  // namespace rtmpgate::gateway::engine
