// Text from clients (stream names, hook arguments) made fit for a JSON string: JSON is UTF-8
// (RFC 8259 8.1), and a client may send any octets.
#pragma once

#include <boost/json/string.hpp>
#include <string_view>

namespace rtmpgate::gateway {

// `s` with every octet that does not start a valid UTF-8 sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF) replaced by U+FFFD.
boost::json::string valid_utf8(std::string_view s);

}  // namespace rtmpgate::gateway
