#include "protocol/amf3.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/amf3_marker.hpp"
#include "protocol/amf_decode_context.hpp"

namespace rtmpgate::protocol::amf3 {
namespace {

using branch = amf_decode_context::branch;

// §3.6: the U29 holds a two's-complement 29-bit integer.
std::int32_t to_signed(std::uint32_t u29) {
    const auto v = static_cast<std::int32_t>(u29);
    return v <= integer_max ? v : v - static_cast<std::int32_t>(u29_max) - 1;
}

// What an object's traits say (§3.12), as the traits table keeps them. The names are views into
// the input, which outlives the decode call.
struct traits {
    std::string_view class_name;
    bool dynamic = false;
    std::vector<std::string_view> sealed_members;
};

class decoder : public amf_decoder_base<decoder> {
public:
    using amf_decoder_base::amf_decoder_base;

    // The value whose type marker `m` amf_decoder_base::value has just read.
    bool value_after_marker(std::uint8_t m, amf_value& out) {
        switch (m) {
            case undefined_marker:
                out.kind = amf_kind::undefined;
                return true;
            case null_marker:
                out.kind = amf_kind::null;
                return true;
            case false_marker:
            case true_marker:
                out.kind = amf_kind::boolean;
                out.boolean = m == true_marker;
                return true;
            case integer_marker: {
                std::uint32_t u = 0;
                out.kind = amf_kind::integer;
                if (!need(in_.read_u29(u))) return false;
                out.integer = to_signed(u);
                return true;
            }
            case double_marker:
                out.kind = amf_kind::number;
                return need(in_.read_double(out.number));
            case string_marker:
                out.kind = amf_kind::string;
                return string(out.string);
            case xml_document_marker:
                return byte_leaf(out, amf_kind::xml_document);
            case xml_marker:
                return byte_leaf(out, amf_kind::xml);
            case byte_array_marker:
                return byte_leaf(out, amf_kind::byte_array);
            case date_marker:
                return date(out);
            case array_marker:
                return array(out);
            case object_marker:
                return object(out);
            case vector_int_marker:
            case vector_uint_marker:
            case vector_double_marker:
                return number_vector(out, m);
            case vector_object_marker:
                return object_vector(out);
            case dictionary_marker:
                return dictionary(out);
            default:
                return fail(error::amf_unknown_marker);
        }
    }

private:
    enum class header { failed, reference, inline_value };

    // Every type that takes an object table entry starts with a U29 whose low bit says whether
    // the value follows inline (1) or is a reference to the table (0), §3.1 "U29O-ref". A
    // reference replaces `out` with a copy of the entry; inline, `bits` is the rest of the U29.
    header object_header(amf_value& out, std::uint32_t& bits) {
        std::uint32_t u = 0;
        if (!need(in_.read_u29(u))) return header::failed;
        bits = u >> 1;
        if ((u & 1u) != 0) return header::inline_value;
        return ctx_.copy_reference(bits, out, ec_) ? header::reference : header::failed;
    }

    // UTF-8-vr (§1.3.2): an inline string (low bit 1, length above it) or a reference to the
    // string table (low bit 0). The empty string is never added to the table nor sent by
    // reference. Class names, member names and keys share the table with string values.
    bool string_view(std::string_view& out) {
        std::uint32_t u = 0;
        if (!need(in_.read_u29(u))) return false;
        const std::size_t n = u >> 1;
        if ((u & 1u) == 0) {
            if (n >= strings_.size()) return fail(error::amf_bad_reference);
            out = strings_[n];
            return true;
        }
        if (n > ctx_.limits().max_string_length) return fail(error::amf_string_too_long);
        if (!need(in_.read_string(n, out))) return false;
        if (!out.empty()) strings_.push_back(out);
        return true;
    }

    // A string the result keeps: counted against the memory bound before it is copied, each
    // time a reference copies it again.
    bool keep(std::string_view s, std::string& out) {
        if (!ctx_.charge(s.size(), ec_)) return false;
        out.assign(s);
        return true;
    }

    bool string(std::string& out) {
        std::string_view s;
        return string_view(s) && keep(s, out);
    }

