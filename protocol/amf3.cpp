#include "protocol/amf3.hpp"

namespace rtmpgate::protocol::amf3 {

// Placeholder until the AMF3 codec lands: AVM+ values are refused.
bool decode(byte_reader&, amf_value&, error_code& ec, const amf_limits&) {
    ec = error::amf_unsupported;
    return false;
}

void encode(const amf_value&, std::vector<std::uint8_t>& out) { out.push_back(0x00); }

}  // namespace rtmpgate::protocol::amf3
