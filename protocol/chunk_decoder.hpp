// RTMP chunk stream decoder (RTMP 1.0 spec 5.3): turns received bytes into whole messages.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/byte_budget.hpp"
#include "protocol/error.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::protocol {

struct chunk_decoder_limits {
    // Largest Set Chunk Size a peer may ask for. ffmpeg and OBS use 4096, nginx-rtmp up to 64 KiB.
    std::uint32_t max_chunk_size = 1 << 20;
    // Largest message (the 24-bit length field allows 16 MiB). A 4K keyframe fits in a few MiB.
    std::uint32_t max_message_length = 8 << 20;
    // Chunk streams with a message partly received at once. Real clients use fewer than ten.
    std::size_t max_chunk_streams = 64;
    // Octets of partly received messages, all chunk streams together, counted as they arrive
    // (not as their headers declare). A client needs one large keyframe on one chunk stream and
    // a little audio on another; 64 chunk streams each 7 MiB into an 8 MiB message need 448 MiB.
    std::uint64_t max_partial_bytes = 10 << 20;
};

class chunk_decoder {
public:
    // `shared`, when given, is the process's bound on partly received messages: the decoder
    // takes from it what its partial messages hold (in steps of partial_step octets, so that a
    // media stream does not touch the shared count for every chunk) and gives it all back when
    // no message is in progress, and when it is destroyed. `shared` must outlive the decoder.
    explicit chunk_decoder(chunk_decoder_limits limits = {}, byte_budget* shared = nullptr);
    ~chunk_decoder();
    chunk_decoder(const chunk_decoder&) = delete;
    chunk_decoder& operator=(const chunk_decoder&) = delete;

    // What a decoder holds at most of a shared budget beyond its partial messages' octets.
    static constexpr std::uint64_t partial_step = 64 << 10;

    // Consumes `in` and appends every completed message to `out`. Set Chunk Size (type 1) and
    // Abort (type 2) take effect inside the decoder the moment they complete (the next chunk in
    // the same buffer is read with the new size) and are appended to `out` too.
    // Returns the octets consumed. ec == error::need_more: all of `in` was consumed (a partial
    // header is kept inside), feed more. Any other error: the stream is broken; stop feeding.
    std::size_t feed(std::span<const std::uint8_t> in, std::vector<message>& out, error_code& ec);

    std::uint32_t chunk_size() const noexcept;
    // Total octets consumed so far (for Acknowledgement, spec 5.4.3).
    std::uint64_t bytes_consumed() const noexcept;
    // Octets of messages received in part, all chunk streams together.
    std::uint64_t partial_bytes() const noexcept;
    // Drops every message in progress and gives back what they held (the connection's bytes go
    // elsewhere from here: a backend link reads them). The decoder is not to be fed after it.
    void drop_partial() noexcept;

private:
    // What the latest chunk headers of one chunk stream said, and its message in progress.
    struct stream_state {
        std::uint32_t chunk_stream_id = 0;
        std::uint32_t timestamp = 0;        // of the message in progress, or of the last one
        std::uint32_t timestamp_delta = 0;  // what a format-3 header starting a message adds
        std::uint32_t message_length = 0;
        std::uint32_t message_stream_id = 0;
        std::uint8_t message_type_id = 0;
        bool extended = false;  // latest format 0-2 header had timestamp 0xFFFFFF
        bool in_progress = false;
        std::uint32_t extended_value = 0;  // extended timestamp of the message's first chunk
        shared_bytes payload;              // grows to message_length as the octets arrive
        std::uint8_t* fill = nullptr;      // payload's octets, written until the message completes
        std::uint32_t received = 0;        // octets of payload written so far
        std::uint32_t capacity = 0;        // octets payload can hold (its size)
    };
    // Whether the peer repeats the extended timestamp on format-3 chunks (see chunk_decoder.cpp).
    enum class type3_extended : std::uint8_t { unknown, present, absent };
    struct chunk_header;
    enum class parse_status : std::uint8_t { complete, need_more, failed };

    // Basic header (3) + format-0 message header (11) + extended timestamp (4).
    static constexpr std::size_t max_header_size = 18;
    static constexpr std::size_t no_stream = static_cast<std::size_t>(-1);

    // The three parts of feed(): each consumes from the front of `in` (which is not empty) and
    // returns the octets it used. The first two run for nearly every chunk of a media stream and
    // are inline (defined in chunk_decoder.cpp, their only user): as calls they cost a 1 KiB
    // message some 4% more instructions to decode.
    inline std::size_t feed_payload(std::span<const std::uint8_t> in, std::vector<message>& out,
                                    error_code& ec);
    inline std::size_t feed_format3_chunks(std::span<const std::uint8_t> in,
                                           std::vector<message>& out, error_code& ec);
    std::size_t feed_header(std::span<const std::uint8_t> in, std::vector<message>& out,
                            error_code& ec);

    std::size_t find_stream(std::uint32_t chunk_stream_id) const noexcept;
    std::size_t add_stream(std::uint32_t chunk_stream_id, error_code& ec);
    parse_status parse_header(std::span<const std::uint8_t> in, chunk_header& h,
                              error_code& ec) const;
    void start_chunk(const chunk_header& h, std::vector<message>& out, error_code& ec);
    void begin_message(stream_state& s);
    std::size_t continue_message(std::span<const std::uint8_t> in, std::size_t index,
                                 std::uint8_t header, error_code& ec);
    bool make_room(stream_state& s, std::size_t n, error_code& ec);
    void release(stream_state& s) noexcept;
    void append_payload(std::span<const std::uint8_t> bytes, std::vector<message>& out,
                        error_code& ec);
    void complete_message(stream_state& s, std::vector<message>& out, error_code& ec);
    void apply_control(const message& m, error_code& ec);

    chunk_decoder_limits limits_;
    std::size_t max_known_streams_;
    std::uint32_t chunk_size_ = 128;  // spec 5.4.1: 128 until the peer sends Set Chunk Size
    std::uint64_t bytes_consumed_ = 0;

    std::vector<stream_state> streams_;          // every chunk stream seen, never removed
    std::array<std::uint32_t, 64> low_index_{};  // 1 + index in streams_ of ids 2..63, or 0
    std::size_t in_progress_ = 0;                // streams with a partial message
    std::uint64_t partial_bytes_ = 0;            // their received octets, together
    byte_budget* shared_ = nullptr;
    std::uint64_t taken_ = 0;  // octets taken from *shared_: partial_bytes_ rounded up, or more
    type3_extended type3_extended_ = type3_extended::unknown;

    // A chunk header cut by the end of a feed() call.
    std::array<std::uint8_t, max_header_size> header_buf_{};
    std::size_t header_len_ = 0;

    // The chunk whose payload is being received: streams_[current_], payload_left_ octets to go.
    std::size_t current_ = 0;
    std::uint32_t payload_left_ = 0;
};

}  // namespace rtmpgate::protocol
