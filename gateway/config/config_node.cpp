#include "gateway/config/config_node.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>

#include "gateway/config/config_scalars.hpp"

namespace rtmpgate::gateway {

namespace {

// yaml-cpp counts lines from 0 and gives null marks (-1) to nodes it made up.
int line_or(const YAML::Mark& mark, int fallback) {
    return mark.line >= 0 ? mark.line + 1 : fallback;
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Scalar:
            return quote_value(node.Scalar());
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

}  // namespace

int config_source::line_of(std::string_view path) const {
    while (!path.empty()) {
        if (const auto it = lines.find(path); it != lines.end()) return it->second;
        const auto cut = path.find_last_of(".[");
        if (cut == std::string_view::npos) break;
        path = path.substr(0, cut);
    }
    return 1;
}

void config_source::fail(std::string_view path, int line, std::string_view what) const {
    std::string message = name + ":" + std::to_string(line) + ": ";
    if (!path.empty()) {
        message.append(path);
        message += ": ";
    }
    message.append(what);
    throw config_error(message);
}

config_node::config_node(const YAML::Node& node, std::string path, int line, config_source& source)
    : node_(node), path_(std::move(path)), line_(line), source_(&source) {
    if (!path_.empty()) source_->lines[path_] = line_;
}

bool config_node::is_null() const { return node_.IsNull(); }
bool config_node::is_map() const { return node_.IsMap(); }

void config_node::fail(std::string_view what) const { source_->fail(path_, line_, what); }

std::string config_node::child_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void config_node::read_fields(std::initializer_list<field> fields) const {
    if (node_.IsNull()) return;
    if (!node_.IsMap()) fail("expected a mapping of keys (got " + describe(node_) + ")");

    std::map<std::string, int, std::less<>> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
        // A copy: the iterator hands out a proxy, and a reference into it would outlive it.
        const YAML::Node key_node = it->first;
        const int key_line = line_or(key_node.Mark(), line_);
        if (!key_node.IsScalar())
            source_->fail(path_, key_line, "expected a key name (got " + describe(key_node) + ")");
        const std::string& key = key_node.Scalar();
        const std::string path = child_path(key);

        const auto known = std::find_if(fields.begin(), fields.end(),
                                        [&](const field& f) { return f.key == key; });
        if (known == fields.end()) {
            std::string names;
            for (const auto& f : fields) {
                if (!names.empty()) names += ", ";
                names.append(f.key);
            }
            source_->fail(path, key_line, "unknown key (known here: " + names + ")");
        }
        // yaml-cpp keeps both copies of a repeated key and lookups see only the first; the file
        // would then silently mean something other than what its last line says.
        if (const auto first = seen.find(key); first != seen.end()) {
            source_->fail(path, key_line,
                          "repeated key (first at line " + std::to_string(first->second) + ")");
        }
        seen.emplace(key, key_line);
        known->read(config_node(it->second, path, key_line, *source_));
    }
}

void config_node::read_items(std::size_t max_items,
                             const std::function<void(const config_node&)>& read) const {
    if (node_.IsNull()) return;
    if (!node_.IsSequence()) fail("expected a list (got " + describe(node_) + ")");
    // Checked before walking: aliases can make a short file describe a very long list.
    if (node_.size() > max_items) {
        fail("too many entries (" + std::to_string(node_.size()) + "; at most " +
             std::to_string(max_items) + ")");
    }
    std::size_t index = 0;
    for (auto it = node_.begin(); it != node_.end(); ++it, ++index) {
        const YAML::Node& item = *it;
        read(config_node(item, path_ + "[" + std::to_string(index) + "]",
                         line_or(item.Mark(), line_), *source_));
    }
}

std::string config_node::scalar(std::string_view expected) const {
    if (!node_.IsScalar())
        fail("expected " + std::string(expected) + " (got " + describe(node_) + ")");
    return node_.Scalar();
}

std::string config_node::as_string() const { return scalar("a string"); }

bool config_node::as_bool() const {
    // YAML 1.2 core schema booleans only: yaml-cpp would also take yes/no/on/off/y/n, which turn a
    // mistyped value into a silent choice.
    static constexpr std::array<std::string_view, 3> yes{"true", "True", "TRUE"};
    static constexpr std::array<std::string_view, 3> no{"false", "False", "FALSE"};
    const auto text = scalar("true or false");
    if (std::find(yes.begin(), yes.end(), text) != yes.end()) return true;
    if (std::find(no.begin(), no.end(), text) != no.end()) return false;
    fail("expected true or false (got " + describe(node_) + ")");
}

template <typename T, typename Parse, typename Format>
T config_node::in_range(std::string_view expected, Parse parse, Format format, T min, T max) const {
    const auto text = scalar(expected);
    const auto value = parse(text);
    if (!value) fail(value.error());
    if (*value < min || *value > max) {
        fail("must be between " + format(min) + " and " + format(max) + " (got " +
             text.substr(0, 64) + ")");
    }
    return *value;
}

std::uint64_t config_node::as_unsigned(std::uint64_t min, std::uint64_t max) const {
    const auto format = [](std::uint64_t v) { return std::to_string(v); };
    return in_range("a whole number", parse_unsigned, format, min, max);
}

milliseconds config_node::as_duration(milliseconds min, milliseconds max) const {
    return in_range("a duration such as 200ms or 45s", parse_duration, format_duration, min, max);
}

std::uint64_t config_node::as_size(std::uint64_t min, std::uint64_t max) const {
    return in_range("a size such as 64KiB or 4MiB", parse_size, format_size, min, max);
}

endpoint config_node::as_endpoint() const {
    if (node_.IsNull()) return endpoint{};
    // `[::1]:1935` unquoted is YAML flow-list syntax.
    if (node_.IsSequence())
        fail("expected an address such as 0.0.0.0:1935; quote IPv6 ones: \"[::1]:1935\"");
    const auto value = parse_endpoint(scalar("an address such as 0.0.0.0:1935"));
    if (!value) fail(value.error());
    return *value;
}

}  // namespace rtmpgate::gateway
