// AMF3 type markers and U29 ranges (AMF3 spec §3.1, §1.3.1), shared by the AMF3 decoder and
// encoder, the AMF0 encoder (which sends integers in this range as AMF3) and byte_writer's U29.
// Internal to protocol/: callers use amf3.hpp.
#pragma once

#include <cstdint>

namespace rtmpgate::protocol::amf3 {

enum marker : std::uint8_t {
    undefined_marker = 0x00,
    null_marker = 0x01,
    false_marker = 0x02,
    true_marker = 0x03,
    integer_marker = 0x04,
    double_marker = 0x05,
    string_marker = 0x06,
    xml_document_marker = 0x07,
    date_marker = 0x08,
    array_marker = 0x09,
    object_marker = 0x0A,
    xml_marker = 0x0B,
    byte_array_marker = 0x0C,
    vector_int_marker = 0x0D,
    vector_uint_marker = 0x0E,
    vector_double_marker = 0x0F,
    vector_object_marker = 0x10,
    dictionary_marker = 0x11,
};

// The largest value a U29 carries: 29 bits (§1.3.1).
constexpr std::uint32_t u29_max = (1u << 29) - 1;

// The largest length, count or table index a U29 can carry after its low flag bit (§1.3.1).
constexpr std::uint32_t u28_max = u29_max >> 1;

// The signed 29-bit range of the integer type, a U29 read as two's complement (§3.6).
constexpr std::int32_t integer_max = static_cast<std::int32_t>(u28_max);
constexpr std::int32_t integer_min = -integer_max - 1;

// Flag bits of the U29 that follows the object marker once its low "inline" bit is shifted out
// (§3.12): bit 0 set means inline traits, then bit 1 externalizable, bit 2 dynamic, and the
// sealed member count in the bits above.
constexpr std::uint32_t traits_inline_bit = 1;
constexpr std::uint32_t traits_externalizable_bit = 2;
constexpr std::uint32_t traits_dynamic_bit = 4;
constexpr unsigned traits_count_shift = 3;

}  // namespace rtmpgate::protocol::amf3
