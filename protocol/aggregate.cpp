#include "protocol/aggregate.hpp"

#include <utility>

#include "protocol/byte_reader.hpp"
#include "protocol/flv.hpp"

namespace rtmpgate::protocol {

result<std::vector<message>> split_aggregate(const message& m) {
    // RTMP 1.0 spec 7.1.6: each sub-message is an FLV tag (type, payload length, timestamp in
    // FLV order, stream id), payload and back pointer. Its types are FLV's too: audio (8),
    // video (9), data (18). FMS writes the message stream id into the tag's stream id field,
    // others 0; every sub-message belongs to the aggregate's stream anyway.
    std::vector<message> out;
    byte_reader r(m.payload.span());
    std::uint32_t first_timestamp = 0;
    while (!r.empty()) {
        flv_tag tag;
        error_code ec;
        // A tag cut short is malformed too: the aggregate holds all there is.
        const auto used = read_flv_tag(r.rest(), tag, ec, flv_tag_source::aggregate);
        if (ec) return error::aggregate_malformed;
        r.skip(used);
        if (out.empty()) first_timestamp = tag.timestamp;
        message& sub = out.emplace_back();
        sub.chunk_stream_id = m.chunk_stream_id;
        // ffmpeg (rtmpproto.c) and nginx-rtmp both rebase on the first sub-message: the
        // aggregate's own timestamp is authoritative, the tags' only give offsets. Unsigned
        // arithmetic keeps this right across the 2^32 wrap, and for a tag earlier than the first.
        sub.timestamp = m.timestamp + (tag.timestamp - first_timestamp);
        sub.message_type_id = tag.type;
        sub.message_stream_id = m.message_stream_id;
        sub.payload = std::move(tag.body);
    }
    return out;
}

}  // namespace rtmpgate::protocol
