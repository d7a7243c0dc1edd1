// AMF0 (Adobe AMF0 spec): every type, bounded by amf_limits. The AVM+ marker (0x11) switches the
// one value that follows to AMF3.
#pragma once

#include <cstdint>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error.hpp"

namespace rtmpgate::protocol::amf0 {

// Decodes one value from `in` and leaves `in` after it. On failure the error, and `in`'s position
// is unspecified. A declared length past the end of input is error::truncated, never a read.
// A reference (marker 0x07) is replaced by a copy of the object, typed object, ECMA or strict
// array it names, which must be complete (no cycles). An ECMA array whose object-end marker is
// missing at the very end of input is accepted (some encoders' onMetaData end so).
result<amf_value> decode(byte_reader& in, const amf_limits& limits = {});

// Decodes values until `in` is empty (none from an empty `in`). The values share one reference
// table and one amf_limits::max_total_bytes budget, as one message body does.
result<std::vector<amf_value>> decode_all(byte_reader& in, const amf_limits& limits = {});

// Appends the AMF0 encoding of `v`. Kinds AMF0 lacks (integer, byte_array, vectors,
// dictionary, xml) are written as the AVM+ marker followed by their AMF3 encoding, and so are
// values AMF0 cannot express: objects with traits (sealed members or not dynamic), arrays with
// an associative part, names longer than 65535 bytes. An integer outside AMF3's 29-bit range
// is written as a number. Strings take the short form up to 65535 bytes, the long form above.
// No references are written. Recurses as deep as `v` is nested.
void encode(const amf_value& v, std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol::amf0
