// What a client's command sequence wrote, as names: the command's for AMF0 commands, "type N"
// for other messages; for the sequences' tests.
#pragma once

#include <string>
#include <vector>

#include "protocol/command.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream::testing {

inline std::vector<std::string> names(const std::vector<protocol::message>& out) {
    std::vector<std::string> n;
    for (const auto& m : out) {
        if (m.type() == protocol::message_type::command_amf0) {
            auto c = protocol::parse_command(m);
            n.push_back(c ? c->name : "(bad command)");
        } else {
            n.push_back("type " + std::to_string(m.message_type_id));
        }
    }
    return n;
}

}  // namespace rtmpgate::gateway::upstream::testing
