#include "gateway/backend/command_guard.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/byte_reader.hpp"
#include "protocol/command.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::backend {

namespace {

using protocol::message_type;

// Spec 5.3.1.3: a 24-bit timestamp field of 0xFFFFFF announces the 4-octet extended field.
constexpr std::uint32_t extended_marker = 0xFFFFFF;
// An aggregate's sub-message header (FLV tag header): type 1, length 3, timestamp 4, stream 3.
constexpr std::uint8_t sub_header_size = 11;

constexpr std::uint8_t type_of(message_type t) { return static_cast<std::uint8_t>(t); }

// The types nginx-rtmp hands to its AMF command table (ngx_rtmp_init_event_handlers).
bool is_amf(std::uint8_t type) {
    switch (static_cast<message_type>(type)) {
        case message_type::command_amf0:
        case message_type::command_amf3:
        case message_type::data_amf0:
        case message_type::data_amf3:
        case message_type::shared_object_amf0:
        case message_type::shared_object_amf3:
            return true;
        default:
            return false;
    }
}

bool is_command(std::uint8_t type) {
    return type == type_of(message_type::command_amf0) ||
           type == type_of(message_type::command_amf3);
}

// The name an AMF message is dispatched by, as nginx-rtmp finds it (ngx_rtmp_amf_message_handler):
// after the AMF3 types' format octet; typeless (a 16-bit length) for shared objects, else an
// AMF0 string or long string; cut at its first NUL (it is copied into a C string) and lowercased
// (the command hash is looked up with ngx_hash_strlow). Empty when it cannot be read.
std::optional<std::string> dispatch_name(std::uint8_t type, std::span<const std::uint8_t> payload) {
    protocol::byte_reader r(payload);
    if (type == type_of(message_type::command_amf3) || type == type_of(message_type::data_amf3) ||
        type == type_of(message_type::shared_object_amf3))
        r.skip(1);
    std::uint32_t length = 0;
    if (type == type_of(message_type::shared_object_amf0) ||
        type == type_of(message_type::shared_object_amf3)) {
        std::uint16_t n = 0;
        if (!r.read_u16be(n)) return std::nullopt;
        length = n;
    } else {
        std::uint8_t marker = 0;
        if (!r.read_u8(marker)) return std::nullopt;
        if (marker == 0x02) {  // AMF0 string
            std::uint16_t n = 0;
            if (!r.read_u16be(n)) return std::nullopt;
            length = n;
        } else if (marker == 0x0C) {  // AMF0 long string
            if (!r.read_u32be(length)) return std::nullopt;
        } else {
            return std::nullopt;
        }
    }
    std::span<const std::uint8_t> bytes;
    if (!r.read_bytes(length, bytes)) return std::nullopt;
    std::string name;
    for (const auto c : bytes) {
        if (c == 0) break;
        name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                            : static_cast<char>(c));
    }
    return name;
}

}  // namespace

command_guard::stream* command_guard::find(std::uint32_t chunk_stream_id) {
    for (auto& s : streams_)
        if (s.chunk_stream_id == chunk_stream_id) return &s;
    return nullptr;
}

void command_guard::fail(std::string why) {
    if (failure_.empty()) failure_ = std::move(why);
}

std::uint64_t command_guard::forwardable() const noexcept {
    auto limit = offset_ - header_length_;  // a header cut by the end of a feed may start one
    if (held_) limit = std::min(limit, held_at_);
    for (const auto& s : streams_)
        if (s.capturing) limit = std::min(limit, s.first_chunk_at);
    return limit;
}

void command_guard::allow() { held_.reset(); }

void command_guard::allow_renamed() {
    if (!held_) return;
    if (auto* s = find(held_->chunk_stream_id)) s->must_restart = true;
    held_.reset();
}

