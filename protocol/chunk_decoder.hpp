// RTMP chunk stream decoder (RTMP 1.0 spec 5.3): turns received bytes into whole messages.
#pragma once

#include "protocol/error.hpp"
#include "protocol/message.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rtmpgate::protocol {

struct chunk_decoder_limits {
    // Largest Set Chunk Size a peer may ask for. ffmpeg and OBS use 4096, nginx-rtmp up to 64 KiB.
    std::uint32_t max_chunk_size = 1 << 20;
    // Largest message (the 24-bit length field allows 16 MiB). A 4K keyframe fits in a few MiB.
    std::uint32_t max_message_length = 8 << 20;
    // Chunk streams with a message partly received at once. Real clients use fewer than ten.
    std::size_t max_chunk_streams = 64;
};

class chunk_decoder {
public:
    explicit chunk_decoder(chunk_decoder_limits limits = {});

    // Consumes `in` and appends every completed message to `out`. Set Chunk Size (type 1) and
    // Abort (type 2) take effect inside the decoder the moment they complete (the next chunk in
    // the same buffer is read with the new size) and are appended to `out` too.
    // Returns the octets consumed. ec == error::need_more: all of `in` was consumed (a partial
    // header is kept inside), feed more. Any other error: the stream is broken; stop feeding.
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<message>& out, error_code& ec);

    std::uint32_t chunk_size() const noexcept;
    // Total octets consumed so far (for Acknowledgement, spec 5.4.3).
    std::uint64_t bytes_consumed() const noexcept;

private:
    // members: chosen by the implementation
};

}  // namespace rtmpgate::protocol
