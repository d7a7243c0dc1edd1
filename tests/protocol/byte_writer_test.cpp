#include "protocol/byte_writer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "protocol/byte_reader.hpp"

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

TEST(byte_writer, fields_in_their_byte_order) {
    bytes out;
    byte_writer w(out);
    w.u8(0xAB);
    w.u16be(0x0102);
    w.u16le(0x0304);
    w.u24be(0x050607);
    w.u32be(0x08090A0B);
    w.u32le(0x0C0D0E0F);
    EXPECT_EQ(out, (bytes{0xAB, 0x01, 0x02, 0x04, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
                          0x0F, 0x0E, 0x0D, 0x0C}));
    EXPECT_EQ(w.size(), out.size());
}

TEST(byte_writer, double_is_ieee_big_endian) {
    bytes out;
    byte_writer(out).f64be(1.5);
    EXPECT_EQ(out, (bytes{0x3F, 0xF8, 0, 0, 0, 0, 0, 0}));
}

TEST(byte_writer, u29_is_shortest_and_reads_back) {
    const std::pair<std::uint32_t, std::size_t> cases[] = {
        {0, 1},      {0x7F, 1},     {0x80, 2},     {0x3FFF, 2},
        {0x4000, 3}, {0x1FFFFF, 3}, {0x200000, 4}, {0x1FFFFFFF, 4},
    };
    for (const auto& [value, length] : cases) {
        bytes out;
        byte_writer(out).u29(value);
        EXPECT_EQ(out.size(), length) << value;
        byte_reader r(out);
        std::uint32_t back = 0;
        ASSERT_TRUE(r.read_u29(back));
        EXPECT_EQ(back, value);
    }
    bytes out;
    byte_writer(out).u29(0xE0000001u);  // bits above the 29th are dropped
    EXPECT_EQ(out, (bytes{0x01}));
}

TEST(byte_writer, patches_a_length_written_earlier) {
    bytes out;
    byte_writer w(out);
    w.u8(0x09);
    const auto at = w.size();
    w.u24be(0);
    w.u32be(0);
    w.string("body");
    w.patch_u24be(at, 4);
    w.patch_u32be(at + 3, 0xCAFEBABE);
    EXPECT_EQ(out, (bytes{0x09, 0x00, 0x00, 0x04, 0xCA, 0xFE, 0xBA, 0xBE, 'b', 'o', 'd', 'y'}));
    EXPECT_THROW(w.patch_u32be(out.size() - 2, 1), std::out_of_range);  // never past the end
}

}  // namespace
}  // namespace rtmpgate::protocol
