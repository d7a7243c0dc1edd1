#include "protocol/chunk_decoder.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/byte_reader.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::protocol {

namespace {

// Spec 5.3.1.3: a 24-bit timestamp field of 0xFFFFFF announces the 4-octet extended field.
constexpr std::uint32_t extended_marker = 0xFFFFFF;

// Chunk streams a decoder remembers at all (with or without a message in progress). A peer that
// opens more is hostile: nginx-rtmp refuses any id at or above 32, ffmpeg uses ids 2 to 8.
std::size_t known_stream_bound(std::size_t max_in_progress) noexcept {
    constexpr std::size_t floor = 16;
    constexpr std::size_t ceiling = 65600;  // every id the basic header can spell
    if (max_in_progress > ceiling / 4) return ceiling;
    return std::max(floor, max_in_progress * 4);
}

// The payload block a message starts with: the whole message when it is small (nearly every
// audio and video message), else 64 KiB with the block's head, grown as the octets arrive. A
// header declares up to 16 MiB that may never come; what did come is what the bounds count.
constexpr std::uint32_t first_capacity = (64 << 10) - 16;

std::uint64_t round_up_to_step(std::uint64_t n) noexcept {
    constexpr auto step = chunk_decoder::partial_step;
    return (n + step - 1) / step * step;
}

}  // namespace

// One chunk header as read from the wire, not yet applied to the chunk stream's state.
struct chunk_decoder::chunk_header {
    std::uint8_t format = 0;
    std::uint32_t chunk_stream_id = 0;
    std::size_t stream = no_stream;  // index in streams_, or no_stream for a new chunk stream
    std::uint32_t timestamp_field = 0;
    std::uint32_t message_length = 0;
    std::uint8_t message_type_id = 0;
    std::uint32_t message_stream_id = 0;
    bool has_extended = false;  // a 4-octet extended timestamp was read
    std::uint32_t extended_value = 0;
    type3_extended learned = type3_extended::unknown;
    std::size_t size = 0;  // header octets consumed
};

chunk_decoder::chunk_decoder(chunk_decoder_limits limits, byte_budget* shared)
    : limits_(limits),
      max_known_streams_(known_stream_bound(limits.max_chunk_streams)),
      shared_(shared) {}

chunk_decoder::~chunk_decoder() {
    if (shared_ != nullptr && taken_ != 0) shared_->give_back(taken_);
}

std::uint32_t chunk_decoder::chunk_size() const noexcept { return chunk_size_; }

std::uint64_t chunk_decoder::bytes_consumed() const noexcept { return bytes_consumed_; }

std::uint64_t chunk_decoder::partial_bytes() const noexcept { return partial_bytes_; }

void chunk_decoder::drop_partial() noexcept {
    for (auto& s : streams_) {
        if (!s.in_progress) continue;
        s.payload = {};
        s.in_progress = false;
        release(s);
    }
    in_progress_ = 0;
    payload_left_ = 0;
    header_len_ = 0;
}

std::size_t chunk_decoder::feed(std::span<const std::uint8_t> in, std::vector<message>& out,
                                error_code& ec) {
    ec = {};
    std::size_t pos = 0;
    while (pos != in.size() && !ec) {
        const auto rest = in.subspan(pos);
        std::size_t used = 0;
        if (payload_left_ != 0)
            used = feed_payload(rest, out, ec);
        else if (header_len_ != 0 || ((used = feed_format3_chunks(rest, out, ec)) == 0 && !ec))
            used = feed_header(rest, out, ec);
        pos += used;
    }
    if (!ec) ec = error::need_more;
    bytes_consumed_ += pos;
    return pos;
}

// The rest of the current chunk's payload, as much of it as `in` holds.
std::size_t chunk_decoder::feed_payload(std::span<const std::uint8_t> in, std::vector<message>& out,
                                        error_code& ec) {
    const auto n = std::min<std::size_t>(payload_left_, in.size());
    append_payload(in.first(n), out, ec);
    return n;
}

