// The FLV classifiers, tag reader and aggregate splitter fed arbitrary bytes.
//
// Input: the bytes of an FLV file (header optional) that are also taken as one aggregate payload
// and as an audio/video body. Aborts when a contract of flv.hpp or aggregate.hpp breaks: a tag
// read back that write_flv_tag does not reproduce octet for octet, need_more or an error with
// octets consumed, a malformed aggregate reported as another error, a split whose bodies do not
// add up. AddressSanitizer catches any classifier read past the span (each runs on a heap copy
// of exactly the input's size).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
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

void read_file(std::span<const std::uint8_t> in) {
    byte_reader r(in);
    error_code ec;
    flv_header header;
    const std::size_t used = read_flv_header(in, header, ec);
    if (ec) {
        check(used == 0);
    } else {
        check(used == flv_header_size);
        std::vector<std::uint8_t> again;
        write_flv_header(header, again);
        // Flags other than audio/video are dropped on the way through; the rest is fixed.
        check(again.size() == flv_header_size &&
              std::equal(again.begin(), again.begin() + 4, in.begin()));
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
        std::vector<std::uint8_t> written;
        write_flv_tag(tag.type, tag.timestamp, tag.body.span(), written);
        check(std::equal(written.begin(), written.end(), rest.begin(),
                         rest.begin() + static_cast<std::ptrdiff_t>(n)));
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
