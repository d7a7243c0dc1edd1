#include "protocol/chunk_encoder.hpp"

#include <algorithm>
#include <cassert>

#include "protocol/byte_writer.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::protocol {

namespace {

// Spec 5.3.1.3: values from 0xFFFFFF up go in the 4-octet extended timestamp field.
constexpr std::uint32_t extended_marker = 0xFFFFFF;
// Basic header (3) + format-0 message header (11) + extended timestamp (4).
constexpr std::size_t max_header_size = 18;
// Basic header (3) + extended timestamp (4).
constexpr std::size_t max_continuation_size = 7;

// Grows geometrically, so that many messages appended to one buffer stay linear.
template <class T>
void reserve_more(std::vector<T>& v, std::size_t extra) {
    const auto needed = v.size() + extra;
    if (needed > v.capacity()) v.reserve(std::max(needed, v.capacity() * 2));
}

// Spec 5.3.1.1: ids 2-63 in one octet, 64-319 as 0 + (id - 64), 320-65599 as 1 + (id - 64)
// little-endian.
void write_basic_header(byte_writer& w, std::uint8_t format, std::uint32_t chunk_stream_id) {
    const auto format_bits = static_cast<std::uint8_t>(format << 6);
    if (chunk_stream_id < 64) {
        w.u8(static_cast<std::uint8_t>(format_bits | chunk_stream_id));
    } else if (chunk_stream_id < 64 + 256) {
        w.u8(format_bits);
        w.u8(static_cast<std::uint8_t>(chunk_stream_id - 64));
    } else {
        w.u8(static_cast<std::uint8_t>(format_bits | 1));
        w.u16le(static_cast<std::uint16_t>(chunk_stream_id - 64));
    }
}

}  // namespace

chunk_encoder::chunk_encoder() { continuation_.reserve(max_continuation_size); }

void chunk_encoder::set_chunk_size(std::uint32_t size) {
    // Spec 5.4.1: 1 to 0x7FFFFFFF.
    chunk_size_ = std::clamp<std::uint32_t>(size, 1, 0x7FFFFFFF);
}

std::uint32_t chunk_encoder::chunk_size() const noexcept { return chunk_size_; }

chunk_encoder::stream_state& chunk_encoder::stream(std::uint32_t chunk_stream_id) {
    if (chunk_stream_id < low_index_.size()) {
        auto& slot = low_index_[chunk_stream_id];
        if (slot == 0) {
            streams_.emplace_back().chunk_stream_id = chunk_stream_id;
            slot = static_cast<std::uint32_t>(streams_.size());
        }
        return streams_[slot - 1];
    }
    for (auto& s : streams_)
        if (s.chunk_stream_id == chunk_stream_id) return s;
    auto& s = streams_.emplace_back();
    s.chunk_stream_id = chunk_stream_id;
    return s;
}

std::size_t chunk_encoder::chunk_count(std::size_t payload_size) const noexcept {
    // A header alone still carries an empty message. The test first spares a division (a
    // noticeable part of encoding a small message) in the common case of a single chunk.
    if (payload_size <= chunk_size_) return 1;
    return (payload_size - 1) / chunk_size_ + 1;
}

