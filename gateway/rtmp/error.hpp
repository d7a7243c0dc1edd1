// Ways a client connection is refused that no protocol/ code describes, as a boost::system error
// category next to protocol::error: the per-message path of a connection returns one or the other
// and the connection's close line gives its message as the reason.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace rtmpgate::gateway::rtmp {

enum class error {
    // More bytes than a connect needs arrived between C2 and the end of a connect command.
    no_connect = 1,
};

const boost::system::error_category& rtmp_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), rtmp_category()};
}

}  // namespace rtmpgate::gateway::rtmp

template <>
struct boost::system::is_error_code_enum<rtmpgate::gateway::rtmp::error> : std::true_type {};
