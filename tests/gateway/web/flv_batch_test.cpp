#include "gateway/web/flv_batch.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rtmpgate::gateway::web {
namespace {

using protocol::message;
using protocol::message_type;

message make(message_type type, std::uint32_t timestamp, std::vector<std::uint8_t> payload) {
    message m;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.timestamp = timestamp;
    m.payload = protocol::shared_bytes(payload);
    return m;
}

std::vector<std::uint8_t> flatten(const std::vector<asio::const_buffer>& buffers) {
    std::vector<std::uint8_t> out;
    for (const auto& b : buffers) {
        const auto* p = static_cast<const std::uint8_t*>(b.data());
        out.insert(out.end(), p, p + b.size());
    }
    return out;
}

std::vector<message> sample() {
    return {make(message_type::data_amf0, 0, {0x02, 0x00, 0x01, 'x'}),
            make(message_type::video, 40, {0x17, 0x00, 0x00, 0x00, 0x00}),
            make(message_type::command_amf0, 40, {0x02}),  // no tag: left out
            make(message_type::audio, 0x01000023, {0xAF, 0x01, 0x21})};
}

// The octets read back with the protocol's FLV reader, tag for tag.
TEST(flv_batch, plain_tags_read_back) {
    flv_batch batch;
    const auto messages = sample();
    batch.build(messages, protocol::flv_header{true, false}, false);
    const auto octets = flatten(batch.buffers());
    EXPECT_EQ(octets.size(), batch.size());
    protocol::flv_header h;
    protocol::error_code ec;
    std::size_t at = protocol::read_flv_header(octets, h, ec);
    ASSERT_FALSE(ec);
    EXPECT_TRUE(h.has_audio);
    EXPECT_FALSE(h.has_video);
    const std::uint8_t types[] = {18, 9, 8};
    const std::uint32_t times[] = {0, 40, 0x01000023};
    const std::size_t from[] = {0, 1, 3};
    for (int i = 0; i < 3; ++i) {
        protocol::flv_tag tag;
        const auto n = protocol::read_flv_tag(std::span(octets).subspan(at), tag, ec);
        ASSERT_FALSE(ec) << i;
        EXPECT_EQ(tag.type, types[i]);
        EXPECT_EQ(tag.timestamp, times[i]);
        const auto want = messages[from[i]].payload.span();
        EXPECT_TRUE(
            std::equal(want.begin(), want.end(), tag.body.span().begin(), tag.body.span().end()));
        at += n;
    }
    EXPECT_EQ(at, octets.size());
    // Later batches carry no header.
    batch.build(std::span(messages).subspan(1, 1), std::nullopt, false);
    EXPECT_EQ(batch.size(), 11u + 5 + 4);
    EXPECT_EQ(flatten(batch.buffers())[0], 9);
}

TEST(flv_batch, one_http_chunk) {
    flv_batch batch;
    const auto messages = sample();
    batch.build(messages, std::nullopt, true);
    const auto octets = flatten(batch.buffers());
    const std::string text(octets.begin(), octets.end());
    const auto line_end = text.find("\r\n");
    ASSERT_NE(line_end, std::string::npos);
    EXPECT_EQ(std::stoul(text.substr(0, line_end), nullptr, 16), batch.size());
    EXPECT_EQ(octets.size(), line_end + 2 + batch.size() + 2);
    EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
    // Nothing to write: no empty chunk, which would end the response.
    const std::vector<message> none = {make(message_type::command_amf0, 0, {0x02})};
    batch.build(none, std::nullopt, true);
    EXPECT_EQ(batch.size(), 0u);
    EXPECT_TRUE(batch.buffers().empty());
}

}  // namespace
}  // namespace rtmpgate::gateway::web
