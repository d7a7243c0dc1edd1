// amf3::encode: the AMF3 writer, with its string and traits reference tables.
#include <algorithm>
#include <cmath>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/amf3.hpp"
#include "protocol/amf3_marker.hpp"
#include "protocol/byte_writer.hpp"

namespace rtmpgate::protocol::amf3 {
namespace {

// UTF-8-vr of the empty string (§1.3.2): ends dynamic members and an array's associative part.
constexpr std::uint8_t empty_string = 0x01;
// The largest sealed member count and traits table index the object U29 can carry (§3.12).
constexpr std::size_t sealed_count_max = u28_max >> traits_count_shift;
constexpr std::size_t traits_index_max = u28_max >> 1;

// Traits as the encoder's table keeps them: views into the value being encoded.
struct traits_key {
    std::string_view class_name;
    bool dynamic = false;
    std::span<const std::string> sealed_members;

    friend bool operator<(const traits_key& a, const traits_key& b) {
        if (a.class_name != b.class_name) return a.class_name < b.class_name;
        if (a.dynamic != b.dynamic) return b.dynamic;
        return std::lexicographical_compare(a.sealed_members.begin(), a.sealed_members.end(),
                                            b.sealed_members.begin(), b.sealed_members.end());
    }
};

// Items of a vector that are not of the vector's own kind are converted, saturating; NaN and
// non-numbers become 0.
std::int32_t to_int32(const amf_value& item) {
    if (item.kind == amf_kind::integer) return item.integer;
    double d = 0;
    if (!item.as_number(d) || std::isnan(d)) return 0;
    return static_cast<std::int32_t>(std::clamp(d, -2147483648.0, 2147483647.0));
}
std::uint32_t to_uint32(const amf_value& item) {
    double d = 0;
    if (!item.as_number(d) || std::isnan(d)) return 0;
    return static_cast<std::uint32_t>(std::clamp(d, 0.0, 4294967295.0));
}
double to_double(const amf_value& item) {
    double d = 0;
    item.as_number(d);
    return d;
}

class encoder {
public:
    explicit encoder(std::vector<std::uint8_t>& out) noexcept : w_(out) {}

    void value(const amf_value& v) {
        switch (v.kind) {
            case amf_kind::undefined:
                w_.u8(undefined_marker);
                break;
            case amf_kind::null:
                w_.u8(null_marker);
                break;
            case amf_kind::boolean:
                w_.u8(v.boolean ? true_marker : false_marker);
                break;
            case amf_kind::integer:
                // §3.6: integers outside 29 bits are sent as doubles.
                if (v.integer >= integer_min && v.integer <= integer_max) {
                    w_.u8(integer_marker);
                    w_.u29(static_cast<std::uint32_t>(v.integer));
                } else {
                    w_.u8(double_marker);
                    w_.f64be(v.integer);
                }
                break;
            case amf_kind::number:
                w_.u8(double_marker);
                w_.f64be(v.number);
                break;
            case amf_kind::string:
                w_.u8(string_marker);
                string(v.string);
                break;
            case amf_kind::xml_document:
                byte_leaf(xml_document_marker, v.string);
                break;
            case amf_kind::xml:
                byte_leaf(xml_marker, v.string);
                break;
            case amf_kind::byte_array:
                byte_leaf(byte_array_marker, v.string);
                break;
            case amf_kind::date:
                w_.u8(date_marker);
                inline_count(0);  // §3.10: the U29's bits above the inline flag are unused
                w_.f64be(v.number);
                break;
            case amf_kind::object:
            case amf_kind::typed_object:
                object(v);
                break;
            case amf_kind::ecma_array:
            case amf_kind::strict_array:
                array(v);
                break;
            case amf_kind::vector_int:
                number_vector(v, vector_int_marker);
                break;
            case amf_kind::vector_uint:
                number_vector(v, vector_uint_marker);
                break;
            case amf_kind::vector_double:
                number_vector(v, vector_double_marker);
                break;
            case amf_kind::vector_object:
                object_vector(v);
                break;
            case amf_kind::dictionary:
                dictionary(v);
                break;
        }
    }

private:
    // The U29 of an inline value whose length or count is `n` (§3.1: low bit 1).
    void inline_count(std::size_t n) { w_.u29(static_cast<std::uint32_t>(n << 1 | 1)); }

