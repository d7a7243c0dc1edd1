#include "gateway/rtmp/error.hpp"

#include <string>

namespace rtmpgate::gateway::rtmp {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "rtmpgate.rtmp"; }

    std::string message(int value) const override {
        if (value == static_cast<int>(error::no_connect)) return "no connect in the first 64 KiB";
        return "unknown rtmp connection error";
    }
};

// Constant-initialised (error_category's constructor is constexpr): usable from any static
// initialiser.
const category instance{};

}  // namespace

const boost::system::error_category& rtmp_category() noexcept { return instance; }

}  // namespace rtmpgate::gateway::rtmp
