// Bytes a client sends, for gateway tests that feed an rtmp::connection without a real client.
#pragma once

#include <cstdint>
#include <vector>

namespace rtmpgate::gateway::test {

// C0 and C1 of the simple handshake (version 3, time 0, zero, zero "random" octets), then C2
// (the server does not check it).
inline std::vector<std::uint8_t> simple_handshake() {
    std::vector<std::uint8_t> b(1 + 1536 + 1536, 0x00);
    b[0] = 0x03;
    return b;
}

}  // namespace rtmpgate::gateway::test