// The bulk of any media stream: one-octet format-3 headers on a chunk stream without an extended
// timestamp, either continuing its message in progress (a 64 KiB keyframe at chunk size 128 is
// 511 of them) or starting the next message with the previous one's length, type, stream and
// timestamp delta (steady audio and video at any chunk size). Whole chunks of that message at the
// front of `in` are copied in a tight loop, with the same result as feed_header but without
// building a chunk_header per chunk. Returns 0 when `in` does not start so, or when the first
// chunk is cut: feed_header then takes it (a message begun here is found in progress there, which
// leaves the same state).
std::size_t chunk_decoder::feed_format3_chunks(std::span<const std::uint8_t> in,
                                               std::vector<message>& out, error_code& ec) {
    std::uint8_t first = 0;
    byte_reader(in).peek_u8(first);
    const auto slot = low_index_[first & 0x3F];  // 0 for ids 0 and 1: never set
    if ((first >> 6) != 3 || slot == 0 || streams_[slot - 1].extended) return 0;
    auto& s = streams_[slot - 1];
    if (!s.in_progress && s.message_length != 0 && s.message_length <= limits_.max_message_length &&
        in_progress_ < limits_.max_chunk_streams) {
        s.timestamp += s.timestamp_delta;
        begin_message(s);
    }
    if (!s.in_progress) return 0;
    const auto used = continue_message(in, slot - 1, first, ec);
    if (used != 0 && !s.in_progress) complete_message(s, out, ec);
    return used;
}

// One chunk header (and any payload octets parse_header peeked at), parsed in place when it is
// whole in `in`, or completed in header_buf_ when the previous feed() cut it. A header still cut
// at the end of `in` is kept in header_buf_ and all of `in` counts as used (a header never
// exceeds the buffer). Returns the octets of `in` used: none when the header is refused, or when
// it lay whole in header_buf_ already.
std::size_t chunk_decoder::feed_header(std::span<const std::uint8_t> in, std::vector<message>& out,
                                       error_code& ec) {
    chunk_header h;
    std::size_t used = 0;
    std::span<const std::uint8_t> leftover;  // payload octets kept in header_buf_
    if (header_len_ == 0) {
        // The common case: the whole header is in `in`; parse it in place.
        const auto status = parse_header(in, h, ec);
        if (status == parse_status::failed) return 0;
        if (status == parse_status::need_more) {
            std::memcpy(header_buf_.data(), in.data(), in.size());
            header_len_ = in.size();
            return in.size();
        }
        used = h.size;
    } else {
        // A header cut by the previous feed(): complete it in header_buf_.
        const auto take = std::min(header_buf_.size() - header_len_, in.size());
        std::memcpy(header_buf_.data() + header_len_, in.data(), take);
        const auto buffered = std::span<const std::uint8_t>(header_buf_.data(), header_len_ + take);
        const auto status = parse_header(buffered, h, ec);
        if (status == parse_status::failed) return 0;
        if (status == parse_status::need_more) {
            header_len_ += take;
            return take;
        }
        if (h.size >= header_len_) {
            used = h.size - header_len_;
        } else {
            // The octets peeked for a missing extended timestamp were payload (see
            // parse_header) and some came with an earlier feed(): hand them over from here.
            leftover = buffered.subspan(h.size, header_len_ - h.size);
        }
        header_len_ = 0;
    }

    start_chunk(h, out, ec);
    if (!ec && !leftover.empty()) append_payload(leftover, out, ec);
    return used;
}

std::size_t chunk_decoder::find_stream(std::uint32_t chunk_stream_id) const noexcept {
    if (chunk_stream_id < low_index_.size()) {
        const auto slot = low_index_[chunk_stream_id];
        return slot == 0 ? no_stream : slot - 1;
    }
    for (std::size_t i = 0; i < streams_.size(); ++i)
        if (streams_[i].chunk_stream_id == chunk_stream_id) return i;
    return no_stream;
}

std::size_t chunk_decoder::add_stream(std::uint32_t chunk_stream_id, error_code& ec) {
    if (streams_.size() >= max_known_streams_) {
        ec = error::too_many_chunk_streams;
        return no_stream;
    }
    streams_.emplace_back().chunk_stream_id = chunk_stream_id;
    if (chunk_stream_id < low_index_.size())
        low_index_[chunk_stream_id] = static_cast<std::uint32_t>(streams_.size());
    return streams_.size() - 1;
}

