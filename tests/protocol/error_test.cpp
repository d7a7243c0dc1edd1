#include "protocol/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rtmpgate::protocol {
namespace {

TEST(protocol_error, every_value_has_a_message_of_its_own) {
    std::set<std::string> messages;
    const int first = static_cast<int>(error::need_more),
              last = static_cast<int>(error::proxy_v2_too_long);
    for (int v = first; v <= last; ++v) {
        const error_code ec = static_cast<error>(v);
        EXPECT_EQ(&ec.category(), &protocol_category());
        const auto text = ec.message();
        EXPECT_FALSE(text.empty()) << v;
        EXPECT_TRUE(messages.insert(text).second) << "message repeated: " << text;
    }
    EXPECT_EQ(messages.size(), static_cast<std::size_t>(last - first + 1));
}

TEST(protocol_error, converts_to_error_code_and_compares) {
    error_code ec = error::chunk_unknown_stream;
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec, error::chunk_unknown_stream);
    EXPECT_NE(ec, error::need_more);
    EXPECT_STRNE(protocol_category().name(), "");
    EXPECT_FALSE(error_code());  // no error is the default, not a value of the enum
}

}  // namespace
}  // namespace rtmpgate::protocol
