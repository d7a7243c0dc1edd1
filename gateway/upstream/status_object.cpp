#include "gateway/upstream/status_object.hpp"

namespace rtmpgate::gateway::upstream {

namespace {

const protocol::amf_value* information(const protocol::command& c) {
    for (const auto& a : c.arguments)
        if (a.kind == protocol::amf_kind::object) return &a;
    return nullptr;
}

}  // namespace

std::string describe_status(const protocol::command& c) {
    const auto* info = information(c);
    if (!info) return "(no information object)";
    std::string text(info->get_string("code", "(no code)"));
    const auto description = info->get_string("description");
    if (!description.empty()) text += ": " + std::string(description);
    return text;
}

std::string_view status_code(const protocol::command& c) {
    const auto* info = information(c);
    return info ? info->get_string("code") : std::string_view();
}

std::string_view status_level(const protocol::command& c) {
    const auto* info = information(c);
    return info ? info->get_string("level") : std::string_view();
}

}  // namespace rtmpgate::gateway::upstream