// Reads one chunk header (spec 5.3.1) from the front of `in` without changing any state.
chunk_decoder::parse_status chunk_decoder::parse_header(std::span<const std::uint8_t> in,
                                                        chunk_header& h, error_code& ec) const {
    byte_reader r(in);

    // Basic header (5.3.1.1): ids 2-63 in one octet; 0 means 64 + one octet; 1 means 64 + a
    // little-endian 16-bit value.
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return parse_status::need_more;
    h.format = static_cast<std::uint8_t>(first >> 6);
    const std::uint8_t low = first & 0x3F;
    if (low == 0) {
        std::uint8_t id = 0;
        if (!r.read_u8(id)) return parse_status::need_more;
        h.chunk_stream_id = 64u + id;
    } else if (low == 1) {
        std::uint16_t id = 0;
        if (!r.read_u16le(id)) return parse_status::need_more;
        h.chunk_stream_id = 64u + id;
    } else {
        h.chunk_stream_id = low;
    }

    h.stream = find_stream(h.chunk_stream_id);
    if (h.format != 0 && h.stream == no_stream) {
        // Formats 1-3 inherit fields from an earlier header that never came.
        ec = error::chunk_unknown_stream;
        return parse_status::failed;
    }

    if (h.format <= 2) {
        // Message header (5.3.1.2.1-3): timestamp or delta; length and type; stream id (LE).
        if (!r.read_u24be(h.timestamp_field)) return parse_status::need_more;
        if (h.format <= 1) {
            if (!r.read_u24be(h.message_length) || !r.read_u8(h.message_type_id))
                return parse_status::need_more;
            if (h.format == 0 && !r.read_u32le(h.message_stream_id)) return parse_status::need_more;
        }
        if (h.timestamp_field == extended_marker) {
            if (!r.read_u32be(h.extended_value)) return parse_status::need_more;
            h.has_extended = true;
        }
        h.size = r.position();
        return parse_status::complete;
    }

    // Format 3. The 2012 spec (5.3.1.3) and what ffmpeg (rtmppkt.c), librtmp (RTMP_SendPacket)
    // and nginx-rtmp (play_time_fix, on by default) write: the extended timestamp follows every
    // format-3 header when the latest format 0-2 header of the chunk stream announced one. Older
    // peers (the 2009 spec's reading, some Flash-era servers; nginx-rtmp with play_time_fix off)
    // leave it out. The first time it matters on a continuation chunk whose payload has at least
    // four octets, the next four octets are compared with the extended timestamp of the message's
    // first chunk, which every writer above repeats unchanged: equal means the peer writes the
    // field, different means those octets are payload. The answer holds for the rest of the
    // connection. Before that, and where four payload octets are not guaranteed, the field is
    // taken as present, as the current spec says.
    const auto& s = streams_[h.stream];
    if (s.extended) {
        bool read_field = type3_extended_ != type3_extended::absent;
        if (type3_extended_ == type3_extended::unknown && s.in_progress) {
            const auto left = s.message_length - s.received;
            if (std::min(chunk_size_, left) >= 4) {
                std::uint32_t peeked = 0;
                byte_reader peek(r.rest());
                if (!peek.read_u32be(peeked)) return parse_status::need_more;
                read_field = peeked == s.extended_value;
                h.learned = read_field ? type3_extended::present : type3_extended::absent;
            }
        }
        if (read_field) {
            if (!r.read_u32be(h.extended_value)) return parse_status::need_more;
            h.has_extended = true;
        }
    }
    h.size = r.position();
    return parse_status::complete;
}

