// Holds back a client's publish and play on a backend route until the access gate has decided
// them: fed the client's chunk stream in order (from the first octet after C2), it says how many
// of those octets may go to the backend now. Sans-I/O.
//
// Octets go through unchanged, up to the first chunk of any message that might carry a command
// and is not yet complete. What "might carry a command" means is set by what backends dispatch:
// nginx-rtmp hands every AMF message type (commands 20/17, data 18/15, shared objects 19/16) to
// its command table, by the name lowercased and cut at its first NUL, and unpacks the messages
// inside an aggregate (22) the same way. So the guard
//   - captures each message of those six types (at most max_command_bytes) and reads its name
//     when it completes: publish, play or play2 in a command stops the guard at the start of that
//     message's first chunk with a held request; the same names in a data or shared-object
//     message, a second connect, or a command whose name cannot be read fail the guard;
//   - follows the sub-message headers of an aggregate without keeping its payload, and fails on
//     anything inside it but audio and video;
//   - passes media and control after reading their headers only (Set Chunk Size and Abort change
//     the framing and are applied).
// Anything it cannot frame for certain fails it: the backend might read those octets otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/access/decision.hpp"
#include "protocol/command.hpp"

namespace rtmpgate::gateway::backend {

// A publish or play the guard holds until the caller decides it.
struct held_request {
    access::action what = access::action::publish;  // publish, or play (for play and play2)
    std::string command;                            // "publish", "play" or "play2", as parsed
    std::string stream;                             // the stream name with its query, as sent
    std::uint32_t message_stream_id = 0;
    double transaction_id = 0;
    std::uint32_t chunk_stream_id = 0;
    // For writing it anew under another name (allow_renamed): the command as parsed, the
    // message's type and absolute timestamp, and whether its chunks came one after the other
    // (no chunk of another chunk stream between them).
    protocol::command parsed;
    std::uint32_t timestamp = 0;
    bool contiguous = true;
};

class command_guard {
public:
    // The longest message of an AMF type, and all such messages in progress together.
    static constexpr std::uint32_t max_command_bytes = 64 << 10;
    // Chunk streams it follows; a client that uses more fails it (nginx-rtmp takes 32).
    static constexpr std::size_t max_chunk_streams = 64;

    // `max_withheld`: octets fed but not yet forwardable while no request is held (a command
    // whose chunks come slowly among media); past it the guard fails.
    explicit command_guard(std::uint64_t max_withheld = 512 << 10) : max_withheld_(max_withheld) {}

    // Consumes octets from the front of `in` and returns how many. Stops right after the chunk
    // that completes a publish or play (held() then has it), and takes nothing while one is held
    // or after a failure.
    std::size_t feed(std::span<const std::uint8_t> in);

    // Octets consumed so far, and how many of them (from the first) may be forwarded now.
    std::uint64_t consumed() const noexcept { return offset_; }
    std::uint64_t forwardable() const noexcept;

    const std::optional<held_request>& held() const noexcept { return held_; }
    // The held request was allowed: its message goes through as it was sent.
    void allow();
    // The held request was allowed under another name: the caller writes that message anew on
    // the same chunk stream (format 0 header, the same timestamp) in place of the octets from
    // forwardable() to held_end(), which it drops. The backend then knows another length for
    // that chunk stream than the client does, so the client's next header on it must carry a
    // length (format 0 or 1); a format 2 or 3 one fails the guard.
    void allow_renamed();
    // Where the held message's first chunk starts and its last chunk ends.
    std::uint64_t held_at() const noexcept { return held_at_; }
    std::uint64_t held_end() const noexcept { return held_end_; }
    // The chunk size the client writes with now (its latest Set Chunk Size).
    std::uint32_t chunk_size() const noexcept { return chunk_size_; }

    bool failed() const noexcept { return !failure_.empty(); }
    const std::string& failure() const noexcept { return failure_; }

private:
    struct stream {
        std::uint32_t chunk_stream_id = 0;
        std::uint32_t message_length = 0;
        std::uint32_t remaining = 0;  // octets of the current message still to come
        std::uint32_t message_stream_id = 0;
        std::uint32_t extended_value = 0;
        std::uint8_t message_type_id = 0;
        bool extended = false;      // the latest format 0-2 header had an extended timestamp
        bool capturing = false;     // the message in progress is of an AMF type: kept in `payload`
        bool interleaved = false;   // a chunk of another chunk stream came inside that message
        bool must_restart = false;  // its next header must carry a length (allow_renamed)
        std::uint32_t timestamp = 0;  // absolute, of the message in progress or the last one
        std::uint32_t timestamp_delta = 0;
        std::uint64_t first_chunk_at = 0;  // offset of its first chunk's header
        std::vector<std::uint8_t> payload;
        // Set Chunk Size, Abort: the first four payload octets.
        std::uint8_t prefix_length = 0;
        std::uint8_t prefix[4] = {};
        // Aggregate: octets of the sub-message header read (0..11), its type and length so
        // far, and the octets of its body and back pointer still to skip.
        std::uint8_t sub_header_length = 0;
        std::uint8_t sub_type = 0;
        std::uint32_t sub_length = 0;
        std::uint64_t sub_skip = 0;
    };
    enum class type3_extended : std::uint8_t { unknown, present, absent };
    enum class header_status : std::uint8_t { complete, need_more, failed };

    header_status parse_header(std::span<const std::uint8_t> in, std::size_t& used);
    void take_payload(std::span<const std::uint8_t> bytes);
    void scan_aggregate(stream& s, std::span<const std::uint8_t> bytes);
    void end_message(stream& s);
    void inspect(stream& s);
    stream* find(std::uint32_t chunk_stream_id);
    void fail(std::string why);

    std::vector<stream> streams_;
    std::uint64_t max_withheld_;
    std::uint64_t offset_ = 0;  // octets consumed
    // A chunk header cut by the end of a feed(), and where it started.
    std::uint8_t header_[18] = {};
    std::size_t header_length_ = 0;
    std::uint32_t chunk_size_ = 128;  // spec 5.4.1: 128 until a Set Chunk Size
    std::uint32_t payload_left_ = 0;  // octets of the current chunk's payload still to come
    std::size_t current_ = 0;         // index in streams_ of the chunk being read
    std::uint32_t captured_ = 0;      // octets in every stream's payload together
    type3_extended type3_extended_ = type3_extended::unknown;
    bool connected_ = false;  // the connect has gone by
    bool stop_ = false;       // a message just completed as a held request: feed() returns
    std::optional<held_request> held_;
    std::uint64_t held_at_ = 0;
    std::uint64_t held_end_ = 0;
    std::string failure_;
};

}  // namespace rtmpgate::gateway::backend
