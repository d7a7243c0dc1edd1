// proxy_header_parser fed arbitrary first octets of a connection, whole and in arbitrary splits.
//
// Input: stride (1 octet: picks the piece lengths), then the connection's octets. Aborts when a
// contract of proxy_protocol.hpp breaks: more consumed than given, need_more with octets left
// over, success without done() or done() without success, a result that depends on the split, a
// header longer than its version's bound or whose size is not what was consumed, an address where
// the family says none, an error outside the PROXY group or one that does not stick, a verdict
// that disagrees with detect_proxy_header, or a header that does not survive encode -> parse.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/byte_reader.hpp"
#include "protocol/proxy_protocol.hpp"

namespace {

using namespace rtmpgate::protocol;

void check(bool condition) {
    if (!condition) std::abort();
}

struct outcome {
    error_code ec;
    std::size_t consumed = 0;
    proxy_header header;
};

outcome drive(std::span<const std::uint8_t> input, std::size_t stride) {
    proxy_header_parser parser;
    outcome o;
    byte_reader reader(input);
    for (std::size_t step = 1;; ++step) {
        std::span<const std::uint8_t> piece;
        reader.read_bytes(std::min(reader.remaining(),
                                   stride == 0 ? reader.remaining() : 1 + (stride * step) % 131),
                          piece);
        const std::size_t used = parser.feed(piece, o.ec);
        check(used <= piece.size());
        o.consumed += used;
        if (o.ec == error::need_more) {
            check(used == piece.size() && !parser.done());
            if (reader.empty()) return o;
            continue;
        }
        if (!o.ec) {
            check(parser.done());
            o.header = parser.header();
            error_code again;
            check(parser.feed(piece.subspan(used), again) == 0 && !again);
        } else {
            check(!parser.done());
            error_code again;
            check(parser.feed(input, again) == 0 && again == o.ec);
        }
        return o;
    }
}

bool is_proxy_error(const error_code& ec) {
    for (const error e :
         {error::proxy_no_signature, error::proxy_v1_too_long, error::proxy_v1_bad_protocol,
          error::proxy_v1_malformed, error::proxy_v1_bad_address, error::proxy_v1_bad_port,
          error::proxy_v2_bad_version, error::proxy_v2_bad_command, error::proxy_v2_bad_family,
          error::proxy_v2_too_short, error::proxy_v2_too_long})
        if (ec == e) return true;
    return false;
}

bool is_v1_error(const error_code& ec) {
    return ec == error::proxy_v1_too_long || ec == error::proxy_v1_bad_protocol ||
           ec == error::proxy_v1_malformed || ec == error::proxy_v1_bad_address ||
           ec == error::proxy_v1_bad_port;
}

void check_header(const proxy_header& h, std::size_t consumed) {
    check(h.size == consumed);
    check(h.version == 1 || h.version == 2);
    if (h.version == 1) check(h.size <= proxy_v1_max_size && h.command == proxy_command::proxy);
    if (h.version == 2)
        check(h.size >= proxy_v2_fixed_size && h.size <= proxy_v2_fixed_size + proxy_v2_max_length);
    if (h.family == proxy_family::none) {
        check(h.source == proxy_address{} && h.destination == proxy_address{});
        return;
    }
    check(h.command == proxy_command::proxy);
    if (h.family == proxy_family::tcp4)
        for (std::size_t i = 4; i < 16; ++i)
            check(h.source.octets[i] == 0 && h.destination.octets[i] == 0);
    // Both encoders give back what was parsed.
    for (const auto& wire : {make_proxy_v1_header(h.family, h.source, h.destination),
                             make_proxy_v2_header(h.family, h.source, h.destination)}) {
        const outcome again = drive(wire, 0);
        check(!again.ec && again.consumed == wire.size());
        check(again.header.family == h.family && again.header.source == h.source &&
              again.header.destination == h.destination);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader reader({data, size});
    std::uint8_t stride = 0;
    if (!reader.read_u8(stride)) return 0;
    const auto input = reader.rest();

    const outcome whole = drive(input, 0);
    const outcome pieces = drive(input, stride);
    check(whole.ec == pieces.ec && whole.header == pieces.header);
    if (!whole.ec) check(whole.consumed == pieces.consumed);

    const proxy_detection detected = detect_proxy_header(input);
    if (whole.ec == error::need_more) {
        check(whole.consumed == input.size());
    } else if (whole.ec) {
        check(is_proxy_error(whole.ec));
        check((whole.ec == error::proxy_no_signature) == (detected == proxy_detection::absent));
        if (is_v1_error(whole.ec)) check(detected == proxy_detection::v1);
    } else {
        check(detected == (whole.header.version == 1 ? proxy_detection::v1 : proxy_detection::v2));
        check_header(whole.header, whole.consumed);
    }
    return 0;
}
