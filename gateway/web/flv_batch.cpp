#include "gateway/web/flv_batch.hpp"

#include <cstdio>

namespace rtmpgate::gateway::web {

namespace {

// The FLV tag type of a message, or 0 when it has none: RTMP audio, video and AMF0 data
// payloads are FLV tag bodies as they are (E.4.1).
std::uint8_t tag_type(const protocol::message& m) {
    switch (m.type()) {
        case protocol::message_type::audio:
            return 8;
        case protocol::message_type::video:
            return 9;
        case protocol::message_type::data_amf0:
            return 18;
        default:
            return 0;
    }
}

constexpr std::string_view crlf = "\r\n";

}  // namespace

void flv_batch::build(std::span<const protocol::message> messages,
                      std::optional<protocol::flv_header> header, bool chunked) {
    tags_.clear();
    buffers_.clear();
    size_ = 0;
    tags_.reserve(messages.size());        // no reallocation once buffers point into it
    if (chunked) buffers_.emplace_back();  // the chunk's size line, once the size is known
    if (header) {
        header_ = protocol::make_flv_header(*header);
        buffers_.push_back(asio::buffer(header_));
        size_ += header_.size();
    }
    for (const auto& m : messages) {
        const auto type = tag_type(m);
        if (type == 0) continue;
        const auto body = m.payload.span();
        auto head = protocol::make_flv_tag_head(type, m.timestamp, body.size());
        if (!head) continue;  // an RTMP message length is 24 bits: never
        tags_.push_back({*head, protocol::make_flv_tag_tail(body.size())});
        buffers_.push_back(asio::buffer(tags_.back().head));
        if (!body.empty()) buffers_.push_back(asio::buffer(body.data(), body.size()));
        buffers_.push_back(asio::buffer(tags_.back().tail));
        size_ += protocol::flv_tag_header_size + body.size() + tags_.back().tail.size();
    }
    if (!chunked) return;
    if (size_ == 0) {
        buffers_.clear();
        return;
    }
    // RFC 9112 7.1: chunk-size in hex, CRLF, the data, CRLF.
    char line[24];
    const int n = std::snprintf(line, sizeof line, "%zx\r\n", size_);
    chunk_line_.assign(line, static_cast<std::size_t>(n));
    buffers_.front() = asio::buffer(chunk_line_);
    buffers_.push_back(asio::buffer(crlf));
}

}  // namespace rtmpgate::gateway::web