    // XMLDocument, XML and ByteArray (§3.9, 3.13, 3.14): a U29 length and that many bytes,
    // not in the string table but in the object table.
    bool byte_leaf(amf_value& out, amf_kind kind) {
        std::uint32_t length = 0;
        if (const auto h = object_header(out, length); h != header::inline_value)
            return h == header::reference;
        out.kind = kind;
        if (length > ctx_.limits().max_string_length) return fail(error::amf_string_too_long);
        std::string_view bytes;
        if (!need(in_.read_string(length, bytes)) || !keep(bytes, out.string)) return false;
        ctx_.add_leaf();
        return true;
    }

    // §3.10: the U29's remaining bits are unused; milliseconds since the epoch follow, with no
    // time zone (AMF0's is left 0).
    bool date(amf_value& out) {
        std::uint32_t unused = 0;
        if (const auto h = object_header(out, unused); h != header::inline_value)
            return h == header::reference;
        out.kind = amf_kind::date;
        if (!need(in_.read_double(out.number))) return false;
        ctx_.add_leaf();
        return true;
    }

    // Dynamic members of an object and the associative part of an array: (UTF-8-vr name, value)
    // pairs ended by the empty string. `reserved` elements of the container are already counted.
    bool named_values(amf_value& out, std::size_t reserved) {
        for (;;) {
            std::string_view name;
            if (!string_view(name)) return false;
            if (name.empty()) return true;
            if (out.properties.size() + reserved >= ctx_.limits().max_elements)
                return fail(error::amf_too_many_elements);
            std::string key;
            if (!keep(name, key)) return false;
            out.properties.emplace_back(std::move(key), amf_value{});
            ctx_.at_child(branch::property, out.properties.size() - 1);
            if (!value(out.properties.back().second)) return false;
        }
    }

    // §3.11: the dense count, the associative part, then the dense values. Both parts count
    // toward max_elements together.
    bool array(amf_value& out) {
        std::uint32_t dense_count = 0;
        if (const auto h = object_header(out, dense_count); h != header::inline_value)
            return h == header::reference;
        out.kind = amf_kind::strict_array;
        if (!ctx_.open_container(ec_)) return false;
        if (dense_count > ctx_.limits().max_elements) return fail(error::amf_too_many_elements);
        if (!named_values(out, dense_count)) return false;
        // Every value takes at least its marker byte: a count beyond the input is truncation,
        // found before anything is allocated for it.
        if (dense_count > in_.remaining()) return fail(error::truncated);
        for (std::uint32_t i = 0; i < dense_count; ++i) {
            out.elements.emplace_back();
            ctx_.at_child(branch::element, i);
            if (!value(out.elements.back())) return false;
        }
        ctx_.close_container();
        return true;
    }

    // §3.12: inline traits are added to the traits table as soon as they are read, so the
    // object's own members may already refer to them. Externalizable traits announce bytes
    // only the class itself can parse (flex.messaging.io.ArrayCollection and the like): their
    // length is unknowable here, so they are refused.
    bool read_traits(std::uint32_t bits, std::size_t& index) {
        if ((bits & traits_inline_bit) == 0) {
            index = bits >> 1;
            return index < traits_.size() || fail(error::amf_bad_reference);
        }
        if ((bits & traits_externalizable_bit) != 0) return fail(error::amf_unsupported);
        traits t;
        t.dynamic = (bits & traits_dynamic_bit) != 0;
        const std::size_t count = bits >> traits_count_shift;
        if (count > ctx_.limits().max_elements) return fail(error::amf_too_many_elements);
        if (!string_view(t.class_name)) return false;
        // Every name takes at least one byte.
        if (count > in_.remaining()) return fail(error::truncated);
        t.sealed_members.resize(count);
        for (auto& name : t.sealed_members)
            if (!string_view(name)) return false;
        traits_.push_back(std::move(t));
        index = traits_.size() - 1;
        return true;
    }

    // §3.12: traits, the sealed members' values in the traits' order, then, if dynamic,
    // name/value pairs. Sealed members land first in `properties`, under their names.
    bool object(amf_value& out) {
        std::uint32_t bits = 0;
        if (const auto h = object_header(out, bits); h != header::inline_value)
            return h == header::reference;
        out.kind = amf_kind::object;
        if (!ctx_.open_container(ec_)) return false;
        std::size_t index = 0;
        if (!read_traits(bits, index)) return false;
        // Everything is copied out of the entry before the members are decoded: they may grow
        // the table and move it.
        const traits& t = traits_[index];
        out.kind = t.class_name.empty() ? amf_kind::object : amf_kind::typed_object;
        out.dynamic = t.dynamic;
        if (!keep(t.class_name, out.class_name)) return false;
        for (const auto name : t.sealed_members)
            if (!keep(name, out.sealed_members.emplace_back())) return false;
        for (std::size_t i = 0; i < out.sealed_members.size(); ++i) {
            std::string key;
            if (!keep(out.sealed_members[i], key)) return false;
            out.properties.emplace_back(std::move(key), amf_value{});
            ctx_.at_child(branch::property, i);
            if (!value(out.properties.back().second)) return false;
        }
        if (out.dynamic && !named_values(out, 0)) return false;
        ctx_.close_container();
        return true;
    }

