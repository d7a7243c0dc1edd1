// Every framing rule of an RTMPT request's header, on raw header blocks: one Content-Length (or
// none) is the only framing taken; everything else is refused before Beast parses it.
#include "gateway/front/request_framing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rtmpgate::gateway::front {
namespace {

// A /send request line and Host, then `fields` (each ending in CRLF), then the empty line.
std::string request(const std::string& fields, const std::string& version = "HTTP/1.1") {
    return "POST /send/abc/1 " + version + "\r\nHost: x\r\n" + fields + "\r\n";
}

TEST(request_framing, one_content_length_or_none_is_taken) {
    EXPECT_EQ(check_request_framing(request("Content-Length: 5\r\n")), framing_error::none);
    EXPECT_EQ(check_request_framing(request("content-length:5\r\n")), framing_error::none);
    EXPECT_EQ(check_request_framing(request("Content-Length: \t0 \r\n")), framing_error::none);
    EXPECT_EQ(check_request_framing(request("Content-Length: 5\r\n", "HTTP/1.0")),
              framing_error::none);
    // No Content-Length: an empty body (RFC 9112 6.3), as /close and /open/1 may come.
    EXPECT_EQ(check_request_framing(request("Content-Type: application/x-fcs\r\n")),
              framing_error::none);
    // A value with white space inside, where no framing is involved.
    EXPECT_EQ(check_request_framing(request("User-Agent: Shockwave Flash\r\n")),
              framing_error::none);
}

TEST(request_framing, every_transfer_encoding_is_refused) {
    for (const std::string te : {"gzip", "xchunked", "chunked", "Chunked", "gzip, chunked",
                                 "chunked, gzip", "identity", ""}) {
        EXPECT_EQ(check_request_framing(request("Transfer-Encoding: " + te + "\r\n")),
                  framing_error::transfer_encoding)
            << te;
        // With a Content-Length too, in either order (the classic smuggling pair).
        EXPECT_EQ(check_request_framing(
                      request("Content-Length: 4\r\nTransfer-Encoding: " + te + "\r\n")),
                  framing_error::transfer_encoding)
            << te;
    }
    EXPECT_EQ(check_request_framing(request("Transfer-Encoding: chunked\r\n", "HTTP/1.0")),
              framing_error::transfer_encoding);
    EXPECT_EQ(check_request_framing(request("TRANSFER-ENCODING: chunked\r\n")),
              framing_error::transfer_encoding);
}

TEST(request_framing, content_length_must_be_one_number) {
    EXPECT_EQ(check_request_framing(request("Content-Length: 5\r\nContent-Length: 6\r\n")),
              framing_error::repeated_content_length);
    EXPECT_EQ(check_request_framing(request("Content-Length: 5\r\nContent-Length: 5\r\n")),
              framing_error::repeated_content_length);
    EXPECT_EQ(check_request_framing(request("Content-Length: 5, 5\r\n")),
              framing_error::repeated_content_length);
    for (const std::string bad :
         {"", "-1", "+5", "0x10", "5 5", "5;", "1e3", "５", "1234567890123456789"}) {
        EXPECT_EQ(check_request_framing(request("Content-Length: " + bad + "\r\n")),
                  framing_error::invalid_content_length)
            << bad;
    }
    EXPECT_EQ(check_request_framing(request("Content-Length: 123456789012345678\r\n")),
              framing_error::none);
}

TEST(request_framing, folded_and_malformed_lines_are_refused) {
    EXPECT_EQ(check_request_framing(request("Content-Length: 5\r\n 6\r\n")),
              framing_error::obs_fold);
    EXPECT_EQ(check_request_framing(request("X-A: a\r\n\tTransfer-Encoding: chunked\r\n")),
              framing_error::obs_fold);
    EXPECT_EQ(check_request_framing(request("Content-Length : 5\r\n")),
              framing_error::field_syntax);
    EXPECT_EQ(check_request_framing(request("Content-Length\t: 5\r\n")),
              framing_error::field_syntax);
    EXPECT_EQ(check_request_framing(request("no colon here\r\n")), framing_error::field_syntax);
    EXPECT_EQ(check_request_framing(request(": empty name\r\n")), framing_error::field_syntax);
}

TEST(request_framing, a_bare_lf_does_not_hide_a_field) {
    // Beast wants CRLF, but a lenient reader in front of the gateway may split at LF alone.
    EXPECT_EQ(check_request_framing(request("X-A: a\nTransfer-Encoding: chunked\r\n")),
              framing_error::transfer_encoding);
    EXPECT_EQ(check_request_framing(request("X-A: a\nContent-Length: 5\r\nContent-Length: 9\r\n")),
              framing_error::repeated_content_length);
}

TEST(request_framing, every_error_has_words) {
    for (const auto e :
         {framing_error::obs_fold, framing_error::field_syntax, framing_error::transfer_encoding,
          framing_error::repeated_content_length, framing_error::invalid_content_length})
        EXPECT_FALSE(framing_error_message(e).empty());
}

}  // namespace
}  // namespace rtmpgate::gateway::front