    // UTF-8-vr (§1.3.2). A string already written is sent as a reference to the table the
    // decoder builds in the same order: every non-empty string written inline, up to the
    // largest index a reference can carry.
    void string(std::string_view s) {
        s = s.substr(0, u28_max);
        if (s.empty()) {
            w_.u8(empty_string);
            return;
        }
        if (const auto it = strings_.find(s); it != strings_.end()) {
            w_.u29(static_cast<std::uint32_t>(it->second << 1));
            return;
        }
        if (strings_.size() <= u28_max) strings_.emplace(s, strings_.size());
        inline_count(s.size());
        w_.string(s);
    }

    void byte_leaf(std::uint8_t m, std::string_view bytes) {
        bytes = bytes.substr(0, u28_max);
        w_.u8(m);
        inline_count(bytes.size());
        w_.string(bytes);
    }

    void named_values(std::span<const amf_property> properties) {
        for (const auto& [name, item] : properties) {
            if (name.empty()) continue;  // the empty name ends the list: it cannot be sent
            string(name);
            value(item);
        }
        w_.u8(empty_string);
    }

    // §3.12. Traits seen before go out as a reference; new ones enter the table before the
    // members are written, as the decoder adds them before reading the members.
    void object(const amf_value& v) {
        w_.u8(object_marker);
        const std::string_view class_name =
            v.kind == amf_kind::typed_object ? std::string_view(v.class_name) : std::string_view();
        const auto sealed =
            std::span(v.sealed_members).first(std::min(v.sealed_members.size(), sealed_count_max));
        const traits_key key{class_name, v.dynamic, sealed};
        if (const auto it = traits_.find(key); it != traits_.end()) {
            // Object inline (bit 0), traits by reference (bit 1 clear), the index above.
            w_.u29(static_cast<std::uint32_t>(it->second << 2 | 1));
        } else {
            if (traits_.size() <= traits_index_max) traits_.emplace(key, traits_.size());
            // Object inline, traits inline, not externalizable, dynamic flag, sealed count.
            w_.u29(static_cast<std::uint32_t>(sealed.size() << 4 | (v.dynamic ? 8u : 0u) | 3u));
            string(class_name);
            for (const auto& name : sealed) string(name);
        }
        for (std::size_t i = 0; i < sealed.size(); ++i) {
            if (i < v.properties.size())
                value(v.properties[i].second);
            else
                w_.u8(undefined_marker);
        }
        if (v.dynamic)
            named_values(
                std::span(v.properties).subspan(std::min(sealed.size(), v.properties.size())));
    }

    // §3.11. AMF3 has no ECMA array: one goes out as an array with only an associative part.
    void array(const amf_value& v) {
        const std::size_t dense = v.kind == amf_kind::strict_array
                                      ? std::min<std::size_t>(v.elements.size(), u28_max)
                                      : 0;
        w_.u8(array_marker);
        inline_count(dense);
        named_values(v.properties);
        for (std::size_t i = 0; i < dense; ++i) value(v.elements[i]);
    }

    void number_vector(const amf_value& v, std::uint8_t m) {
        const std::size_t count = std::min<std::size_t>(v.elements.size(), u28_max);
        w_.u8(m);
        inline_count(count);
        w_.u8(v.fixed ? 1 : 0);
        for (std::size_t i = 0; i < count; ++i) {
            const amf_value& item = v.elements[i];
            if (m == vector_double_marker)
                w_.f64be(to_double(item));
            else if (m == vector_int_marker)
                w_.u32be(static_cast<std::uint32_t>(to_int32(item)));
            else
                w_.u32be(to_uint32(item));
        }
    }

    void object_vector(const amf_value& v) {
        const std::size_t count = std::min<std::size_t>(v.elements.size(), u28_max);
        w_.u8(vector_object_marker);
        inline_count(count);
        w_.u8(v.fixed ? 1 : 0);
        string(v.class_name);
        for (std::size_t i = 0; i < count; ++i) value(v.elements[i]);
    }

    void dictionary(const amf_value& v) {
        const std::size_t count = std::min<std::size_t>(v.entries.size(), u28_max);
        w_.u8(dictionary_marker);
        inline_count(count);
        w_.u8(v.weak_keys ? 1 : 0);
        for (std::size_t i = 0; i < count; ++i) {
            value(v.entries[i].first);
            value(v.entries[i].second);
        }
    }

    byte_writer w_;
    std::unordered_map<std::string_view, std::size_t> strings_;
    std::map<traits_key, std::size_t> traits_;
};

}  // namespace

void encode(const amf_value& v, std::vector<std::uint8_t>& out) {
    encoder e(out);
    e.value(v);
}

}  // namespace rtmpgate::protocol::amf3