    // §3.15-3.17: count, fixed flag, then fixed-size items: int and uint as 32-bit big-endian,
    // Number as a double. uint items keep their full range as numbers.
    bool number_vector(amf_value& out, std::uint8_t m) {
        std::uint32_t count = 0;
        if (const auto h = object_header(out, count); h != header::inline_value)
            return h == header::reference;
        out.kind = m == vector_int_marker    ? amf_kind::vector_int
                   : m == vector_uint_marker ? amf_kind::vector_uint
                                             : amf_kind::vector_double;
        if (!ctx_.open_container(ec_) || !fixed_flag(out.fixed)) return false;
        if (count > ctx_.limits().max_elements) return fail(error::amf_too_many_elements);
        const std::size_t item_size = m == vector_double_marker ? 8 : 4;
        if (count > in_.remaining() / item_size) return fail(error::truncated);
        if (!ctx_.charge(count * amf_decode_context::node_bytes, ec_)) return false;
        out.elements.resize(count);
        // The reads below cannot fail: the items' size was checked against the input above.
        for (auto& item : out.elements) {
            if (m == vector_double_marker) {
                item.kind = amf_kind::number;
                in_.read_double(item.number);
                continue;
            }
            std::uint32_t u = 0;
            in_.read_u32be(u);
            if (m == vector_int_marker) {
                item.kind = amf_kind::integer;
                item.integer = static_cast<std::int32_t>(u);
            } else {
                item.kind = amf_kind::number;
                item.number = u;
            }
        }
        ctx_.close_container();
        return true;
    }

    // §3.18: count, fixed flag, the element type name, then values.
    bool object_vector(amf_value& out) {
        std::uint32_t count = 0;
        if (const auto h = object_header(out, count); h != header::inline_value)
            return h == header::reference;
        out.kind = amf_kind::vector_object;
        if (!ctx_.open_container(ec_) || !fixed_flag(out.fixed) || !string(out.class_name))
            return false;
        return ctx_.elements(count, in_.remaining(), out.elements, ec_,
                             [this](amf_value& v) { return value(v); });
    }

    // §3.19: count, weak-keys flag, then key/value pairs whose keys are any value.
    bool dictionary(amf_value& out) {
        std::uint32_t count = 0;
        if (const auto h = object_header(out, count); h != header::inline_value)
            return h == header::reference;
        out.kind = amf_kind::dictionary;
        if (!ctx_.open_container(ec_) || !fixed_flag(out.weak_keys)) return false;
        if (count > ctx_.limits().max_elements) return fail(error::amf_too_many_elements);
        // Every entry takes at least two marker bytes.
        if (count > in_.remaining() / 2) return fail(error::truncated);
        for (std::uint32_t i = 0; i < count; ++i) {
            out.entries.emplace_back(amf_value{}, amf_value{});
            ctx_.at_child(branch::entry_key, i);
            if (!value(out.entries.back().first)) return false;
            ctx_.at_child(branch::entry_value, i);
            if (!value(out.entries.back().second)) return false;
        }
        ctx_.close_container();
        return true;
    }

    // The U8 after a vector's or dictionary's count: any non-zero octet is true.
    bool fixed_flag(bool& out) {
        std::uint8_t b = 0;
        if (!need(in_.read_u8(b))) return false;
        out = b != 0;
        return true;
    }

    std::vector<std::string_view> strings_;
    std::vector<traits> traits_;
};

}  // namespace

result<amf_value> decode(byte_reader& in, const amf_limits& limits) {
    std::vector<amf_value> roots(1);
    amf_decode_context ctx(roots, limits);
    ctx.at_root(0);
    error_code ec;
    decoder d(in, ctx, ec);
    if (!d.value(roots.front())) return ec;
    return std::move(roots.front());
}

}  // namespace rtmpgate::protocol::amf3
