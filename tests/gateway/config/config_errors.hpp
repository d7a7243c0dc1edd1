// What the configuration tests check of a refused document: config_error's one line.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway {

// The message of the config_error that parsing `yaml` throws, or "(accepted)".
inline std::string error_of(std::string_view yaml) {
    try {
        parse_config(yaml, "test.yaml");
    } catch (const config_error& e) {
        return e.what();
    }
    return "(accepted)";
}

// The error is one line starting "test.yaml:<line>: <path>: ", and goes on with `what` if given.
inline void expect_error(const std::string& yaml, std::string_view where,
                         std::string_view what = {}) {
    const auto message = error_of(yaml);
    EXPECT_TRUE(message.starts_with(where))
        << "message: " << message << "\nexpected start: " << where << "\ndocument:\n"
        << yaml;
    EXPECT_NE(message.find(what), std::string::npos)
        << "message: " << message << "\nexpected: " << what;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
}

}  // namespace rtmpgate::gateway
