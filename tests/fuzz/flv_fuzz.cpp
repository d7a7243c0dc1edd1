// The FLV classifiers, tag reader and aggregate splitter fed arbitrary bytes.
//
// Input: the bytes of an FLV file (header optional) that are also taken as one aggregate payload
// and as an audio/video body. Aborts when a contract of flv.hpp or aggregate.hpp breaks: a header
// or tag read whose fields are not those its octets spell, need_more or an error with octets
// consumed, a malformed aggregate reported as another error, a split whose bodies do not add up,
// or a header or tag read that the writer does not write back as the octets it was read from
// (the header's reserved flag bits aside).
// AddressSanitizer catches any classifier read past the span (each runs on a heap copy of
// exactly the input's size).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <span>
#include <vector>

#include "protocol/aggregate.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/flv.hpp"

namespace {

using namespace rtmpgate::protocol;

void check(bool condition) {
    if (!condition) std::abort();
}

// The header's flags octet, as FLV 10.1 E.2 spells it, against what read_flv_header gave.
void check_header(std::span<const std::uint8_t> in, const flv_header& header) {
    byte_reader fields(in);
    std::span<const std::uint8_t> signature;
    std::uint8_t flags = 0;
    check(fields.read_bytes(4, signature) && fields.read_u8(flags));
    const std::uint8_t flv_1[] = {'F', 'L', 'V', 0x01};
    check(std::equal(signature.begin(), signature.end(), std::begin(flv_1)));
    check(header.has_audio == ((flags & 0x04) != 0) && header.has_video == ((flags & 0x01) != 0));
}

// The `n` octets of a tag (E.4.1), field by field, against what read_flv_tag gave.
void check_tag(std::span<const std::uint8_t> in, std::size_t n, const flv_tag& tag) {
    byte_reader fields(in.first(n));
    std::uint8_t type = 0;
    std::uint32_t data_size = 0;
    std::uint32_t timestamp = 0;
    std::uint8_t timestamp_extended = 0;
    std::uint32_t stream_id = 0;
    std::span<const std::uint8_t> body;
    std::uint32_t previous_tag_size = 0;
    check(fields.read_u8(type) && fields.read_u24be(data_size) && fields.read_u24be(timestamp) &&
          fields.read_u8(timestamp_extended) && fields.read_u24be(stream_id) &&
          fields.read_bytes(data_size, body) && fields.read_u32be(previous_tag_size) &&
          fields.empty());
    check(tag.type == type && (type == 8 || type == 9 || type == 18));
    check(tag.timestamp == ((std::uint32_t{timestamp_extended} << 24) | timestamp));
    check(stream_id == 0 && previous_tag_size == flv_tag_header_size + data_size);
    check(std::equal(body.begin(), body.end(), tag.body.span().begin(), tag.body.span().end()));
}

void read_file(std::span<const std::uint8_t> in) {
    byte_reader r(in);
    error_code ec;
    flv_header header;
    const std::size_t used = read_flv_header(in, header, ec);
    if (ec) {
        check(used == 0);
        check(ec == error::need_more || ec == error::flv_bad_signature);
    } else {
        check(used == flv_header_size);
        check_header(in, header);
        // Written back: the same octets, but for the reserved bits of the flags, never written.
        const auto written = make_flv_header(header);
        for (std::size_t i = 0; i < flv_header_size; ++i)
            check(written[i] == (i == 4 ? (in[i] & 0x05) : in[i]));
        r.skip(used);
    }
    while (!r.empty()) {
        flv_tag tag;
        const auto rest = r.rest();
        const std::size_t n = read_flv_tag(rest, tag, ec);
        if (ec) {
            check(n == 0);
            check(ec == error::need_more || ec == error::flv_bad_tag);
            return;
        }
        check(n == flv_tag_header_size + tag.body.size() + 4 && n <= rest.size());
        check_tag(rest, n, tag);
        std::vector<std::uint8_t> written;
        check(!write_flv_tag(tag, written));
        check(std::equal(written.begin(), written.end(), rest.begin(), rest.begin() + n) &&
              written.size() == n);
        r.skip(n);
    }
}

void split(std::span<const std::uint8_t> in) {
    message m;
    m.chunk_stream_id = 4;
    m.timestamp = 1000;
    m.message_type_id = static_cast<std::uint8_t>(message_type::aggregate);
    m.message_stream_id = 1;
    m.payload = shared_bytes(std::vector<std::uint8_t>(in.begin(), in.end()));
    const auto out = split_aggregate(m);
    if (!out) {
        check(out.error() == error::aggregate_malformed);
        return;
    }
    std::size_t total = 0;
    for (const auto& sub : *out) {
        check(sub.chunk_stream_id == 4 && sub.message_stream_id == 1);
        total += flv_tag_header_size + sub.payload.size() + 4;
    }
    check(total == in.size());
    if (!out->empty()) check(out->front().timestamp == 1000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> body(data, data + size);
    // A sequence header of a legacy codec or Enhanced RTMP needs a packet type: never from one
    // octet. A keyframe does (VP6, H.263 have no packet type), but never from none.
    if (is_video_sequence_header(body)) check(size >= 2);
    if (is_video_keyframe(body)) check(size >= 1);
    if (is_audio_sequence_header(body)) check(size >= 2);
    read_file(body);
    split(body);
    return 0;
}
