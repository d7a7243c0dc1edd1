#include "protocol/error.hpp"

#include <string>

namespace rtmpgate::protocol {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "rtmpgate.protocol"; }

    std::string message(int value) const override {
        switch (static_cast<error>(value)) {
            case error::need_more:
                return "need more input";
            case error::truncated:
                return "declared length runs past the end of input";
            case error::handshake_bad_version:
                return "handshake: unsupported version";
            case error::handshake_bad_digest:
                return "handshake: digest does not verify";
            case error::handshake_bad_echo:
                return "handshake: echo does not match";
            case error::handshake_done:
                return "handshake: input after completion";
            case error::chunk_unknown_stream:
                return "chunk: continuation header on unknown chunk stream";
            case error::chunk_size_invalid:
                return "chunk: chunk size 0 or above 0x7FFFFFFF";
            case error::chunk_size_too_large:
                return "chunk: chunk size above the configured maximum";
            case error::message_too_long:
                return "chunk: message longer than the configured maximum";
            case error::too_many_chunk_streams:
                return "chunk: too many chunk streams in progress";
            case error::control_message_malformed:
                return "protocol control message malformed";
            case error::message_length_changed:
                return "chunk: message length changed mid-message";
            case error::partial_bytes_over_limit:
                return "chunk: partly received messages above the connection's limit";
            case error::partial_bytes_over_budget:
                return "chunk: partly received messages above the process's budget";
            case error::amf_unknown_marker:
                return "amf: unknown type marker";
            case error::amf_depth_exceeded:
                return "amf: nesting too deep";
            case error::amf_too_many_elements:
                return "amf: too many elements";
            case error::amf_string_too_long:
                return "amf: string too long";
            case error::amf_bad_reference:
                return "amf: reference out of range";
            case error::amf_unsupported:
                return "amf: unsupported type";
            case error::amf_too_large:
                return "amf: decoded value too large";
            case error::message_malformed:
                return "message body malformed";
            case error::command_malformed:
                return "command malformed";
            case error::aggregate_malformed:
                return "aggregate message malformed";
            case error::rtmpt_bad_method:
                return "rtmpt: method is not POST";
            case error::rtmpt_unknown_command:
                return "rtmpt: unknown command";
            case error::rtmpt_bad_session_id:
                return "rtmpt: bad session id";
            case error::rtmpt_bad_sequence:
                return "rtmpt: bad sequence number";
            case error::flv_bad_signature:
                return "flv: bad signature";
            case error::flv_bad_tag:
                return "flv: bad tag";
            case error::proxy_no_signature:
                return "proxy protocol: no PROXY header signature";
            case error::proxy_v1_too_long:
                return "proxy protocol v1: no CRLF within 107 octets";
            case error::proxy_v1_bad_protocol:
                return "proxy protocol v1: unknown protocol";
            case error::proxy_v1_malformed:
                return "proxy protocol v1: malformed line";
            case error::proxy_v1_bad_address:
                return "proxy protocol v1: bad address";
            case error::proxy_v1_bad_port:
                return "proxy protocol v1: bad port";
            case error::proxy_v2_bad_version:
                return "proxy protocol v2: version is not 2";
            case error::proxy_v2_bad_command:
                return "proxy protocol v2: unknown command";
            case error::proxy_v2_bad_family:
                return "proxy protocol v2: unknown family or transport";
            case error::proxy_v2_too_short:
                return "proxy protocol v2: length below the address block";
            case error::proxy_v2_too_long:
                return "proxy protocol v2: length above the bound";
        }
        return "unknown protocol error";
    }
};

}  // namespace

const boost::system::error_category& protocol_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace rtmpgate::protocol
