// Streams of backend routes for the gateway's own viewers (HTTP-FLV and WebSocket-FLV, web/):
// one upstream play per stream, shared by all of them. A viewer holds a lease while it plays;
// the first lease of a stream ("app/name") starts a pull, which plays the stream from the
// route's backend as an RTMP client (play_client, over backend/dial's rtmp:// or rtmps://) and
// publishes what it receives into the engine's stream_registry under that key, so that the
// viewers subscribe to the key as to any engine stream and the engine's fan-out, GOP cache and
// slow-viewer policy serve them. Later leases share the pull. When the last lease is released
// the pull lingers for a second (a browser player that reconnects, or falls back from
// WebSocket to HTTP-FLV, finds it still there and its GOP cached), then closes the play
// (closeStream, deleteStream, close) and leaves the registry.
//
// The pull attaches as the stream's publisher at the first message of the stream, not at the
// play's start: nginx-rtmp answers the play of a stream nobody publishes with Play.Start and
// then waits, and a viewer is not to be told a stream began that has no media. The viewer
// bounds its own wait for that (start_wait()).
//
// Deadlines: backend.connect_timeout (resolve and connect), backend.handshake_timeout (TLS,
// the RTMP handshake, and again from connect to the play's start), backend.write_timeout (each
// write), limits.idle_timeout (no message of the stream: as long as the engine waits for a
// silent client). A pull also ends when the backend ends the stream (its publisher left), fails
// or closes, or the stream is dropped from the admin listener; its players are told as when a
// publisher stops (detach_publisher -> on_publish_stop). A pull that ended so, rather than for
// want of viewers, holds its key back for retry_pause: a viewer arriving then gets a new pull
// that starts when the pause is over, so that a failing backend is tried at most once per pause
// per stream however many viewers keep asking. A pull that ends before its stream started tells
// the viewers waiting for it (hold()'s `told`), so that they answer at once.
//
// Threads: hold() and releasing a lease are thread-safe (a viewer's strand); each pull runs on
// a strand of its own. A pull counts as a connection (shutdown ends it; rtmpgate_connections_open)
// and in rtmpgate_pulls_open; rtmpgate_pulls_total counts the plays started, and
// rtmpgate_pull_failures_total those that failed. One log line when a pull starts, one when it
// ends, with why.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "gateway/config/config.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {
struct server_context;
}

namespace rtmpgate::gateway::upstream {

class pulls {
public:
    // A new attempt at a stream whose last pull failed waits this long after the failure.
    static constexpr std::chrono::milliseconds retry_pause{1000};
    // A pull whose last viewer left closes this long after.
    static constexpr std::chrono::milliseconds linger{1000};

    // Pulls run on strands of `io`.
    pulls(server_context& context, asio::io_context& io);
    ~pulls();
    pulls(const pulls&) = delete;
    pulls& operator=(const pulls&) = delete;

    // A lease on the pull of `app`/`name` from `via`'s backend (a route to a backend; null for an
    // engine route), starting one when none runs. `name` may carry a query string ("a?token=x"):
    // it is sent with the play (an nginx-rtmp on_play hook may read it) and is part of the
    // stream's key, `app` + "/" + `name`: viewers share a pull only when they ask the backend
    // the same, so that no viewer's query decides what another is served. The lease ends with
    // its last copy.
    //
    // `told` hears, on the pull's strand, when the pull ends before the stream started (nothing
    // was published under the key): its viewers need not wait out start_wait().
    struct not_started {
        std::string reason;
        // The backend failed before the play (could not be reached, failed the handshake, refused
        // the connect or createStream, broke off), rather than answered the play (refused it,
        // closed the connection on it, did not start it before the deadline, or started it and
        // sent nothing until limits.idle_timeout or the stream's end).
        bool backend_failed = false;
    };
    using not_started_fn = std::function<void(const not_started&)>;
    std::shared_ptr<void> hold(const route& via, const std::string& app, const std::string& name,
                               not_started_fn told = {});

    // How long a viewer of a backend stream waits for the stream to start before it gives up:
    // a retry pause, then connecting, the TLS handshake of an rtmps:// backend, the RTMP handshake
    // and the play's start, each at its deadline.
    std::chrono::milliseconds start_wait(const route& via) const;

    // Pulls running (or waiting for their retry pause) now.
    std::size_t size() const;

    struct state;  // shared with every pull and lease (pull.cpp)

private:
    std::shared_ptr<state> state_;
};

}  // namespace rtmpgate::gateway::upstream