// Applies a parsed header to its chunk stream and sets up the chunk's payload.
void chunk_decoder::start_chunk(const chunk_header& h, std::vector<message>& out, error_code& ec) {
    auto index = h.stream;
    if (index == no_stream) {
        index = add_stream(h.chunk_stream_id, ec);
        if (ec) return;
    }
    auto& s = streams_[index];
    if (h.learned != type3_extended::unknown) type3_extended_ = h.learned;

    if (s.in_progress) {
        // A header in the middle of a message. Format 3 is the normal case. A format 0-2 header
        // here is out of spec; like ffmpeg, keep the message's fields from its first chunk, but
        // refuse a different length (nginx-rtmp would adopt it and mis-frame the rest), and take
        // the extended-timestamp announcement for the format-3 chunks that follow.
        if (h.format <= 1 && h.message_length != s.message_length) {
            ec = error::message_length_changed;
            return;
        }
        if (h.format <= 2) {
            s.extended = h.has_extended;
            if (h.has_extended) s.extended_value = h.extended_value;
        }
    } else {
        // The first chunk of a message. Format 0 carries the absolute timestamp, 1 and 2 a delta;
        // format 3 repeats the previous delta (5.3.1.2.4). As ffmpeg, librtmp and SRS read it, the
        // delta a format 3 repeats after a format 0 is the format 0's timestamp field; our
        // encoder never relies on that (it sends format 2 after a format 0).
        std::uint32_t field = h.has_extended ? h.extended_value : h.timestamp_field;
        switch (h.format) {
            case 0:
                s.message_length = h.message_length;
                s.message_type_id = h.message_type_id;
                s.message_stream_id = h.message_stream_id;
                s.timestamp = field;
                s.timestamp_delta = field;
                break;
            case 1:
                s.message_length = h.message_length;
                s.message_type_id = h.message_type_id;
                [[fallthrough]];
            case 2:
                s.timestamp_delta = field;
                s.timestamp += field;  // wraps at 2^32 like the timestamps themselves
                break;
            default:
                if (!h.has_extended) field = s.timestamp_delta;
                s.timestamp_delta = field;
                s.timestamp += field;
                break;
        }
        if (h.format <= 2) s.extended = h.has_extended;
        if (h.has_extended) s.extended_value = h.extended_value;

        if (s.message_length > limits_.max_message_length) {
            ec = error::message_too_long;
            return;
        }
        if (s.message_length == 0) {
            complete_message(s, out, ec);
            return;
        }
        if (in_progress_ >= limits_.max_chunk_streams) {
            ec = error::too_many_chunk_streams;
            return;
        }
        begin_message(s);
    }

    current_ = index;
    payload_left_ = std::min(chunk_size_, s.message_length - s.received);
}

// Each chunk's payload is copied straight into the message's block (one block, reference count
// included). A small message gets its whole length at once; a large one starts at first_capacity
// and make_room grows it, so that a peer announcing long messages and sending little of them
// holds little: a block is at most twice what arrived, or first_capacity.
void chunk_decoder::begin_message(stream_state& s) {
    s.capacity = std::min(s.message_length, first_capacity);
    s.payload = shared_bytes::allocate(s.capacity, s.fill);
    s.received = 0;
    s.in_progress = true;
    ++in_progress_;
}

// Copies whole format-3 chunks of streams_[index]'s message from the front of `in`, each starting
// with the header octet `header`, until the message is complete, a chunk is cut by the end of
// `in`, or another header comes. Returns the octets used. When the message completes it is left
// for the caller to deliver (in_progress is false, payload_left_ 0); a cut chunk is left whole
// for the general path.
std::size_t chunk_decoder::continue_message(std::span<const std::uint8_t> in, std::size_t index,
                                            std::uint8_t header, error_code& ec) {
    auto& s = streams_[index];
    byte_reader r(in);
    std::size_t used = 0;
    std::uint8_t next = 0;
    while (r.peek_u8(next) && next == header) {
        r.skip(1);
        const auto left = s.message_length - s.received;
        std::span<const std::uint8_t> chunk;
        if (!r.read_bytes(std::min(chunk_size_, left), chunk) || !make_room(s, chunk.size(), ec))
            break;
        std::memcpy(s.fill + s.received, chunk.data(), chunk.size());
        s.received += static_cast<std::uint32_t>(chunk.size());
        used = r.position();
        if (chunk.size() == left) {
            s.in_progress = false;
            --in_progress_;
            break;
        }
    }
    return used;
}

