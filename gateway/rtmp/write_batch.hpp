// A connection's next write: messages taken from its output_queue, chunked by its encoder into
// header octets and payload slices for one gathered write, with the references to the payloads
// that keep those slices alive until they are written. Reused from write to write, so that its
// vectors keep their capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/net/asio.hpp"
#include "gateway/rtmp/output_queue.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::rtmp {

class write_batch {
public:
    // Precondition: empty(). Takes up to `max_bytes` of payload from `queue` (at least one
    // message) and encodes it; the encoder's chunk stream state moves on as the peer's will when
    // it reads these octets.
    void fill(output_queue& queue, protocol::chunk_encoder& encoder, std::size_t max_bytes);

    bool empty() const noexcept { return next_ == buffers_.size(); }
    // What is left to write, in order.
    std::span<const asio::const_buffer> buffers() const noexcept {
        return std::span(buffers_).subspan(next_);
    }
    // The payloads that buffers() point into, in order (byte_stream::write_shared).
    std::span<const protocol::shared_bytes> payloads() const noexcept { return payloads_; }

    // The first `n` octets of buffers() are written: buffers() is what remains.
    void consume(std::size_t n);
    // Everything is written (or abandoned): releases the payloads.
    void clear();

private:
    std::vector<protocol::message> messages_;
    std::vector<std::uint8_t> headers_;
    std::vector<protocol::gather_piece> pieces_;  // one message's, while it is encoded
    std::vector<asio::const_buffer> buffers_;
    std::size_t next_ = 0;  // buffers_[next_] is the first not wholly written
    std::vector<protocol::shared_bytes> payloads_;
};

}  // namespace rtmpgate::gateway::rtmp