std::size_t command_guard::feed(std::span<const std::uint8_t> in) {
    std::size_t pos = 0;
    while (pos < in.size() && !failed() && !held_) {
        const auto rest = in.subspan(pos);
        if (payload_left_ > 0) {
            const auto n = std::min<std::size_t>(payload_left_, rest.size());
            offset_ += n;
            pos += n;
            take_payload(rest.first(n));
            continue;
        }
        std::size_t used = 0;
        parse_header(rest, used);
        pos += used;
    }
    if (!failed() && !held_ && offset_ - forwardable() > max_withheld_)
        fail("a command message stays incomplete past " + std::to_string(max_withheld_) +
             " octets");
    return pos;
}

// Reads one chunk header from the front of `in`, completing one cut by the previous feed();
// `used` is what it took of `in` (also added to offset_). A header still incomplete is kept.
command_guard::header_status command_guard::parse_header(std::span<const std::uint8_t> in,
                                                         std::size_t& used) {
    const auto old = header_length_;
    const auto take = std::min(sizeof header_ - old, in.size());
    std::memcpy(header_ + old, in.data(), take);
    const std::span<const std::uint8_t> view(header_, old + take);
    const auto header_start = offset_ - old;
    const auto need_more = [&] {
        header_length_ = old + take;
        used = take;
        offset_ += take;
        return header_status::need_more;
    };

    protocol::byte_reader r(view);
    std::uint8_t first = 0;
    if (!r.read_u8(first)) return need_more();
    const unsigned format = first >> 6;
    std::uint32_t id = first & 0x3Fu;
    if (id == 0) {
        std::uint8_t b = 0;
        if (!r.read_u8(b)) return need_more();
        id = 64u + b;
    } else if (id == 1) {
        std::uint16_t v = 0;
        if (!r.read_u16le(v)) return need_more();
        id = 64u + v;
    }
    stream* known = find(id);
    if (!known && format != 0) {
        fail("a format " + std::to_string(format) + " chunk on chunk stream " + std::to_string(id) +
             " never started");
        return header_status::failed;
    }
    if (!known && streams_.size() >= max_chunk_streams) {
        fail("more than " + std::to_string(max_chunk_streams) + " chunk streams");
        return header_status::failed;
    }
    const bool continuing = known && known->remaining != 0;
    std::uint32_t timestamp = 0, message_length = 0, message_stream_id = 0, extended_value = 0;
    std::uint8_t message_type_id = 0;
    bool extended = known && known->extended;
    if (format <= 2) {
        if (!r.read_u24be(timestamp)) return need_more();
        if (format <= 1 && (!r.read_u24be(message_length) || !r.read_u8(message_type_id) ||
                            (format == 0 && !r.read_u32le(message_stream_id))))
            return need_more();
        extended = timestamp == extended_marker;
        if (extended && !r.read_u32be(extended_value)) return need_more();
        // Receivers differ on a new message header in the middle of a message (ffmpeg keeps
        // the message, nginx-rtmp adopts the new length): the framing is no longer certain.
        if (format <= 1 && continuing) {
            fail("a new message header in the middle of a message");
            return header_status::failed;
        }
    } else if (extended) {
        // As protocol/chunk_decoder and chunk_tracker: the first continuation chunk with four
        // payload octets tells whether this sender repeats the extended timestamp there.
        bool read_field = type3_extended_ != type3_extended::absent;
        if (type3_extended_ == type3_extended::unknown && continuing &&
            std::min(chunk_size_, known->remaining) >= 4) {
            std::uint32_t value = 0;
            protocol::byte_reader peek(r.rest());
            if (!peek.read_u32be(value)) return need_more();
            type3_extended_ =
                value == known->extended_value ? type3_extended::present : type3_extended::absent;
            // Absent: those four octets are payload, left for the chunk to take.
            read_field = type3_extended_ == type3_extended::present;
        }
        if (read_field && !r.read_u32be(extended_value)) return need_more();
        if (!read_field) extended = false;  // no field on this chunk: the delta repeats
    }
    const auto size = r.position();
    // The octets of header_ past the header: payload that an earlier feed() already counted.
    std::uint8_t leftover[sizeof header_];
    std::size_t leftover_length = 0;
    if (size >= old) {
        used = size - old;
    } else {
        used = 0;
        leftover_length = old - size;
        std::memcpy(leftover, header_ + size, leftover_length);
    }
    offset_ += used;
    header_length_ = 0;

    if (known && known->must_restart) {
        if (format >= 2) {
            fail("a format " + std::to_string(format) + " header after a renamed command");
            return header_status::failed;
        }
        known->must_restart = false;
    }
    if (captured_ != 0)
        for (auto& other : streams_)
            if (other.capturing && other.chunk_stream_id != id) other.interleaved = true;
    if (!known) {
        known = &streams_.emplace_back();
        known->chunk_stream_id = id;
    }
    auto& s = *known;
    if (!continuing) {
        // As protocol/chunk_decoder: format 0 carries the absolute timestamp, 1 and 2 a delta,
        // format 3 repeats the previous delta (or brings an extended one).
        const auto field = extended ? extended_value : timestamp;
        if (format == 0) {
            s.timestamp = field;
            s.timestamp_delta = field;
        } else if (format <= 2 || extended) {
            s.timestamp_delta = field;
            s.timestamp += field;
        } else {
            s.timestamp += s.timestamp_delta;
        }
    }
    if (format <= 1) {
        s.message_length = message_length;
        s.message_type_id = message_type_id;
    }
    if (format == 0) s.message_stream_id = message_stream_id;
    if (format <= 2) {
        s.extended = extended;
        if (extended) s.extended_value = extended_value;
    }
    current_ = static_cast<std::size_t>(&s - streams_.data());
    if (!continuing) {
        s.remaining = s.message_length;
        s.first_chunk_at = header_start;
        s.prefix_length = 0;
        s.sub_header_length = 0;
        s.sub_length = 0;
        s.sub_skip = 0;
        if (is_amf(s.message_type_id)) {
            if (s.message_length > max_command_bytes - captured_) {
                fail("a message of type " + std::to_string(s.message_type_id) + " of " +
                     std::to_string(s.message_length) + " octets (at most " +
                     std::to_string(max_command_bytes) + " in progress)");
                return header_status::failed;
            }
            captured_ += s.message_length;
            s.capturing = true;
            s.interleaved = false;
            s.payload.clear();
            s.payload.reserve(s.message_length);
        }
    }
    payload_left_ = std::min(chunk_size_, s.remaining);
    if (s.remaining == 0) {
        end_message(s);
        return header_status::complete;
    }
    if (leftover_length != 0) take_payload({leftover, leftover_length});
    return header_status::complete;
}