// Counts `n` more octets of s's message against the bounds (the decoder's own, then the shared
// budget, which is asked only when the count passes a multiple of partial_step), and grows its
// block to hold them: to twice its size, or to what is needed if more, at most message_length.
// Doubling copies each octet of a large message about once more, and only above first_capacity.
bool chunk_decoder::make_room(stream_state& s, std::size_t n, error_code& ec) {
    if (n > limits_.max_partial_bytes - partial_bytes_) {
        ec = error::partial_bytes_over_limit;
        return false;
    }
    const auto now = partial_bytes_ + n;
    if (shared_ != nullptr && now > taken_) {
        const auto want = round_up_to_step(now);
        if (!shared_->try_take(want - taken_)) {
            ec = error::partial_bytes_over_budget;
            return false;
        }
        taken_ = want;
    }
    partial_bytes_ = now;
    const auto needed = s.received + n;
    if (needed > s.capacity) {
        const auto capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(
            s.message_length, std::max<std::uint64_t>(needed, std::uint64_t{s.capacity} * 2)));
        std::uint8_t* fill = nullptr;
        auto bigger = shared_bytes::allocate(capacity, fill);
        if (s.received != 0) std::memcpy(fill, s.fill, s.received);
        s.payload = std::move(bigger);
        s.fill = fill;
        s.capacity = capacity;
    }
    return true;
}

// Takes s's octets out of the count when its message completes or is dropped (its payload has
// gone already), and gives the shared budget back what the count no longer needs.
void chunk_decoder::release(stream_state& s) noexcept {
    partial_bytes_ -= s.received;
    s.fill = nullptr;
    s.received = 0;
    s.capacity = 0;
    if (shared_ == nullptr) return;
    const auto keep = round_up_to_step(partial_bytes_);
    if (taken_ > keep) {
        shared_->give_back(taken_ - keep);
        taken_ = keep;
    }
}

void chunk_decoder::append_payload(std::span<const std::uint8_t> bytes, std::vector<message>& out,
                                   error_code& ec) {
    auto& s = streams_[current_];
    if (!make_room(s, bytes.size(), ec)) return;
    if (!bytes.empty()) std::memcpy(s.fill + s.received, bytes.data(), bytes.size());
    s.received += static_cast<std::uint32_t>(bytes.size());
    payload_left_ -= static_cast<std::uint32_t>(bytes.size());
    if (payload_left_ == 0 && s.received == s.message_length) {
        s.in_progress = false;
        --in_progress_;
        complete_message(s, out, ec);
    }
}

void chunk_decoder::complete_message(stream_state& s, std::vector<message>& out, error_code& ec) {
    auto& m = out.emplace_back();
    m.chunk_stream_id = s.chunk_stream_id;
    m.timestamp = s.timestamp;
    m.message_type_id = s.message_type_id;
    m.message_stream_id = s.message_stream_id;
    m.payload = std::move(s.payload);
    s.payload = {};
    release(s);
    if (m.message_type_id == static_cast<std::uint8_t>(message_type::set_chunk_size) ||
        m.message_type_id == static_cast<std::uint8_t>(message_type::abort))
        apply_control(m, ec);
}

// Set Chunk Size and Abort act on the decoder itself (spec 5.4.1, 5.4.2). They are honoured on
// whatever chunk stream and message stream they arrive: the spec asks for chunk stream 2 and
// message stream 0, but a peer that uses another has still changed its chunking, and ignoring it
// would mis-frame everything after.
void chunk_decoder::apply_control(const message& m, error_code& ec) {
    const auto parsed = parse_control(m);
    if (!parsed) {
        ec = parsed.error();
        return;
    }
    if (parsed->type == message_type::set_chunk_size) {
        if (parsed->value > limits_.max_chunk_size) {
            ec = error::chunk_size_too_large;
            return;
        }
        chunk_size_ = parsed->value;
        return;
    }
    const auto index = find_stream(parsed->value);
    if (index == no_stream) return;
    auto& s = streams_[index];
    if (!s.in_progress) return;
    s.payload = {};  // releases the allocation too
    release(s);
    s.in_progress = false;
    --in_progress_;
}

}  // namespace rtmpgate::protocol
