// Follows the chunk boundaries of one direction of a spliced link without keeping any payload, so
// that the link can put a message of its own (a Ping Request) between two chunks without
// disturbing what the receiver decodes: RTMP 1.0 spec 5.3, chunks of different chunk streams
// interleave freely. Fed the same bytes, in the same order, as the receiver gets; sans-I/O.
//
// It reads only headers: the basic header and message header of each chunk, the extended
// timestamp, and the first four payload octets of Set Chunk Size and Abort messages, which change
// how the following chunks are framed. Anything it cannot follow for certain (a format 1-3
// header on a chunk stream never started, a new message header in the middle of a message, an
// invalid chunk size, more chunk streams than it keeps) makes it give up for good: from then on
// it never reports a boundary, and the link injects nothing in that direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rtmpgate::gateway::backend {

class chunk_tracker {
public:
    // Chunk streams it follows at most; a sender that uses more makes it give up.
    static constexpr std::size_t max_chunk_streams = 256;

    void feed(std::span<const std::uint8_t> bytes);

    // True when everything fed so far ends exactly at the end of a chunk.
    bool at_boundary() const noexcept { return !lost_ && header_.empty() && payload_left_ == 0; }
    bool lost() const noexcept { return lost_; }
    // A chunk stream id the sender has never used, for a message of the link's own: the lowest of
    // 3..31 (nginx-rtmp closes a connection that uses an id at or above its max_streams, 32 by
    // default); none if every one is taken.
    std::optional<std::uint32_t> unused_chunk_stream() const;
    // The chunk size the receiver reads the next chunk with (the sender's latest Set Chunk
    // Size), for a message of the link's own longer than 128 octets.
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }

private:
    struct stream {
        std::uint32_t chunk_stream_id = 0;
        std::uint32_t message_length = 0;
        std::uint32_t remaining = 0;  // octets of the current message still to come
        std::uint32_t extended_value = 0;
        std::uint8_t message_type_id = 0;
        bool extended = false;  // the latest format 0-2 header had an extended timestamp
        std::uint8_t prefix_length = 0;
        std::uint8_t prefix[4] = {};  // first payload octets (Set Chunk Size, Abort)
    };
    enum class type3_extended : std::uint8_t { unknown, present, absent };

    // Tries to complete the header accumulated in header_ (false while it needs more octets);
    // on success sets up the chunk and feeds what header_ holds past the header as its payload.
    bool parse_header();
    void take_payload(std::span<const std::uint8_t> bytes);
    void end_chunk();
    stream* find(std::uint32_t chunk_stream_id);

    std::vector<stream> streams_;
    std::vector<std::uint8_t> header_;  // octets of the header being read (at most 18)
    std::uint32_t chunk_size_ = 128;    // spec 5.4.1: 128 until a Set Chunk Size
    std::uint32_t payload_left_ = 0;    // octets of the current chunk's payload still to come
    std::size_t current_ = 0;           // index in streams_ of the chunk being read
    type3_extended type3_extended_ = type3_extended::unknown;
    bool lost_ = false;
};

}  // namespace rtmpgate::gateway::backend
