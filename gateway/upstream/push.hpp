// The push relay: a stream published in the engine, published again on another RTMP server as
// a client would (nginx-rtmp's `push`). A push is a subscriber of the stream, like a player: it
// gets the metadata, the sequence headers and the current GOP first, then everything the
// publisher sends, and writes it to the server through an rtmp_client on a strand of its own.
//
// One push per publish and target, one attempt: it ends when the publisher stops (FCUnpublish
// and deleteStream, then close) or when the server fails, refuses or cannot be reached (one
// warning in the log). It never disturbs the publisher or the stream's players, and it is not
// retried: the next publish of the stream starts a new one. What waits for the server is
// bounded by engine.player_queue_bytes, dropped to the next keyframe like a slow player's.
// Deadlines: backend.connect_timeout (resolve and connect), backend.handshake_timeout (TLS, and
// the RTMP handshake through NetStream.Publish.Start), backend.write_timeout (each write).
// A push counts as a connection (shutdown ends it; rtmpgate_connections) and as a player of its
// stream (rtmpgate_players).
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.hpp"
#include "gateway/engine/publish_observer.hpp"
#include "gateway/engine/stream.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway {
struct server_context;
}

namespace rtmpgate::gateway::upstream {

// Starts pushing `s` to `target` as `app`/`stream_name` (connect's app and publish's name).
// Call on the publishing session's strand (`publisher_strand`) right after a successful publish,
// so that the push is a subscriber of this publish and no other; `log_id` names the publisher's
// connection in the push's log lines. Returns at once.
void start_push(server_context& context, const asio::any_io_executor& publisher_strand,
                std::shared_ptr<engine::stream> s, backend_target target, std::string app,
                std::string stream_name, std::string log_id);

// The pushes of the configuration: for each publish on an engine route, one push per entry of
// the route's `push` list (routes[i].push), as <the entry's app>/<its name, or the stream's>.
class route_pushes final : public engine::publish_observer {
public:
    explicit route_pushes(server_context& context) : context_(context) {}

    void published(const std::shared_ptr<engine::stream>& s, const std::string& app,
                   const std::string& name, const std::string& log_id,
                   const asio::any_io_executor& strand) override;

private:
    server_context& context_;
};

}  // namespace rtmpgate::gateway::upstream
