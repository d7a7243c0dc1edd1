// An RTMP client that publishes one stream to a server over a byte_stream already through the
// RTMP handshake (backend/dial.hpp opens it): the command sequence of publish_sequence, its
// chunk layer both ways, and the server's protocol control. The push relay drives it: publish()
// once, then read() beside its own writes of media through encoder() and stream().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/upstream/client_link.hpp"
#include "gateway/upstream/publish_sequence.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class rtmp_client : public client_link {
public:
    rtmp_client(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                publish_sequence::params params);

    // Sends Set Chunk Size and connect and answers the server until NetStream.Publish.Start.
    // `early`: what the server sent after its S2. Gives "" once published, else why not (for
    // the log). No deadline of its own: the caller bounds it.
    asio::awaitable<std::string> publish(std::vector<std::uint8_t> early);

    // After publish(): reads the server until it closes, fails or refuses the stream, and gives
    // the reason. What must be answered (Acknowledgement, Ping Response) goes to `replies`, for
    // the caller's writer: this never writes.
    asio::awaitable<std::string> read(
        const std::function<void(std::vector<protocol::message>&)>& replies);

    // write() sends the end of the publish (FCUnpublish and deleteStream from
    // publish_sequence::finish); encoder() and stream() are the push's writer's.
    publish_sequence& sequence() noexcept { return sequence_; }

private:
    // Feeds the server's octets to the decoder and the sequence; answers go to `out`. Gives ""
    // or why the chunk stream is broken.
    std::string feed(std::span<const std::uint8_t> in,
                     std::vector<protocol::message>& out) override;

    publish_sequence sequence_;
};

}  // namespace rtmpgate::gateway::upstream