void command_guard::take_payload(std::span<const std::uint8_t> bytes) {
    auto& s = streams_[current_];
    if (s.capturing) {
        s.payload.insert(s.payload.end(), bytes.begin(), bytes.end());
    } else if (s.message_type_id == type_of(message_type::aggregate)) {
        scan_aggregate(s, bytes);
    } else {
        for (std::size_t i = 0; i < bytes.size() && s.prefix_length < 4; ++i)
            s.prefix[s.prefix_length++] = bytes[i];
    }
    const auto n = static_cast<std::uint32_t>(bytes.size());
    s.remaining -= n;
    payload_left_ -= n;
    if (s.remaining == 0) end_message(s);
}

// nginx-rtmp dispatches every sub-message of an aggregate as if it had come on its own
// (ngx_rtmp_aggregate_message_handler), commands and Set Chunk Size included. Only audio and
// video may ride in one here; the sub-messages' bodies are skipped, never kept.
void command_guard::scan_aggregate(stream& s, std::span<const std::uint8_t> bytes) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        if (s.sub_skip > 0) {
            const auto n = std::min<std::uint64_t>(s.sub_skip, bytes.size() - i);
            s.sub_skip -= n;
            i += static_cast<std::size_t>(n);
            continue;
        }
        const auto b = bytes[i++];
        if (s.sub_header_length == 0)
            s.sub_type = b;
        else if (s.sub_header_length <= 3)
            s.sub_length = (s.sub_length << 8) | b;
        if (++s.sub_header_length < sub_header_size) continue;
        if (s.sub_type != type_of(message_type::audio) &&
            s.sub_type != type_of(message_type::video)) {
            fail("an aggregate message carrying a message of type " + std::to_string(s.sub_type));
            return;
        }
        s.sub_skip = std::uint64_t{s.sub_length} + 4;  // the body, then its back pointer
        s.sub_header_length = 0;
        s.sub_length = 0;
    }
}

