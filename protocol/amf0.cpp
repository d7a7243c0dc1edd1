#include "protocol/amf0.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/amf0_marker.hpp"
#include "protocol/amf3.hpp"
#include "protocol/amf3_marker.hpp"
#include "protocol/amf_decode_context.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol::amf0 {
namespace {

constexpr std::size_t u16_max = 0xFFFF;

using branch = amf_decode_context::branch;

class decoder : public amf_decoder_base<decoder> {
public:
    using amf_decoder_base::amf_decoder_base;

    // The value whose type marker `m` amf_decoder_base::value has just read.
    bool value_after_marker(std::uint8_t m, amf_value& out) {
        switch (m) {
            case number_marker:
                out.kind = amf_kind::number;
                return need(in_.read_double(out.number));
            case boolean_marker: {
                std::uint8_t b = 0;
                out.kind = amf_kind::boolean;
                if (!need(in_.read_u8(b))) return false;
                out.boolean = b != 0;
                return true;
            }
            case string_marker: {
                std::uint16_t length = 0;
                out.kind = amf_kind::string;
                return need(in_.read_u16be(length)) && text(length, out.string);
            }
            case long_string_marker:
            case xml_document_marker: {
                std::uint32_t length = 0;
                out.kind = m == long_string_marker ? amf_kind::string : amf_kind::xml_document;
                return need(in_.read_u32be(length)) && text(length, out.string);
            }
            case object_marker:
                out.kind = amf_kind::object;
                return object_like(out, false);
            case typed_object_marker: {
                std::uint16_t length = 0;
                out.kind = amf_kind::typed_object;
                return need(in_.read_u16be(length)) && text(length, out.class_name) &&
                       object_like(out, false);
            }
            case ecma_array_marker: {
                // §2.10: the count is advisory. FMLE and Flash write 0 (SRS issue #852), so it
                // is read and ignored; the properties end at the object-end marker.
                std::uint32_t advisory_count = 0;
                out.kind = amf_kind::ecma_array;
                return need(in_.read_u32be(advisory_count)) && object_like(out, true);
            }
            case strict_array_marker:
                out.kind = amf_kind::strict_array;
                return strict_array(out);
            case date_marker:
                // §2.13: milliseconds since the epoch, then a time zone that "should be 0".
                out.kind = amf_kind::date;
                return need(in_.read_double(out.number) && in_.read_s16be(out.timezone));
            case null_marker:
                out.kind = amf_kind::null;
                return true;
            case undefined_marker:
                out.kind = amf_kind::undefined;
                return true;
            case reference_marker: {
                std::uint16_t index = 0;
                return need(in_.read_u16be(index)) && ctx_.copy_reference(index, out, ec_);
            }
            case avmplus_marker:
                return avmplus(out);
            // §2.4, 2.14, 2.15: reserved or meaningless between peers; no RTMP client sends them.
            case movieclip_marker:
            case unsupported_marker:
            case recordset_marker:
                return fail(error::amf_unsupported);
            // A stray object-end marker is not a value either.
            case object_end_marker:
            default:
                return fail(error::amf_unknown_marker);
        }
    }

private:
    bool text(std::size_t length, std::string& out) {
        if (length > ctx_.limits().max_string_length) return fail(error::amf_string_too_long);
        std::string_view s;
        if (!need(in_.read_string(length, s)) || !ctx_.charge(length, ec_)) return false;
        out.assign(s);
        return true;
    }

    // Object, typed object and ECMA array bodies (§2.5, 2.10, 2.18): (UTF-8 key, value)* ended
    // by an empty key and the object-end marker.
    bool object_like(amf_value& out, bool end_may_be_missing) {
        if (!ctx_.open_container(ec_)) return false;
        for (;;) {
            // An ECMA array that simply stops at the end of input is accepted: lal wrote
            // onMetaData that way until 2022 (lal PR #237), and librtmp (AMF_Decode) and SRS
            // (SrsAmf0EcmaArray::read) read up to the end of the body without requiring the
            // marker. Anywhere else a missing marker is error::truncated.
            if (end_may_be_missing && in_.empty()) break;
            std::uint16_t key_length = 0;
            if (!need(in_.read_u16be(key_length))) return false;
            std::uint8_t next = 0;
            if (key_length == 0 && in_.peek_u8(next) && next == object_end_marker) {
                in_.skip(1);
                break;
            }
            if (out.properties.size() >= ctx_.limits().max_elements)
                return fail(error::amf_too_many_elements);
            std::string key;
            if (!text(key_length, key)) return false;
            out.properties.emplace_back(std::move(key), amf_value{});
            ctx_.at_child(branch::property, out.properties.size() - 1);
            if (!value(out.properties.back().second)) return false;
        }
        ctx_.close_container();
        return true;
    }

    // §2.12: a u32 count, then that many values.
    bool strict_array(amf_value& out) {
        std::uint32_t count = 0;
        if (!ctx_.open_container(ec_) || !need(in_.read_u32be(count))) return false;
        return ctx_.elements(count, in_.remaining(), out.elements, ec_,
                             [this](amf_value& v) { return value(v); });
    }

