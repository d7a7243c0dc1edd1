// The protocol control an RTMP client answers for its server whatever its commands are doing
// (publish_sequence and play_sequence keep one each): Window Acknowledgement Size after Set Peer
// Bandwidth (spec 5.4.5, once), Ping Response to Ping Request (7.1.7), and an Acknowledgement
// each time the server's window's worth of octets has come (5.4.3). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class server_control {
public:
    // For Window Acknowledgement Size, Set Peer Bandwidth and User Control `c` from the server:
    // the answer goes to `out`. Gives a User Control event other than Ping Request, for the
    // caller's sequence (StreamBegin, StreamEOF...).
    std::optional<protocol::control_message> on_control(const protocol::control_message& c,
                                                        std::vector<protocol::message>& out);
    // `received`: octets of chunk stream read from the server so far; an Acknowledgement goes to
    // `out` when a window's worth has come since the last one.
    void acknowledge(std::uint64_t received, std::vector<protocol::message>& out);

private:
    std::uint32_t window_ = 0;  // the server's Window Acknowledgement Size; 0: none yet
    std::uint64_t acknowledged_ = 0;
    bool window_sent_ = false;
};

}  // namespace rtmpgate::gateway::upstream
