#include "gateway/net/deadline.hpp"

#include <iterator>
#include <string>
#include <string_view>

namespace rtmpgate::gateway {

namespace {

// What each deadline bounds, indexed by deadline_error (which starts at 1).
constexpr std::string_view bounded[] = {
    "",
    "handshake",
    "TLS handshake",
    "name resolution",
    "connect",
    "first bytes",
    "request header",
    "request body",
    "connect command",
    "client idle",
    "backend idle",
    "client write",
    "backend write",
    "idle HTTP connection",
    "PROXY protocol header",
};
static_assert(std::size(bounded) == deadline_error_count);

class deadline_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "rtmpgate.deadline"; }

    std::string message(int value) const override {
        if (value < 1 || value >= static_cast<int>(std::size(bounded)))
            return "deadline " + std::to_string(value) + " passed";
        return std::string(bounded[value]) + " timed out";
    }

    // Lets callers that only ask "did it time out?" compare with errc::timed_out.
    boost::system::error_condition default_error_condition(int) const noexcept override {
        return boost::system::errc::make_error_condition(boost::system::errc::timed_out);
    }
};

}  // namespace

const boost::system::error_category& deadline_category() noexcept {
    static const deadline_category_impl category;
    return category;
}

error_code make_error_code(deadline_error e) noexcept {
    return {static_cast<int>(e), deadline_category()};
}

bool is_deadline(const error_code& ec) noexcept { return ec.category() == deadline_category(); }

}  // namespace rtmpgate::gateway
