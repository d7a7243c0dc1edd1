// The chunk layer of one RTMP client connection to a server, over a byte_stream already through
// the RTMP handshake: what rtmp_client (publishing) and play_client (playing) share. Encodes and
// writes the client's messages; decodes the server's octets into messages.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/net/asio.hpp"
#include "gateway/net/byte_stream.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class client_link {
public:
    // `shared`: the process's bound on partly received messages (may be null).
    client_link(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                protocol::byte_budget* shared = nullptr);
    virtual ~client_link() = default;

    // Encodes `messages` and writes them at once.
    asio::awaitable<error_code> write(std::span<const protocol::message> messages);

    // The writer's: what it encodes towards the server, and where it writes it.
    protocol::chunk_encoder& encoder() noexcept { return encoder_; }
    byte_stream& stream() noexcept { return *stream_; }
    void close() { stream_->close(); }

protected:
    // The most one read from the server takes.
    static constexpr std::size_t read_buffer_bytes = 16384;

    // The server's octets `in`, to the decoder and the client's command sequence; answers go to
    // `out`. Gives "" or why the chunk stream is broken.
    virtual std::string feed(std::span<const std::uint8_t> in,
                             std::vector<protocol::message>& out) = 0;
    // The start of a conversation: writes `out` (what the sequence starts with), then reads and
    // feeds the server, `early` (what it sent after S2) first, writing the answers, until
    // `outcome` has a verdict: "" when the sequence got where it was going, else why not.
    asio::awaitable<std::string> converse(
        std::vector<protocol::message> out, std::span<const std::uint8_t> early,
        const std::function<std::optional<std::string>()>& outcome);
    // Decodes the server's octets `in` into received_ (cleared first). Gives "" or why the chunk
    // stream is broken.
    std::string decode(std::span<const std::uint8_t> in);
    // Octets of chunk stream decoded so far, for Acknowledgements.
    std::uint64_t bytes_decoded() const noexcept { return decoder_.bytes_consumed(); }
    // A failed read from the server, for the log.
    static std::string read_failure(const error_code& ec);

    std::vector<protocol::message> received_;  // reused by decode()

private:
    std::unique_ptr<byte_stream> stream_;
    protocol::chunk_decoder decoder_;
    protocol::chunk_encoder encoder_;
};

}  // namespace rtmpgate::gateway::upstream
