// Reading the information object of a server's _error or onStatus (RTMP 1.0 spec 7.2.2: an
// object with level, code and description): shared by the client sequences of upstream/.
#pragma once

#include <string>
#include <string_view>

#include "protocol/command.hpp"

namespace rtmpgate::gateway::upstream {

// "code: description" of the first object among the command's arguments, for the log;
// "(no information object)" when there is none.
std::string describe_status(const protocol::command& c);
// The code ("NetStream.Play.Start") and level ("status", "warning", "error") of that object;
// empty when there is none or it has no such string.
std::string_view status_code(const protocol::command& c);
std::string_view status_level(const protocol::command& c);

}  // namespace rtmpgate::gateway::upstream
