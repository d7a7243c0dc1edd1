// How an RTMPT request's body is framed, checked on the raw header block before Beast parses it.
// RTMPT needs one framing only: a Content-Length (or none, for an empty body). Everything else
// that lets two readers disagree on where a request ends is refused, so that no byte of a body is
// ever read as the next request (request smuggling): see check_request_framing.
#pragma once

#include <string_view>

namespace rtmpgate::gateway::front {

enum class framing_error {
    none,
    obs_fold,                 // a header line continued on the next (RFC 9112 5.2)
    field_syntax,             // a field line without ':' or with white space before it
    transfer_encoding,        // any Transfer-Encoding, chunked included, HTTP/1.0 or 1.1
    repeated_content_length,  // two Content-Length fields, or a list "5, 5", equal or not
    invalid_content_length,   // a Content-Length that is not 1 to 18 digits
};

// `header` is one request's header block: the request line through the empty line that ends it
// (as Beast needs it whole before it parses). Lines are split at every LF, so a bare LF cannot
// hide a field from this check that a more lenient reader would see.
framing_error check_request_framing(std::string_view header);

// "Transfer-Encoding is not accepted", for logs and the refusal's reason.
std::string_view framing_error_message(framing_error e);

}  // namespace rtmpgate::gateway::front
