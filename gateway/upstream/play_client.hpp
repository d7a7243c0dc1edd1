// An RTMP client that plays one stream from a server over a byte_stream already through the RTMP
// handshake (backend/dial.hpp opens it): the command sequence of play_sequence, its chunk layer
// both ways, and the server's protocol control. A pull (upstream/pull.hpp) drives it: play()
// once, then read() until the play is over, then finish().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "gateway/net/counters.hpp"
#include "gateway/upstream/client_link.hpp"
#include "gateway/upstream/play_sequence.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class play_client : public client_link {
public:
    // `shared`: the process's bound on partly received messages (may be null).
    play_client(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                play_sequence::params params, protocol::byte_budget* shared = nullptr);

    // Sends connect and answers the server until the play has started. `early`: what the server
    // sent after its S2. Gives "" once playing, else why not (for the log). No deadline of its
    // own: the caller bounds it.
    asio::awaitable<std::string> play(std::vector<std::uint8_t> early);

    // After play(): reads the server until it closes, fails, ends the stream or refuses it, and
    // gives the reason; sequence().current() then tells a stream that ended (its publisher
    // left) from a failure. Every message of the stream (play_sequence::is_stream_media) goes
    // to `on_media` in order, those that came with the play's start first; `on_media` gives ""
    // or why the play is to end. Answers (Acknowledgement, Ping Response) are written here,
    // each within `write_timeout`. No message of the stream for `media_timeout` ends the play
    // (deadline backend_idle). Deadlines are counted in `stats`.
    asio::awaitable<std::string> read(
        const std::function<std::string(const protocol::message&)>& on_media,
        std::chrono::milliseconds media_timeout, std::chrono::milliseconds write_timeout,
        counters& stats);

    // write() sends the end of the play (play_sequence::finish); stream() is for the RTMP
    // handshake before play().
    play_sequence& sequence() noexcept { return sequence_; }

private:
    // Feeds the server's octets to the decoder and the sequence; answers go to `out`, messages
    // of the stream to media_. Gives "" or why the chunk stream is broken.
    std::string feed(std::span<const std::uint8_t> in,
                     std::vector<protocol::message>& out) override;

    play_sequence sequence_;
    std::vector<protocol::message> media_;  // of the stream, not yet given to read()'s caller
};

}  // namespace rtmpgate::gateway::upstream
