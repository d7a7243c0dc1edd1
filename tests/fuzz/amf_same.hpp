// Exact equality of two decoded AMF values for the fuzz targets: like operator==, except that
// numbers compare bit for bit, so that a NaN equals itself.
#pragma once

#include <bit>
#include <cstdint>

#include "protocol/amf_value.hpp"

namespace rtmpgate::protocol::fuzz {

inline bool same(const amf_value& a, const amf_value& b) {
    if (a.kind != b.kind || a.boolean != b.boolean ||
        std::bit_cast<std::uint64_t>(a.number) != std::bit_cast<std::uint64_t>(b.number) ||
        a.integer != b.integer || a.timezone != b.timezone || a.string != b.string ||
        a.class_name != b.class_name || a.dynamic != b.dynamic || a.fixed != b.fixed ||
        a.weak_keys != b.weak_keys || a.sealed_members != b.sealed_members ||
        a.properties.size() != b.properties.size() || a.elements.size() != b.elements.size() ||
        a.entries.size() != b.entries.size())
        return false;
    for (std::size_t i = 0; i < a.properties.size(); ++i)
        if (a.properties[i].first != b.properties[i].first ||
            !same(a.properties[i].second, b.properties[i].second))
            return false;
    for (std::size_t i = 0; i < a.elements.size(); ++i)
        if (!same(a.elements[i], b.elements[i])) return false;
    for (std::size_t i = 0; i < a.entries.size(); ++i)
        if (!same(a.entries[i].first, b.entries[i].first) ||
            !same(a.entries[i].second, b.entries[i].second))
            return false;
    return true;
}

}  // namespace rtmpgate::protocol::fuzz