void command_guard::end_message(stream& s) {
    if (s.capturing) {
        inspect(s);
        captured_ -= s.message_length;
        s.capturing = false;
        std::vector<std::uint8_t>().swap(s.payload);
        return;
    }
    if (s.prefix_length < 4) return;  // nginx-rtmp ignores a shorter control message too
    std::uint32_t value = 0;
    protocol::byte_reader(std::span<const std::uint8_t>(s.prefix, 4)).read_u32be(value);
    if (s.message_type_id == type_of(message_type::set_chunk_size)) {
        // Spec 5.4.1: the top bit is zero. Receivers that mask it and receivers that do not
        // would frame what follows differently.
        if (value == 0 || value > 0x7FFFFFFFu) {
            fail("Set Chunk Size " + std::to_string(value));
            return;
        }
        chunk_size_ = value;
    } else if (s.message_type_id == type_of(message_type::abort)) {
        // Spec 5.4.2 says to drop the partly received message; not every receiver does
        // (nginx-rtmp ignores Abort). Aborting a message in progress would let the two sides
        // frame the rest differently; aborting nothing changes nothing.
        if (const auto* aborted = find(value); aborted && aborted->remaining != 0)
            fail("Abort of a message in progress");
    }
}

// A complete message of an AMF type: what a backend would make of it.
void command_guard::inspect(stream& s) {
    const auto name = dispatch_name(s.message_type_id, s.payload);
    const bool command = is_command(s.message_type_id);
    if (!name) {
        if (command) fail("a command whose name cannot be read");
        return;
    }
    if (*name == "connect") {
        // The first is the one the gateway decoded to pick this route; another would move the
        // backend connection to an application the route table never saw.
        if (connected_ || !command) fail("a second connect");
        connected_ = true;
        return;
    }
    if (*name != "publish" && *name != "play" && *name != "play2") return;
    if (!command) {
        fail("\"" + *name + "\" in a message of type " + std::to_string(s.message_type_id));
        return;
    }
    protocol::message m;
    m.chunk_stream_id = s.chunk_stream_id;
    m.message_type_id = s.message_type_id;
    m.message_stream_id = s.message_stream_id;
    m.payload = protocol::shared_bytes(std::span<const std::uint8_t>(s.payload));
    auto parsed = protocol::parse_command(m);
    if (!parsed) {
        fail("an unreadable " + *name + " command");
        return;
    }
    held_request h;
    h.command = *name;
    h.message_stream_id = s.message_stream_id;
    h.chunk_stream_id = s.chunk_stream_id;
    if (*name == "publish") {
        const auto p = protocol::parse_publish(*parsed);
        if (!p) return fail("an unreadable publish command");
        h.what = access::action::publish;
        h.stream = p->name;
        h.transaction_id = p->transaction_id;
    } else if (*name == "play") {
        const auto p = protocol::parse_play(*parsed);
        if (!p) return fail("an unreadable play command");
        h.what = access::action::play;
        h.stream = p->name;
        h.transaction_id = p->transaction_id;
    } else {
        const auto p = protocol::parse_play2(*parsed);
        if (!p) return fail("an unreadable play2 command");
        h.what = access::action::play;
        h.stream = p->stream_name;
        h.transaction_id = p->transaction_id;
    }
    h.timestamp = s.timestamp;
    h.contiguous = !s.interleaved;
    h.parsed = std::move(*parsed);
    held_ = std::move(h);
    held_at_ = s.first_chunk_at;
    held_end_ = offset_;
}

}  // namespace rtmpgate::gateway::backend
