#include "protocol/byte_reader.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace rtmpgate::protocol {
namespace {

constexpr std::array<std::uint8_t, 8> octets = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

TEST(byte_reader, big_and_little_endian_fields) {
    byte_reader r(octets);
    std::uint16_t u16 = 0;
    std::uint32_t u32 = 0;
    ASSERT_TRUE(r.read_u16be(u16));
    EXPECT_EQ(u16, 0x0102);
    ASSERT_TRUE(r.read_u24be(u32));
    EXPECT_EQ(u32, 0x030405u);
    ASSERT_TRUE(r.read_u16le(u16));
    EXPECT_EQ(u16, 0x0706);
    EXPECT_EQ(r.position(), 7u);
    EXPECT_EQ(r.remaining(), 1u);

    byte_reader le(octets);
    ASSERT_TRUE(
        le.read_u32le(u32));  // the message stream id's byte order (RTMP 1.0 spec 5.3.1.2.1)
    EXPECT_EQ(u32, 0x04030201u);
    ASSERT_TRUE(le.read_u32be(u32));
    EXPECT_EQ(u32, 0x05060708u);
    EXPECT_TRUE(le.empty());
}

TEST(byte_reader, signed_and_double) {
    constexpr std::array<std::uint8_t, 10> in = {
        0xFF, 0xFE,                                      // -2 (AMF0 date time zone)
        0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18,  // 3.141592653589793
    };
    byte_reader r(in);
    std::int16_t s16 = 0;
    double d = 0;
    ASSERT_TRUE(r.read_s16be(s16));
    EXPECT_EQ(s16, -2);
    ASSERT_TRUE(r.read_double(d));
    EXPECT_DOUBLE_EQ(d, 3.141592653589793);
}

TEST(byte_reader, a_short_read_fails_and_moves_nothing) {
    byte_reader r{std::span<const std::uint8_t>(octets).first(3)};
    std::uint32_t u32 = 0xDEAD;
    std::uint16_t u16 = 0;
    double d = 0;
    std::span<const std::uint8_t> bytes;
    EXPECT_FALSE(r.read_u32be(u32));
    EXPECT_FALSE(r.read_u32le(u32));
    EXPECT_EQ(u32, 0xDEADu);
    EXPECT_FALSE(r.read_double(d));
    EXPECT_FALSE(r.read_bytes(4, bytes));
    EXPECT_FALSE(r.skip(4));
    EXPECT_EQ(r.position(), 0u);
    ASSERT_TRUE(r.read_u24be(u32));
    EXPECT_FALSE(r.read_u16be(u16));
    std::uint8_t u8 = 0;
    EXPECT_FALSE(r.peek_u8(u8));
    EXPECT_FALSE(r.read_u8(u8));
    EXPECT_TRUE(r.empty());
}

TEST(byte_reader, bytes_strings_peek_and_skip) {
    constexpr std::array<std::uint8_t, 6> in = {'a', 'b', 'c', 'd', 'e', 'f'};
    byte_reader r(in);
    std::uint8_t first = 0;
    ASSERT_TRUE(r.peek_u8(first));
    EXPECT_EQ(first, 'a');
    EXPECT_EQ(r.position(), 0u);
    std::string_view text;
    ASSERT_TRUE(r.read_string(3, text));
    EXPECT_EQ(text, "abc");
    ASSERT_TRUE(r.skip(1));
    std::span<const std::uint8_t> rest;
    ASSERT_TRUE(r.read_bytes(2, rest));
    EXPECT_EQ(rest.data(), in.data() + 4);  // a view of the input, not a copy
    ASSERT_TRUE(r.read_bytes(0, rest));
    EXPECT_TRUE(rest.empty());
}

// AMF3 spec 1.3.1: 7 bits per octet while the high bit is set, then 8 bits from a fourth.
TEST(byte_reader, u29_each_length_and_truncation) {
    struct vector {
        std::array<std::uint8_t, 4> octets;
        std::size_t length;
        std::uint32_t value;
    };
    constexpr vector vectors[] = {
        {{0x00}, 1, 0},
        {{0x7F}, 1, 0x7F},
        {{0x81, 0x00}, 2, 0x80},
        {{0xFF, 0x7F}, 2, 0x3FFF},
        {{0x81, 0x80, 0x00}, 3, 0x4000},
        {{0xFF, 0xFF, 0x7F}, 3, 0x1FFFFF},
        {{0x80, 0xC0, 0x80, 0x00}, 4, 0x200000},
        {{0xFF, 0xFF, 0xFF, 0xFF}, 4, 0x1FFFFFFF},
    };
    for (const auto& v : vectors) {
        byte_reader r{std::span<const std::uint8_t>(v.octets).first(v.length)};
        std::uint32_t value = 0;
        ASSERT_TRUE(r.read_u29(value)) << v.value;
        EXPECT_EQ(value, v.value);
        EXPECT_TRUE(r.empty());
        // Cut one octet short: no value, nothing consumed.
        byte_reader cut{std::span<const std::uint8_t>(v.octets).first(v.length - 1)};
        EXPECT_FALSE(cut.read_u29(value)) << v.value;
        EXPECT_EQ(cut.position(), 0u);
    }
}

}  // namespace
}  // namespace rtmpgate::protocol
