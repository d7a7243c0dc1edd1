#include "protocol/aggregate.hpp"

#include <span>

#include "protocol/byte_reader.hpp"
#include "protocol/flv.hpp"

namespace rtmpgate::protocol {
namespace {

bool is_sub_message_type(std::uint8_t type) noexcept {
    return type == static_cast<std::uint8_t>(message_type::audio) ||
           type == static_cast<std::uint8_t>(message_type::video) ||
           type == static_cast<std::uint8_t>(message_type::data_amf0);
}

struct sub_tag {
    std::uint8_t type = 0;
    std::uint32_t timestamp = 0;
    std::span<const std::uint8_t> body;
};

// One sub-message: RTMP 1.0 spec 7.1.6 gives its header as type (1), payload length (3),
// timestamp (4: FLV order, 24 low bits then bits 24-31) and stream id (3), then the payload and
// a back pointer holding the size of the sub-message with its header.
bool read_sub_tag(byte_reader& r, sub_tag& out) noexcept {
    std::uint32_t length = 0;
    std::uint32_t timestamp_low = 0;
    std::uint8_t timestamp_high = 0;
    std::uint32_t back_pointer = 0;
    // The stream id field is skipped: FMS writes the message stream id there, others 0; every
    // sub-message belongs to the aggregate's stream anyway.
    if (!r.read_u8(out.type) || !r.read_u24be(length) || !r.read_u24be(timestamp_low) ||
        !r.read_u8(timestamp_high) || !r.skip(3) || !r.read_bytes(length, out.body) ||
        !r.read_u32be(back_pointer))
        return false;
    out.timestamp = (std::uint32_t{timestamp_high} << 24) | timestamp_low;
    return is_sub_message_type(out.type) && back_pointer == flv_tag_header_size + length;
}

}  // namespace

result<std::vector<message>> split_aggregate(const message& m) {
    // Two passes: validate everything first so that a malformed aggregate copies nothing.
    byte_reader check(m.payload.span());
    std::size_t count = 0;
    while (!check.empty()) {
        sub_tag tag;
        if (!read_sub_tag(check, tag)) return error::aggregate_malformed;
        ++count;
    }

    std::vector<message> out;
    out.reserve(count);
    byte_reader r(m.payload.span());
    std::uint32_t first_timestamp = 0;
    for (std::size_t i = 0; i < count; ++i) {
        sub_tag tag;
        read_sub_tag(r, tag);
        if (i == 0) first_timestamp = tag.timestamp;
        message sub;
        sub.chunk_stream_id = m.chunk_stream_id;
        // ffmpeg (rtmpproto.c) and nginx-rtmp both rebase on the first sub-message: the
        // aggregate's own timestamp is authoritative, the tags' only give offsets. Unsigned
        // arithmetic keeps this right across the 2^32 wrap, and for a tag earlier than the first.
        sub.timestamp = m.timestamp + (tag.timestamp - first_timestamp);
        sub.message_type_id = tag.type;
        sub.message_stream_id = m.message_stream_id;
        sub.payload = shared_bytes(tag.body);
        out.push_back(std::move(sub));
    }
    return out;
}

}  // namespace rtmpgate::protocol
