// Bounds-checked big-endian reads over a span. Together with byte_writer, the only place in the
// project that does offset arithmetic on wire bytes. A read that does not fit returns false and
// consumes nothing.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace rtmpgate::protocol {

class byte_reader {
public:
    explicit byte_reader(std::span<const std::uint8_t> data) noexcept : data_(data) {}

    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    std::size_t position() const noexcept { return pos_; }
    bool empty() const noexcept { return remaining() == 0; }
    std::span<const std::uint8_t> rest() const noexcept { return data_.subspan(pos_); }

    bool peek_u8(std::uint8_t& v) const noexcept {
        if (remaining() < 1) return false;
        v = data_[pos_];
        return true;
    }
    bool read_u8(std::uint8_t& v) noexcept {
        if (!peek_u8(v)) return false;
        ++pos_;
        return true;
    }
    bool read_u16be(std::uint16_t& v) noexcept {
        std::uint32_t x;
        if (!read_be(2, x)) return false;
        v = static_cast<std::uint16_t>(x);
        return true;
    }
    // Little-endian 16 bits: only the 3-octet chunk basic header writes its chunk stream id so.
    bool read_u16le(std::uint16_t& v) noexcept {
        if (remaining() < 2) return false;
        v = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
        pos_ += 2;
        return true;
    }
    bool read_u24be(std::uint32_t& v) noexcept { return read_be(3, v); }
    bool read_u32be(std::uint32_t& v) noexcept { return read_be(4, v); }
    // Little-endian 32 bits: only the message stream id of a format-0 chunk header is written so.
    bool read_u32le(std::uint32_t& v) noexcept {
        if (remaining() < 4) return false;
        v = 0;
        for (int i = 3; i >= 0; --i) v = (v << 8) | data_[pos_ + static_cast<std::size_t>(i)];
        pos_ += 4;
        return true;
    }
    bool read_s16be(std::int16_t& v) noexcept {
        std::uint16_t u;
        if (!read_u16be(u)) return false;
        v = static_cast<std::int16_t>(u);
        return true;
    }
    // IEEE 754 binary64, big-endian (AMF numbers and dates).
    bool read_double(double& v) noexcept {
        if (remaining() < 8) return false;
        std::uint64_t bits = 0;
        for (std::size_t i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];
        pos_ += 8;
        v = std::bit_cast<double>(bits);
        return true;
    }
    // AMF3 U29 (AMF3 spec §1.3.1): 1 to 4 bytes, 7 bits from each byte whose high bit says
    // "more follows", then all 8 bits of a fourth byte; 29 bits in all.
    bool read_u29(std::uint32_t& v) noexcept {
        std::uint32_t x = 0;
        for (std::size_t i = 0; i < 4 && i < remaining(); ++i) {
            const std::uint8_t b = data_[pos_ + i];
            if (i == 3)
                x = (x << 8) | b;
            else
                x = (x << 7) | (b & 0x7Fu);
            if (i == 3 || (b & 0x80u) == 0) {
                pos_ += i + 1;
                v = x;
                return true;
            }
        }
        return false;
    }
    bool read_bytes(std::size_t n, std::span<const std::uint8_t>& out) noexcept {
        if (remaining() < n) return false;
        out = data_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    bool read_string(std::size_t n, std::string_view& out) noexcept {
        std::span<const std::uint8_t> bytes;
        if (!read_bytes(n, bytes)) return false;
        out = {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
        return true;
    }
    bool skip(std::size_t n) noexcept {
        if (remaining() < n) return false;
        pos_ += n;
        return true;
    }

private:
    bool read_be(std::size_t n, std::uint32_t& v) noexcept {
        if (remaining() < n) return false;
        v = 0;
        for (std::size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
        pos_ += n;
        return true;
    }

    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
};

}  // namespace rtmpgate::protocol
