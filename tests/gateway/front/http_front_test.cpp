// The reply heads http_front writes itself against what it wrote through Beast before: the same
// octets for every status it sends, with the connection kept or closed.
#include "gateway/front/http_front.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "protocol/rtmpt.hpp"

namespace rtmpgate::gateway::front {
namespace {

namespace http = boost::beast::http;
using protocol::rtmpt_status;

// http_front's make_reply and write_reply as they were, through Beast.
std::string beast_head(http::status status, std::size_t body_size, bool close) {
    http::response<http::vector_body<std::uint8_t>> res{status, 11};
    res.set(http::field::server, "rtmpgate");
    res.set(http::field::content_type, "application/x-fcs");
    res.set(http::field::cache_control, "no-cache");
    res.set(http::field::connection, "Keep-Alive");
    res.body() = std::vector<std::uint8_t>(body_size, 0x5a);
    res.prepare_payload();
    if (close) res.set(http::field::connection, "close");
    std::ostringstream out;
    out << res;
    return out.str().substr(0, out.str().size() - body_size);
}

TEST(http_front_reply, head_is_what_beast_wrote) {
    const std::pair<rtmpt_status, http::status> statuses[] = {
        {rtmpt_status::ok, http::status::ok},
        {rtmpt_status::bad_request, http::status::bad_request},
        {rtmpt_status::not_found, http::status::not_found},
        {rtmpt_status::method_not_allowed, http::status::method_not_allowed},
        {rtmpt_status::request_timeout, http::status::request_timeout},
        {rtmpt_status::payload_too_large, http::status::payload_too_large},
        {rtmpt_status::service_unavailable, http::status::service_unavailable},
    };
    for (const auto& [ours, beasts] : statuses) {
        for (const std::size_t size : {0, 1, 9, 1537, 65536}) {
            for (const bool close : {false, true}) {
                EXPECT_EQ(protocol::make_rtmpt_reply_head(ours, size, !close),
                          beast_head(beasts, size, close))
                    << static_cast<int>(ours) << " " << size << " " << close;
            }
        }
    }
    // A /send or /idle reply: the head for the poll byte and the pending octets, then the byte.
    for (const std::size_t pending : {0, 1, 4096, 99999})
        EXPECT_EQ(protocol::make_rtmpt_poll_reply_head(0x01, pending),
                  beast_head(http::status::ok, 1 + pending, false) + '\x01');
}

}  // namespace
}  // namespace rtmpgate::gateway::front