void chunk_encoder::write_headers(const message& m, std::vector<std::uint8_t>& out) {
    assert(m.chunk_stream_id >= 2 && m.chunk_stream_id <= 65599);
    assert(m.payload.size() <= 0xFFFFFF);
    auto& s = stream(m.chunk_stream_id);
    const auto length = static_cast<std::uint32_t>(m.payload.size());

    // Spec 5.3.1.2: the smallest header that lets the peer rebuild the message from what it
    // remembers of this chunk stream. Format 0 for a new chunk stream, another message stream or
    // a timestamp going back (deltas are unsigned). Format 3 only repeats a delta that a format 1
    // or 2 header set: after a format 0, ffmpeg and librtmp would repeat the format 0's timestamp
    // but nginx-rtmp a delta of 0, so a format 2 is sent there instead.
    std::uint8_t format = 0;
    std::uint32_t field = m.timestamp;  // timestamp (format 0) or timestamp delta
    if (s.started && s.message_stream_id == m.message_stream_id && m.timestamp >= s.timestamp) {
        field = m.timestamp - s.timestamp;
        if (length != s.message_length || m.message_type_id != s.message_type_id)
            format = 1;
        else if (!s.delta_known || field != s.timestamp_delta)
            format = 2;
        else
            format = 3;
    }
    const bool extended = field >= extended_marker;

    byte_writer w(out);
    write_basic_header(w, format, m.chunk_stream_id);
    if (format <= 2) {
        w.u24be(extended ? extended_marker : field);
        if (format <= 1) {
            w.u24be(length);
            w.u8(m.message_type_id);
            if (format == 0) w.u32le(m.message_stream_id);
        }
    }
    // A format 3 here repeats a delta that was itself extended, so the field follows it too.
    if (extended) w.u32be(field);

    // ffmpeg, librtmp and nginx-rtmp all read the extended timestamp again after the format-3
    // header of every later chunk of the message (the 2012 spec, 5.3.1.3, agrees).
    // Only built when there are later chunks: a message in one chunk does not need it.
    continuation_.clear();
    if (length > chunk_size_) {
        byte_writer c(continuation_);
        write_basic_header(c, 3, m.chunk_stream_id);
        if (extended) c.u32be(field);
    }

    s.started = true;
    s.timestamp = m.timestamp;
    s.message_length = length;
    s.message_type_id = m.message_type_id;
    s.message_stream_id = m.message_stream_id;
    if (format == 0) {
        s.delta_known = false;
    } else if (format <= 2) {
        s.timestamp_delta = field;
        s.delta_known = true;
    }
}

void chunk_encoder::encode(const message& m, std::vector<std::uint8_t>& out) {
    const auto payload = m.payload.span();
    const auto chunks = chunk_count(payload.size());
    reserve_more(out, max_header_size + payload.size() + (chunks - 1) * max_continuation_size);
    write_headers(m, out);

    std::size_t offset = std::min<std::size_t>(chunk_size_, payload.size());
    out.insert(out.end(), payload.data(), payload.data() + offset);
    // Every later chunk's header is one octet unless the chunk stream id or an extended
    // timestamp makes it longer; a push_back of it costs less than an insert.
    const bool one_octet = continuation_.size() == 1;
    while (offset < payload.size()) {
        const auto n = std::min<std::size_t>(chunk_size_, payload.size() - offset);
        if (one_octet)
            out.push_back(continuation_[0]);
        else
            out.insert(out.end(), continuation_.begin(), continuation_.end());
        out.insert(out.end(), payload.data() + offset, payload.data() + offset + n);
        offset += n;
    }
    apply_control(m);
}

void chunk_encoder::encode_gather(const message& m, std::vector<std::uint8_t>& headers,
                                  std::vector<gather_piece>& pieces) {
    gather(m, headers, pieces);
    apply_control(m);
}

void chunk_encoder::gather(const message& m, std::vector<std::uint8_t>& headers,
                           std::vector<gather_piece>& pieces) {
    const auto payload = m.payload.span();
    const auto chunks = chunk_count(payload.size());
    reserve_more(pieces, 2 * chunks);

    const auto first = headers.size();
    write_headers(m, headers);
    pieces.push_back({nullptr, static_cast<std::uint32_t>(first),
                      static_cast<std::uint32_t>(headers.size() - first)});
    if (payload.empty()) return;

    std::size_t offset = std::min<std::size_t>(chunk_size_, payload.size());
    pieces.push_back({payload.data(), 0, static_cast<std::uint32_t>(offset)});
    if (offset == payload.size()) return;

    // Every later chunk has the same header: write it once and point every piece at it.
    const auto later = static_cast<std::uint32_t>(headers.size());
    const auto later_size = static_cast<std::uint32_t>(continuation_.size());
    headers.insert(headers.end(), continuation_.begin(), continuation_.end());
    while (offset < payload.size()) {
        const auto n = std::min<std::size_t>(chunk_size_, payload.size() - offset);
        pieces.push_back({nullptr, later, later_size});
        pieces.push_back({payload.data() + offset, 0, static_cast<std::uint32_t>(n)});
        offset += n;
    }
}

// Like the decoder's apply_control: our own Set Chunk Size changes how we chunk from the next
// chunk on, so the caller never has to parse what it sends. Abort needs nothing here: a message
// is always written whole.
void chunk_encoder::apply_control(const message& m) {
    if (m.type() != message_type::set_chunk_size) return;
    if (const auto c = parse_control(m)) chunk_size_ = c->value;
}

}  // namespace rtmpgate::protocol
