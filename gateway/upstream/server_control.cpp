#include "gateway/upstream/server_control.hpp"

namespace rtmpgate::gateway::upstream {

using protocol::message_type;
using protocol::user_control_event;

std::optional<protocol::control_message> server_control::on_control(
    const protocol::control_message& c, std::vector<protocol::message>& out) {
    if (c.type == message_type::window_ack_size) {
        window_ = c.value;
    } else if (c.type == message_type::set_peer_bandwidth) {
        // The receiver answers with its Window Acknowledgement Size (ffmpeg sends the size it
        // was given).
        if (!window_sent_) out.push_back(protocol::make_window_ack_size(c.value));
        window_sent_ = true;
    } else if (c.type == message_type::user_control) {
        if (c.event != user_control_event::ping_request) return c;
        out.push_back(protocol::make_user_control(user_control_event::ping_response, c.value));
    }
    return std::nullopt;
}

void server_control::acknowledge(std::uint64_t received, std::vector<protocol::message>& out) {
    if (window_ == 0 || received - acknowledged_ < window_) return;
    acknowledged_ = received;
    // The sequence number is the byte count modulo 2^32.
    out.push_back(protocol::make_acknowledgement(static_cast<std::uint32_t>(received)));
}

}  // namespace rtmpgate::gateway::upstream
