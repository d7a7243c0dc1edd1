// AMF0 type markers (AMF0 spec §2.1), shared by the AMF0 decoder and encoder and by the command
// layer, which reads a handler name's marker without decoding the body. Internal to protocol/:
// callers use amf0.hpp and command.hpp.
#pragma once

#include <cstdint>

namespace rtmpgate::protocol::amf0 {

enum marker : std::uint8_t {
    number_marker = 0x00,
    boolean_marker = 0x01,
    string_marker = 0x02,
    object_marker = 0x03,
    movieclip_marker = 0x04,
    null_marker = 0x05,
    undefined_marker = 0x06,
    reference_marker = 0x07,
    ecma_array_marker = 0x08,
    object_end_marker = 0x09,
    strict_array_marker = 0x0A,
    date_marker = 0x0B,
    long_string_marker = 0x0C,
    unsupported_marker = 0x0D,
    recordset_marker = 0x0E,
    xml_document_marker = 0x0F,
    typed_object_marker = 0x10,
    avmplus_marker = 0x11,  // §3.1: the value that follows is AMF3
};

}  // namespace rtmpgate::protocol::amf0
