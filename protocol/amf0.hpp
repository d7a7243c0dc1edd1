// AMF0 (Adobe AMF0 spec): every type, bounded by amf_limits. The AVM+ marker (0x11) switches the
// one value that follows to AMF3.
#pragma once

#include "protocol/amf_value.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error.hpp"

#include <cstdint>
#include <vector>

namespace rtmpgate::protocol::amf0 {

// Decodes one value from `in`. On failure sets `ec` and returns false; the reader's position is
// then unspecified. A declared length past the end of input is error::truncated, never a read.
bool decode(byte_reader& in, amf_value& out, error_code& ec, const amf_limits& limits = {});

// Decodes values until `in` is empty.
bool decode_all(byte_reader& in, std::vector<amf_value>& out, error_code& ec,
                const amf_limits& limits = {});

// Appends the AMF0 encoding of `v`. Kinds AMF0 lacks (integer, byte_array, vectors,
// dictionary, xml) are written as the AVM+ marker followed by their AMF3 encoding.
void encode(const amf_value& v, std::vector<std::uint8_t>& out);

}  // namespace rtmpgate::protocol::amf0
