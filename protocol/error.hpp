// Every way input to a protocol/ codec can be wrong, as a boost::system error category, and the
// two ways protocol/ reports it.
//
// Streaming decoders, fed bytes as they arrive (chunk_decoder, the handshakes, the FLV reader),
// take `error_code&` and return the octets they consumed; error::need_more there means "feed
// more", not failure. One-shot parsers, given a whole message, body or request (AMF0 and AMF3
// values, aggregates, commands, control messages, RTMPT requests), return `result<T>`: the value,
// or the error and no partial value. Builders and encoders that cannot fail return their output
// plainly. Nothing in protocol/ throws.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace rtmpgate::protocol {

using error_code = boost::system::error_code;

template <class T>
using result = boost::system::result<T>;

enum class error {
    // Not a failure: the decoder consumed what it could and needs more bytes.
    need_more = 1,

    // byte_reader / generic
    truncated,  // a declared length runs past the end of the input

    // handshake
    handshake_bad_version,  // C0/S0 is not 3 (6, RTMPE, is refused here too)
    handshake_bad_digest,   // C1/S1 announces a digest scheme whose HMAC does not verify
    handshake_bad_echo,     // C2/S2 does not echo what we sent
    handshake_done,         // bytes fed after the handshake completed

    // chunk layer
    chunk_unknown_stream,       // format 1-3 header on a chunk stream never seen
    chunk_size_invalid,         // Set Chunk Size of 0 or above 0x7FFFFFFF
    chunk_size_too_large,       // Set Chunk Size above the configured maximum
    message_too_long,           // message length above the configured maximum
    too_many_chunk_streams,     // more chunk streams in progress than allowed
    control_message_malformed,  // protocol control message (1-6) of the wrong length
    message_length_changed,     // format 1/2 header changes a message's length mid-message
    partial_bytes_over_limit,   // partly received messages above the decoder's own bound
    partial_bytes_over_budget,  // partly received messages above the budget shared by decoders

    // AMF
    amf_unknown_marker,     // a type marker the format does not define
    amf_depth_exceeded,     // nesting deeper than the bound
    amf_too_many_elements,  // element count above the bound
    amf_string_too_long,    // string length above the bound
    amf_bad_reference,      // reference index beyond the table
    amf_unsupported,        // a type that is valid but refused here (AMF0 movieclip, recordset)
    amf_too_large,          // decoded value (reference copies included) above the memory bound

    // messages and commands
    message_malformed,    // a message whose body does not have the shape its type requires
    command_malformed,    // a command without a name, transaction id or required argument
    aggregate_malformed,  // an aggregate message whose sub-tags do not fit

    // RTMPT
    rtmpt_bad_method,       // not POST
    rtmpt_unknown_command,  // path is not /open, /send, /idle, /close or /fcs/ident2
    rtmpt_bad_session_id,   // missing, too long or not [A-Za-z0-9-]
    rtmpt_bad_sequence,     // sequence number not a decimal number that fits

    // FLV
    flv_bad_signature,  // file does not start with "FLV"
    flv_bad_tag,        // tag type or previous-tag-size does not fit

    // PROXY protocol (proxy_protocol.hpp)
    proxy_no_signature,     // starts with neither "PROXY " nor the v2 signature
    proxy_v1_too_long,      // no CRLF within 107 octets
    proxy_v1_bad_protocol,  // protocol neither TCP4, TCP6 nor UNKNOWN
    proxy_v1_malformed,     // fields not separated by exactly one space, missing, extra; bare LF
    proxy_v1_bad_address,   // not a dotted quad (TCP4) or IPv6 text (TCP6)
    proxy_v1_bad_port,      // not decimal 0..65535 without leading zeros
    proxy_v2_bad_version,   // version nibble not 2
    proxy_v2_bad_command,   // command neither LOCAL nor PROXY
    proxy_v2_bad_family,    // family above AF_UNIX or transport above DGRAM
    proxy_v2_too_short,     // length below the family's address block
    proxy_v2_too_long,      // length above proxy_v2_max_length
};

const boost::system::error_category& protocol_category() noexcept;

inline error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), protocol_category()};
}

}  // namespace rtmpgate::protocol

template <>
struct boost::system::is_error_code_enum<rtmpgate::protocol::error> : std::true_type {};
