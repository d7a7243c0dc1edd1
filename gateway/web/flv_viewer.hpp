// One browser's play of an engine stream (HTTP-FLV or WebSocket-FLV): the stream's subscriber,
// holding what is yet to be written in a bounded queue with the slow-player policy of RTMP
// players (rtmp/output_queue.hpp: past engine.player_queue_bytes, media is dropped to the next
// keyframe; essential messages piling up past it end the viewer). web_front.cpp writes it out.
//
// Threads: the stream calls deliver() and the publish events under its lock from the publisher's
// strand; they take the viewer's own mutex (a leaf) and, when the writer waits, post one wake-up
// to the viewer's strand. next() runs on that strand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/engine/stream.hpp"
#include "gateway/net/asio.hpp"
#include "gateway/net/connection_set.hpp"
#include "gateway/net/counters.hpp"
#include "gateway/rtmp/output_queue.hpp"

namespace rtmpgate::gateway::web {

class flv_viewer final : public engine::subscriber,
                         public closable,
                         public std::enable_shared_from_this<flv_viewer> {
public:
    using clock = asio::steady_timer::clock_type;

    // `websocket` picks the transport ("ws-flv" or "http-flv"). Media dropped for it is counted
    // in `stats` as it is dropped.
    flv_viewer(asio::any_io_executor strand, std::size_t queue_bytes, bool websocket,
               counters& stats);

    // engine::subscriber; any thread.
    void deliver(const protocol::message& m, engine::media_class c) override;
    void on_publish_start() override;
    void on_publish_stop() override;
    void on_drop() override;
    std::string_view transport() const noexcept override;
    // closable: the gateway shuts down.
    void shutdown() override;

    // Once subscribed: queues `initial` (what stream::subscribe gave), then what the stream
    // delivered meanwhile. Before start() nothing is written. `published`: the stream has a
    // publisher (subscribe's answer); otherwise wait_for_publisher() waits for one.
    void start(std::vector<protocol::message> initial, bool published = true);
    // On the strand: true once the stream has a publisher; false when `until` passed first or the
    // viewer ended (a stream played from a backend starts after its viewers came).
    asio::awaitable<bool> wait_for_publisher(clock::time_point until);
    // Ends the viewer (the first reason is kept); next() then answers `ended`. Any thread.
    void end(std::string reason);
    // end(), unless the stream has a publisher: for a viewer that waits for one. Any thread.
    void end_if_waiting(std::string reason);
    // On the strand: `f` is called, on the strand, when the viewer is ended from outside its
    // connection (shutdown, a drop by the admin), so that a write stuck on a client that reads
    // nothing does not hold the connection for the whole write deadline. The connection sets it
    // once it plays and clears it (an empty function) before it goes.
    void on_forced_end(std::function<void()> f);

    enum class wait_result : std::uint8_t { ready, idle, ended };
    // On the strand: moves up to `max_bytes` of queued messages (at least one) into `out`,
    // waiting for some until `until`: `idle` when it passed first, `ended` once end() was called
    // (what is still queued is dropped then).
    asio::awaitable<wait_result> next(std::vector<protocol::message>& out, std::size_t max_bytes,
                                      clock::time_point until);

    std::string reason() const;  // why it ended
    bool overflowed() const;     // it ended because its queue overflowed
    std::uint64_t dropped_messages() const;

private:
    void push_locked(const protocol::message& m, engine::media_class c);  // holds mutex_
    void wake_locked();                                                   // holds mutex_
    void forced_end();  // any thread: posts forced_ to the strand
    // Waits on wake_ until `until` or a wake-up; false when the coroutine was cancelled.
    asio::awaitable<bool> sleep(clock::time_point until);

    asio::any_io_executor strand_;
    const bool websocket_;
    counters& stats_;
    mutable std::mutex mutex_;  // a leaf: nothing else is locked under it
    rtmp::output_queue queue_;
    // Delivered before start(): queued after the initial messages.
    std::vector<std::pair<protocol::message, engine::media_class>> early_;
    bool started_ = false;
    bool published_ = false;
    bool ended_ = false;
    bool overflowed_ = false;
    std::string reason_;
    bool waiting_ = false;          // next() waits on wake_
    bool wake_posted_ = false;      // a wake-up is on its way to the strand
    asio::steady_timer wake_;       // the strand's
    std::function<void()> forced_;  // the strand's
};

}  // namespace rtmpgate::gateway::web
