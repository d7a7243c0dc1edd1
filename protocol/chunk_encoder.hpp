// RTMP chunk stream encoder (RTMP 1.0 spec 5.3): turns messages into chunks, choosing the smallest
// header format per chunk stream.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/message.hpp"

namespace rtmpgate::protocol {

// One piece of a chunked message for scatter-gather writes: either `length` header octets at
// `header_offset` in the caller's header buffer (payload == nullptr), or `length` payload octets
// at `payload` (which points into the message's shared payload, never a copy).
struct gather_piece {
    const std::uint8_t* payload = nullptr;
    std::uint32_t header_offset = 0;
    std::uint32_t length = 0;
};

class chunk_encoder {
public:
    chunk_encoder();

    // The outgoing chunk size, clamped to 1..0x7FFFFFFF. Encoding a Set Chunk Size sets it (see
    // below); this is for a caller that has told the peer otherwise.
    void set_chunk_size(std::uint32_t size);
    std::uint32_t chunk_size() const noexcept;

    // Preconditions of encode and encode_gather: m.chunk_stream_id in 2..65599 and
    // m.payload.size() at most 0xFFFFFF (the 24-bit message length).
    // A Set Chunk Size message (type 1, control.hpp), on whatever chunk stream, is itself chunked
    // at the old size and then applies to every chunk written after it, as the peer's decoder
    // reads them (spec 5.4.1). One whose size is invalid (0 or above 0x7FFFFFFF) changes nothing.

    // Appends `m`, chunked, headers and payload copied, to `out`.
    void encode(const message& m, std::vector<std::uint8_t>& out);

    // Appends the chunk headers of `m` to `headers` (at most max_gather_header_octets) and the
    // write order to `pieces`: header, payload slice, header, payload slice... Payload slices
    // point into m.payload, which must stay alive until the write completes.
    void encode_gather(const message& m, std::vector<std::uint8_t>& headers,
                       std::vector<gather_piece>& pieces);
    // The first chunk's header (basic header 3, format-0 message header 11, extended timestamp
    // 4) and the one header every later chunk shares (basic header 3, extended timestamp 4).
    static constexpr std::size_t max_gather_header_octets = 18 + 7;

private:
    // What the peer's decoder remembers of a chunk stream: the fields of its latest message.
    struct stream_state {
        std::uint32_t chunk_stream_id = 0;
        std::uint32_t timestamp = 0;
        std::uint32_t timestamp_delta = 0;
        std::uint32_t message_length = 0;
        std::uint32_t message_stream_id = 0;
        std::uint8_t message_type_id = 0;
        bool started = false;      // a message has been sent on it
        bool delta_known = false;  // the latest format 1 or 2 header set timestamp_delta
    };

    stream_state& stream(std::uint32_t chunk_stream_id);
    // Writes the first chunk's header of `m` to `out`, records `m` in the chunk stream's state,
    // and leaves the header of the chunks after it (format 3, maybe extended) in continuation_.
    void write_headers(const message& m, std::vector<std::uint8_t>& out);
    std::size_t chunk_count(std::size_t payload_size) const noexcept;
    void gather(const message& m, std::vector<std::uint8_t>& headers,
                std::vector<gather_piece>& pieces);
    // Takes the chunk size of a Set Chunk Size just written.
    void apply_control(const message& m);

    std::uint32_t chunk_size_ = 128;  // spec 5.4.1: 128 until we send Set Chunk Size
    std::vector<stream_state> streams_;
    std::array<std::uint32_t, 64> low_index_{};  // 1 + index in streams_ of ids 2..63, or 0
    std::vector<std::uint8_t> continuation_;     // reused: the format-3 header of later chunks
};

}  // namespace rtmpgate::protocol