    // §3.1: the AVM+ marker switches the one value that follows to AMF3, with AMF3's own
    // reference tables. It inherits what is left of the depth and memory bounds.
    bool avmplus(amf_value& out) {
        amf_limits limits = ctx_.limits();
        limits.max_depth -= ctx_.depth();
        // The node charged above is the AMF3 decoder's root: let it count it again.
        limits.max_total_bytes = ctx_.remaining_budget() + amf_decode_context::node_bytes;
        auto decoded = amf3::decode(in_, limits);
        if (!decoded) {
            ec_ = decoded.error();
            return false;
        }
        out = std::move(*decoded);
        return ctx_.charge(amf_measure(out).bytes - amf_decode_context::node_bytes, ec_);
    }
};

// Decodes one value, or with `all` every value until `in` is empty, into `roots`, with one
// reference table and one memory budget.
result<std::vector<amf_value>> decode_roots(byte_reader& in, bool all, const amf_limits& limits) {
    std::vector<amf_value> roots;
    amf_decode_context ctx(roots, limits);
    error_code ec;
    decoder d(in, ctx, ec);
    for (std::size_t i = 0; i == 0 || (all && !in.empty()); ++i) {
        roots.emplace_back();
        ctx.at_root(i);
        if (!d.value(roots.back())) return ec;
    }
    return roots;
}

// Kinds and shapes AMF0 cannot carry go out as AVM+ and AMF3 (§3.1): AMF3-only kinds, traits
// (sealed members, non-dynamic objects), an AMF3 array's associative part, and names longer
// than a u16 length can say.
bool needs_amf3(const amf_value& v) {
    const auto long_key = [&] {
        for (const auto& [key, value] : v.properties)
            if (key.size() > u16_max) return true;
        return false;
    };
    switch (v.kind) {
        case amf_kind::integer:
            return v.integer >= amf3::integer_min && v.integer <= amf3::integer_max;
        case amf_kind::xml:
        case amf_kind::byte_array:
            return true;
        case amf_kind::typed_object:
            if (v.class_name.size() > u16_max) return true;
            [[fallthrough]];
        case amf_kind::object:
            return !v.dynamic || !v.sealed_members.empty() || long_key();
        case amf_kind::ecma_array:
            return long_key();
        case amf_kind::strict_array:
            return !v.properties.empty();
        default:
            return is_amf3_collection(v.kind);
    }
}

void write_value(byte_writer& w, const amf_value& v, std::vector<std::uint8_t>& out);

void write_short_string(byte_writer& w, std::string_view s) {
    w.u16be(static_cast<std::uint16_t>(s.size()));
    w.string(s);
}

void write_properties(byte_writer& w, const amf_value& v, std::vector<std::uint8_t>& out) {
    for (const auto& [key, value] : v.properties) {
        write_short_string(w, key);
        write_value(w, value, out);
    }
    w.u16be(0);
    w.u8(object_end_marker);
}

void write_value(byte_writer& w, const amf_value& v, std::vector<std::uint8_t>& out) {
    if (needs_amf3(v)) {
        w.u8(avmplus_marker);
        amf3::encode(v, out);
        return;
    }
    switch (v.kind) {
        case amf_kind::undefined:
            w.u8(undefined_marker);
            break;
        case amf_kind::null:
            w.u8(null_marker);
            break;
        case amf_kind::boolean:
            w.u8(boolean_marker);
            w.u8(v.boolean ? 1 : 0);
            break;
        case amf_kind::number:
            w.u8(number_marker);
            w.f64be(v.number);
            break;
        case amf_kind::integer:  // only those outside U29's range get here: a double is shorter
            w.u8(number_marker);
            w.f64be(v.integer);
            break;
        case amf_kind::string:
            if (v.string.size() <= u16_max) {
                w.u8(string_marker);
                write_short_string(w, v.string);
            } else {
                w.u8(long_string_marker);
                w.u32be(static_cast<std::uint32_t>(v.string.size()));
                w.string(v.string);
            }
            break;
        case amf_kind::xml_document:
            w.u8(xml_document_marker);
            w.u32be(static_cast<std::uint32_t>(v.string.size()));
            w.string(v.string);
            break;
        case amf_kind::date:
            w.u8(date_marker);
            w.f64be(v.number);
            w.u16be(static_cast<std::uint16_t>(v.timezone));
            break;
        case amf_kind::object:
            w.u8(object_marker);
            write_properties(w, v, out);
            break;
        case amf_kind::typed_object:
            w.u8(typed_object_marker);
            write_short_string(w, v.class_name);
            write_properties(w, v, out);
            break;
        case amf_kind::ecma_array:
            // The count is advisory (§2.10); ffmpeg writes the real one, and so do we.
            w.u8(ecma_array_marker);
            w.u32be(static_cast<std::uint32_t>(v.properties.size()));
            write_properties(w, v, out);
            break;
        case amf_kind::strict_array:
            w.u8(strict_array_marker);
            w.u32be(static_cast<std::uint32_t>(v.elements.size()));
            for (const auto& element : v.elements) write_value(w, element, out);
            break;
        default:
            break;  // the AMF3-only kinds went out above
    }
}

}  // namespace

result<amf_value> decode(byte_reader& in, const amf_limits& limits) {
    auto roots = decode_roots(in, false, limits);
    if (!roots) return roots.error();
    return std::move(roots->front());
}

result<std::vector<amf_value>> decode_all(byte_reader& in, const amf_limits& limits) {
    if (in.empty()) return std::vector<amf_value>{};
    return decode_roots(in, true, limits);
}

void encode(const amf_value& v, std::vector<std::uint8_t>& out) {
    byte_writer w(out);
    write_value(w, v, out);
}

}  // namespace rtmpgate::protocol::amf0
