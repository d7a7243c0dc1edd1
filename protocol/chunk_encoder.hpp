// RTMP chunk stream encoder (RTMP 1.0 spec 5.3): turns messages into chunks, choosing the smallest
// header format per chunk stream.
#pragma once

#include "protocol/message.hpp"

#include <cstdint>
#include <span>
#include <vector>

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

    // The outgoing chunk size. The caller sends Set Chunk Size (control.hpp) before the first
    // message chunked with the new size.
    void set_chunk_size(std::uint32_t size);
    std::uint32_t chunk_size() const noexcept;

    // Appends `m`, chunked, headers and payload copied, to `out`.
    void encode(const message& m, std::vector<std::uint8_t>& out);

    // Appends the chunk headers of `m` to `headers` and the write order to `pieces`: header,
    // payload slice, header, payload slice... Payload slices point into m.payload, which must
    // stay alive until the write completes.
    void encode_gather(const message& m, std::vector<std::uint8_t>& headers,
                       std::vector<gather_piece>& pieces);

private:
    // members: chosen by the implementation
};

}  // namespace rtmpgate::protocol
