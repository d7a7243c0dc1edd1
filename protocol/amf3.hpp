// AMF3 (Adobe AMF3 spec): every type, with string, object and trait reference tables and U29
// integers, in both directions, bounded by amf_limits.
#pragma once

#include <cstdint>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error.hpp"

namespace rtmpgate::protocol::amf3 {

// Decodes one value with fresh reference tables (as after an AMF0 AVM+ marker, or one value of
// a type 15/17 message body). Same error contract as amf0::decode. An object reference is
// replaced by a copy of the complete value it names (a cycle is error::amf_bad_reference),
// whatever the marker before it, as is a string or traits reference. Arrays decode as strict_array
// (dense part in `elements`, associative part in `properties`); objects with an empty class name as
// object, others as typed_object, with the sealed members first in `properties`. Externalizable
// objects are error::amf_unsupported: their bytes only their class can delimit. max_elements bounds
// each container: an array's two parts together, an object's sealed and dynamic members together.
result<amf_value> decode(byte_reader& in, const amf_limits& limits = {});

// Appends the AMF3 encoding of `v` with fresh reference tables (repeated strings and traits
// within `v` are written as references; no object references are written). An integer
// outside 29 bits is written as a double, an ECMA array as an array without dense part, a
// date without its time zone. An object is written with the traits its `class_name` (for
// typed_object), `dynamic` and `sealed_members` say: `properties[i]` is the value of sealed
// member i (undefined when missing), later properties are dynamic members, dropped from a
// non-dynamic object; members and associative keys with an empty name cannot be sent and are
// dropped. Vector items of another kind are converted to the vector's, saturating (NaN and
// non-numbers become 0). Lengths and counts beyond what a U29 carries (2^28 - 1) are cut.
// Recurses as deep as `v` is nested.
void encode(const amf_value& v, std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol::amf3
