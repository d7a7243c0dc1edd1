// parse_rtmpt_request fed arbitrary methods and request targets.
//
// Input: method length (1 octet, capped by what follows), the method, then the target. Aborts
// when a contract of rtmpt.hpp breaks: a parsed session id that is not valid or not a view into
// the target, a sequence where none belongs (or none where one must be), a method other than
// POST (or GET for ident) accepted, an error outside the RTMPT group, a result that changes when
// parsed again or when the request is rewritten in its canonical form.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/byte_reader.hpp"
#include "protocol/rtmpt.hpp"

namespace {

using namespace rtmpgate::protocol;

void check(bool condition) {
    if (!condition) std::abort();
}

const char* name_of(rtmpt_command c) {
    switch (c) {
        case rtmpt_command::ident:
            return "fcs/ident2";
        case rtmpt_command::open:
            return "open";
        case rtmpt_command::send:
            return "send";
        case rtmpt_command::idle:
            return "idle";
        case rtmpt_command::close:
            return "close";
    }
    std::abort();
}

bool same(const rtmpt_request& a, const rtmpt_request& b) {
    return a.command == b.command && a.session_id == b.session_id && a.sequence == b.sequence;
}

void check_request(std::string_view method, std::string_view target, const rtmpt_request& r) {
    check(method == "POST" || (method == "GET" && r.command == rtmpt_command::ident));
    switch (r.command) {
        case rtmpt_command::ident:
        case rtmpt_command::open:
            check(r.session_id.empty() && !r.sequence);
            return;
        case rtmpt_command::send:
        case rtmpt_command::idle:
            check(r.sequence.has_value());
            [[fallthrough]];
        case rtmpt_command::close:
            check(is_valid_rtmpt_session_id(r.session_id));
            check(r.session_id.data() >= target.data() &&
                  r.session_id.data() + r.session_id.size() <= target.data() + target.size());
            break;
    }
    // The canonical origin form of the same request parses to the same thing.
    std::string canonical = std::string("/") + name_of(r.command) + "/" + std::string(r.session_id);
    if (r.sequence) canonical += "/" + std::to_string(*r.sequence);
    const auto again = parse_rtmpt_request("POST", canonical);
    check(again.has_value());
    check(again->command == r.command && again->session_id == r.session_id &&
          again->sequence == r.sequence);
    // A node prefix, when present, is what format_rtmpt_session_id would put back.
    const std::string_view node = rtmpt_session_node(r.session_id);
    const std::string_view random =
        node.empty() ? r.session_id : r.session_id.substr(node.size() + 1);
    const auto formatted = format_rtmpt_session_id(node, random);
    check(formatted.has_value() && *formatted == r.session_id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader reader({data, size});
    std::uint8_t method_length = 0;
    if (!reader.read_u8(method_length)) return 0;
    std::string_view method;
    reader.read_string(std::min<std::size_t>(method_length, reader.remaining()), method);
    std::string_view target;
    reader.read_string(reader.remaining(), target);

    const auto r = parse_rtmpt_request(method, target);
    const auto again = parse_rtmpt_request(method, target);
    check(r.has_value() == again.has_value());
    if (r) {
        check(same(*r, *again));
        check_request(method, target, *r);
    } else {
        check(r.error() == again.error());
        const auto e = r.error();
        check(e == error::rtmpt_bad_method || e == error::rtmpt_unknown_command ||
              e == error::rtmpt_bad_session_id || e == error::rtmpt_bad_sequence);
    }

    // The target read as a session id: valid ids are exactly those an /idle accepts.
    const bool valid = is_valid_rtmpt_session_id(target);
    const std::string idle_target = "/idle/" + std::string(target) + "/0";
    const auto idle = parse_rtmpt_request("POST", idle_target);
    if (valid)
        check(idle.has_value() && idle->session_id == target);
    else if (target.find_first_of("/?") == std::string_view::npos)
        check(!idle.has_value());
    return 0;
}
