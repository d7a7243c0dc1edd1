// AMF3 (Adobe AMF3 spec): every type, with string, object and trait reference tables and U29
// integers, in both directions, bounded by amf_limits.
#pragma once

#include "protocol/amf_value.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error.hpp"

#include <cstdint>
#include <vector>

namespace rtmpgate::protocol::amf3 {

// Decodes one value with fresh reference tables (as after an AMF0 AVM+ marker, or one value of
// a type 15/17 message body). Same error contract as amf0::decode.
bool decode(byte_reader& in, amf_value& out, error_code& ec, const amf_limits& limits = {});

// Appends the AMF3 encoding of `v` with fresh reference tables (repeated strings and traits
// within `v` are written as references).
void encode(const amf_value& v, std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol::amf3
