// One write to an FLV viewer: messages of an engine stream as FLV tags, gathered without copying
// their bodies (each tag is its 11-octet head, the message's payload, its PreviousTagSize), the
// file header in front of the first, and, for HTTP/1.1, one chunk of chunked transfer coding
// around them all.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/net/asio.hpp"
#include "protocol/flv.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::web {

class flv_batch {
public:
    // Replaces what the batch held by `messages` (they must outlive the write): audio, video and
    // AMF0 data messages become tags (timestamps as published); any other message is left out.
    // `header`: the file header goes first (the response's first batch). `chunked`: framed as one
    // HTTP chunk. size() 0 when nothing was left to write.
    void build(std::span<const protocol::message> messages,
               std::optional<protocol::flv_header> header, bool chunked);

    std::vector<asio::const_buffer>& buffers() noexcept { return buffers_; }
    std::size_t size() const noexcept { return size_; }  // FLV octets, framing excluded

private:
    struct framing {
        protocol::flv_tag_head head;
        protocol::flv_tag_tail tail;
    };
    std::vector<framing> tags_;  // sized before buffers_ point into it
    std::vector<asio::const_buffer> buffers_;
    std::array<std::uint8_t, protocol::flv_header_size> header_{};
    std::string chunk_line_;
    std::size_t size_ = 0;
};

}  // namespace rtmpgate::gateway::web
