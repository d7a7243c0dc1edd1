#include "gateway/backend/chunk_tracker.hpp"

#include <algorithm>

#include "protocol/byte_reader.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::backend {

namespace {

// Spec 5.3.1.3: a 24-bit timestamp field of 0xFFFFFF announces the 4-octet extended field.
constexpr std::uint32_t extended_marker = 0xFFFFFF;
constexpr auto set_chunk_size = static_cast<std::uint8_t>(protocol::message_type::set_chunk_size);
// The longest chunk header: basic header (3) + message header (11) + extended timestamp (4).
constexpr std::size_t max_header_size = 18;
constexpr auto abort_message = static_cast<std::uint8_t>(protocol::message_type::abort);

}  // namespace

chunk_tracker::stream* chunk_tracker::find(std::uint32_t chunk_stream_id) {
    for (auto& s : streams_)
        if (s.chunk_stream_id == chunk_stream_id) return &s;
    return nullptr;
}

std::optional<std::uint32_t> chunk_tracker::unused_chunk_stream() const {
    for (std::uint32_t id = 3; id < 32; ++id)
        if (std::none_of(streams_.begin(), streams_.end(),
                         [id](const stream& s) { return s.chunk_stream_id == id; }))
            return id;
    return std::nullopt;
}

void chunk_tracker::feed(std::span<const std::uint8_t> bytes) {
    while (!bytes.empty() && !lost_) {
        if (payload_left_ > 0) {
            const auto n = std::min<std::size_t>(payload_left_, bytes.size());
            take_payload(bytes.first(n));
            bytes = bytes.subspan(n);
            continue;
        }
        if (header_.empty()) {
            // The usual case: the whole header is in this read. Whatever of these octets follows
            // the header, parse_header feeds on as payload; while the header is incomplete they
            // stay in header_ and the next octets come one at a time.
            const auto taken = std::min<std::size_t>(bytes.size(), max_header_size);
            header_.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(taken));
            bytes = bytes.subspan(taken);
            parse_header();
            continue;
        }
        header_.push_back(bytes.front());
        bytes = bytes.subspan(1);
        parse_header();
    }
}

// Parses the chunk header at the start of header_. On success it clears header_, sets up the
// chunk, and feeds the octets of header_ past the header to the chunk as payload.
bool chunk_tracker::parse_header() {
    protocol::byte_reader r(header_);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return false;
    const unsigned format = first >> 6;
    std::uint32_t id = first & 0x3Fu;
    if (id == 0) {
        std::uint8_t b = 0;
        if (!r.read_u8(b)) return false;
        id = 64u + b;
    } else if (id == 1) {
        std::uint16_t v = 0;
        if (!r.read_u16le(v)) return false;
        id = 64u + v;
    }
    const stream* known = find(id);
    if (!known && (format != 0 || streams_.size() >= max_chunk_streams)) {
        lost_ = true;
        return false;
    }
    const stream fresh{.chunk_stream_id = id};
    stream next = known ? *known : fresh;
    const bool continuing = next.remaining != 0;
    bool payload_peeked = false;
    if (format <= 2) {
        std::uint32_t timestamp = 0;
        if (!r.read_u24be(timestamp)) return false;
        if (format <= 1) {
            std::uint32_t stream_id = 0;
            if (!r.read_u24be(next.message_length) || !r.read_u8(next.message_type_id) ||
                (format == 0 && !r.read_u32le(stream_id)))
                return false;
        }
        next.extended = timestamp == extended_marker;
        if (next.extended && !r.read_u32be(next.extended_value)) return false;
        // A new message header in the middle of a message: receivers differ (ffmpeg keeps the
        // message, nginx-rtmp adopts the new length), so the framing is no longer certain.
        if (format <= 1 && continuing) {
            lost_ = true;
            return false;
        }
    } else if (next.extended) {
        // As protocol/chunk_decoder: the extended timestamp follows a format-3 header when the
        // latest format 0-2 header announced one, unless the sender is one of the older peers
        // that leave it out; the first continuation chunk with four payload octets tells which,
        // as the receiver's decoder finds out the same way.
        bool read_field = type3_extended_ != type3_extended::absent;
        if (type3_extended_ == type3_extended::unknown && continuing &&
            std::min(chunk_size_, next.remaining) >= 4) {
            std::uint32_t peeked = 0;
            if (!r.read_u32be(peeked)) return false;
            type3_extended_ =
                peeked == next.extended_value ? type3_extended::present : type3_extended::absent;
            payload_peeked = type3_extended_ == type3_extended::absent;
            read_field = false;
        }
        std::uint32_t ignored = 0;
        if (read_field && !r.read_u32be(ignored)) return false;
    }
    std::size_t used = r.position();
    if (payload_peeked) used -= 4;  // those four octets were payload
    stream* s = known ? find(id) : &streams_.emplace_back();
    *s = next;
    if (s->remaining == 0) {
        s->remaining = s->message_length;
        s->prefix_length = 0;
    }
    current_ = static_cast<std::size_t>(s - streams_.data());
    payload_left_ = std::min(chunk_size_, s->remaining);
    std::vector<std::uint8_t> rest(header_.begin() + static_cast<std::ptrdiff_t>(used),
                                   header_.end());
    header_.clear();
    if (payload_left_ == 0) end_chunk();
    feed(rest);
    return true;
}

void chunk_tracker::take_payload(std::span<const std::uint8_t> bytes) {
    auto& s = streams_[current_];
    for (std::size_t i = 0; i < bytes.size() && s.prefix_length < 4; ++i)
        s.prefix[s.prefix_length++] = bytes[i];
    const auto n = static_cast<std::uint32_t>(bytes.size());
    s.remaining -= n;
    payload_left_ -= n;
    if (payload_left_ == 0) end_chunk();
}

void chunk_tracker::end_chunk() {
    const auto& s = streams_[current_];
    if (s.remaining != 0 || s.prefix_length < 4) return;
    std::uint32_t value = 0;
    protocol::byte_reader r(std::span<const std::uint8_t>(s.prefix, 4));
    r.read_u32be(value);
    if (s.message_type_id == set_chunk_size) {
        // Spec 5.4.1: the top bit is zero; the receiver reads the rest as the new size.
        value &= 0x7FFFFFFFu;
        if (value == 0) lost_ = true;
        chunk_size_ = value;
    } else if (s.message_type_id == abort_message) {
        // Spec 5.4.2: the receiver discards the partly received message of that chunk stream.
        if (auto* aborted = find(value)) aborted->remaining = 0;
    }
}

}  // namespace rtmpgate::gateway::backend
