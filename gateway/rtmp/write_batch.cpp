#include "gateway/rtmp/write_batch.hpp"

namespace rtmpgate::gateway::rtmp {

namespace {

// A batch of the usual size (a frame or two of audio and video) fits in this many messages and
// pieces. One far larger (a keyframe of many chunks, or what piled up behind a slow write) does
// not keep its size: every player would hold a keyframe's worth of descriptors between
// keyframes, and they all write the keyframe at the same time.
constexpr std::size_t kept_messages = 16;
constexpr std::size_t kept_pieces = 64;

template <class T>
void clear_and_trim(std::vector<T>& v, std::size_t kept) {
    if (v.capacity() > kept)
        std::vector<T>().swap(v);
    else
        v.clear();
}

}  // namespace

void write_batch::fill(output_queue& queue, protocol::chunk_encoder& encoder,
                       std::size_t max_bytes) {
    clear();
    queue.pop_batch(max_bytes, messages_);
    // Room for every header first: the buffers point into headers_, which must not move.
    headers_.reserve(messages_.size() * protocol::chunk_encoder::max_gather_header_octets);
    for (auto& m : messages_) {
        // Our own Set Chunk Size applies to every chunk written after it: the encoder sees to it.
        pieces_.clear();
        encoder.encode_gather(m, headers_, pieces_);
        for (const auto& p : pieces_)
            buffers_.push_back(
                p.payload ? asio::const_buffer(p.payload, p.length)
                          : asio::const_buffer(headers_.data() + p.header_offset, p.length));
        // The payload goes with the write (moved: the message is done with it), so that a
        // stream that keeps what it is given (an RTMPT session) shares it rather than copying it.
        if (!m.payload.empty()) payloads_.push_back(std::move(m.payload));
    }
    messages_.clear();
}

void write_batch::consume(std::size_t n) {
    while (n != 0 && next_ < buffers_.size()) {
        auto& b = buffers_[next_];
        if (n < b.size()) {
            b += n;
            return;
        }
        n -= b.size();
        ++next_;
    }
}

void write_batch::clear() {
    clear_and_trim(messages_, kept_messages);
    clear_and_trim(headers_, kept_messages * protocol::chunk_encoder::max_gather_header_octets);
    clear_and_trim(pieces_, kept_pieces);
    clear_and_trim(buffers_, kept_pieces);
    next_ = 0;
    clear_and_trim(payloads_, kept_messages);
}

}  // namespace rtmpgate::gateway::rtmp
