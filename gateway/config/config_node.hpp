// One YAML node of rtmpgate.yaml together with its full key path and line, read strictly: every
// typed read either returns a value of the right type and range or throws config_error naming the
// file, the line and the path. Used by parse_config; the schema itself lives in config.cpp.
#pragma once

#include <yaml-cpp/node/node.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway {

// The document being read: its name for messages, and the line of every key path met so far,
// so that checks made after reading (one setting against another) can still point at a line.
struct config_source {
    std::string name;
    std::map<std::string, int, std::less<>> lines;

    // The line of `path`, else of its nearest recorded parent ("a.b[2].c" -> "a.b[2]" -> "a.b" ->
    // "a"), else 1.
    int line_of(std::string_view path) const;

    // Throws config_error "<name>:<line>: <path>: <what>" (without "<path>: " when path is empty).
    [[noreturn]] void fail(std::string_view path, int line, std::string_view what) const;
};

class config_node {
public:
    // `line` is 1-based. The node records its path and line in `source`, which must outlive it.
    config_node(const YAML::Node& node, std::string path, int line, config_source& source);

    const std::string& path() const noexcept { return path_; }
    int line() const noexcept { return line_; }
    bool is_null() const;
    bool is_map() const;

    // Throws config_error for this node's path and line.
    [[noreturn]] void fail(std::string_view what) const;

    // Reads this node as a mapping whose keys are all among `fields`, calling each present key's
    // reader in document order with the value (its line is the key's line). Null reads as an empty
    // mapping. Fails on another node type, an unknown key (listing the known ones) or a repeated
    // key.
    struct field {
        std::string_view key;
        std::function<void(const config_node&)> read;
    };
    void read_fields(std::initializer_list<field> fields) const;

    // Reads this node as a list of at most `max_items` elements (null reads as empty), calling
    // `read` on each; element paths are "<path>[<index from 0>]".
    void read_items(std::size_t max_items,
                    const std::function<void(const config_node&)>& read) const;

    // Scalars. Null is not a value: "key:" with nothing after fails (use "" for an empty string).
    std::string as_string() const;
    bool as_bool() const;  // true/false (also True/TRUE, False/FALSE); not yes/no/on/off
    std::uint64_t as_unsigned(std::uint64_t min, std::uint64_t max) const;
    milliseconds as_duration(milliseconds min, milliseconds max) const;
    std::uint64_t as_size(std::uint64_t min, std::uint64_t max) const;
    endpoint as_endpoint() const;  // null and "" read as disabled

private:
    std::string scalar(std::string_view expected) const;  // the text, or fail "expected <expected>"
    std::string child_path(std::string_view key) const;
    // The scalar parsed by `parse`, failing with `format`ted bounds when outside [min, max].
    template <typename T, typename Parse, typename Format>
    T in_range(std::string_view expected, Parse parse, Format format, T min, T max) const;

    YAML::Node node_;
    std::string path_;
    int line_;
    config_source* source_;
};

}  // namespace rtmpgate::gateway
