// Appends big-endian fields to a byte vector. With byte_reader, the only place that does offset
// arithmetic on wire bytes.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/amf3_marker.hpp"

namespace rtmpgate::protocol {

class byte_writer {
public:
    explicit byte_writer(std::vector<std::uint8_t>& out) noexcept : out_(out) {}

    std::size_t size() const noexcept { return out_.size(); }

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16be(std::uint16_t v) { be(v, 2); }
    // Little-endian 16 bits: the chunk stream id of a 3-octet chunk basic header.
    void u16le(std::uint16_t v) {
        out_.push_back(static_cast<std::uint8_t>(v));
        out_.push_back(static_cast<std::uint8_t>(v >> 8));
    }
    void u24be(std::uint32_t v) { be(v, 3); }
    void u32be(std::uint32_t v) { be(v, 4); }
    void u32le(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void f64be(double v) {
        const auto bits = std::bit_cast<std::uint64_t>(v);
        for (int i = 7; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
    }
    // AMF3 U29 (AMF3 spec §1.3.1) in its shortest form; bits above the 29th are dropped.
    void u29(std::uint32_t v) {
        v &= amf3::u29_max;
        if (v < 0x80u) {
            u8(static_cast<std::uint8_t>(v));
        } else if (v < 0x4000u) {
            u8(static_cast<std::uint8_t>(0x80u | (v >> 7)));
            u8(static_cast<std::uint8_t>(v & 0x7Fu));
        } else if (v < 0x200000u) {
            u8(static_cast<std::uint8_t>(0x80u | (v >> 14)));
            u8(static_cast<std::uint8_t>(0x80u | ((v >> 7) & 0x7Fu)));
            u8(static_cast<std::uint8_t>(v & 0x7Fu));
        } else {
            u8(static_cast<std::uint8_t>(0x80u | (v >> 22)));
            u8(static_cast<std::uint8_t>(0x80u | ((v >> 15) & 0x7Fu)));
            u8(static_cast<std::uint8_t>(0x80u | ((v >> 8) & 0x7Fu)));
            u8(static_cast<std::uint8_t>(v & 0xFFu));
        }
    }
    void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
    void string(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }

    // Overwrites a big-endian field already written at `offset` (lengths known only afterwards).
    void patch_u24be(std::size_t offset, std::uint32_t v) { patch(offset, v, 3); }
    void patch_u32be(std::size_t offset, std::uint32_t v) { patch(offset, v, 4); }

private:
    void be(std::uint32_t v, int n) {
        for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void patch(std::size_t offset, std::uint32_t v, int n) {
        for (int i = 0; i < n; ++i)
            out_.at(offset + static_cast<std::size_t>(i)) =
                static_cast<std::uint8_t>(v >> (8 * (n - 1 - i)));
    }

    std::vector<std::uint8_t>& out_;
};

}  // namespace rtmpgate::protocol
