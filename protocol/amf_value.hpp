// The value model shared by the AMF0 and AMF3 codecs and by the command layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtmpgate::protocol {

enum class amf_kind : std::uint8_t {
    undefined,
    null,
    boolean,
    number,         // AMF0 number, AMF3 double
    integer,        // AMF3 29-bit signed integer
    string,         // AMF0 string and long string, AMF3 string
    xml_document,   // AMF0 XML document, AMF3 XMLDocument
    xml,            // AMF3 XML (E4X)
    date,           // milliseconds since the epoch in `number`; AMF0 keeps `timezone`
    object,         // anonymous object (AMF0 object, AMF3 object with empty class name)
    typed_object,   // object with a class name in `class_name`
    ecma_array,     // AMF0 ECMA array: `properties` (the count is advisory on the wire)
    strict_array,   // AMF0 strict array; AMF3 array: dense part in `elements`, associative in
                    // `properties`
    byte_array,     // AMF3 ByteArray: bytes in `string`
    vector_int,     // AMF3 Vector.<int>: `elements` of integer
    vector_uint,    // AMF3 Vector.<uint>: `elements` of number (full 32-bit range)
    vector_double,  // AMF3 Vector.<Number>: `elements` of number
    vector_object,  // AMF3 Vector.<Object>: `class_name` is the element type name
    dictionary,     // AMF3 Dictionary: `entries` of key/value pairs; `weak_keys`
};

// The AMF3 collections AMF0 has no marker for: the four vectors and the dictionary (the last
// five kinds above, in that order).
constexpr bool is_amf3_collection(amf_kind k) noexcept {
    return k >= amf_kind::vector_int && k <= amf_kind::dictionary;
}

class amf_value;
using amf_property = std::pair<std::string, amf_value>;

class amf_value {
public:
    amf_kind kind = amf_kind::undefined;
    bool boolean = false;
    double number = 0;          // number, date, vector_uint elements
    std::int32_t integer = 0;   // integer
    std::int16_t timezone = 0;  // AMF0 date only
    std::string string;         // string kinds and byte_array
    std::string class_name;     // typed_object, vector_object element type
    bool dynamic = true;        // AMF3 object traits: dynamic members follow sealed ones
    bool fixed = false;         // AMF3 vectors
    bool weak_keys = false;     // AMF3 dictionary
    std::vector<std::string> sealed_members;  // AMF3 object traits (names, in order)
    std::vector<amf_property> properties;     // objects (sealed then dynamic), ecma/assoc arrays
    std::vector<amf_value> elements;          // arrays and vectors
    std::vector<std::pair<amf_value, amf_value>> entries;  // dictionary

    amf_value() = default;

    static amf_value make_null() { return with_kind(amf_kind::null); }
    static amf_value make_undefined() { return with_kind(amf_kind::undefined); }
    static amf_value make_boolean(bool b) {
        auto v = with_kind(amf_kind::boolean);
        v.boolean = b;
        return v;
    }
    static amf_value make_number(double n) {
        auto v = with_kind(amf_kind::number);
        v.number = n;
        return v;
    }
    static amf_value make_string(std::string_view s) {
        auto v = with_kind(amf_kind::string);
        v.string = s;
        return v;
    }
    static amf_value make_object(std::vector<amf_property> props = {}) {
        auto v = with_kind(amf_kind::object);
        v.properties = std::move(props);
        return v;
    }
    static amf_value make_ecma_array(std::vector<amf_property> props = {}) {
        auto v = with_kind(amf_kind::ecma_array);
        v.properties = std::move(props);
        return v;
    }

    bool is(amf_kind k) const noexcept { return kind == k; }
    bool is_null_or_undefined() const noexcept {
        return kind == amf_kind::null || kind == amf_kind::undefined;
    }
    bool is_object_like() const noexcept {
        return kind == amf_kind::object || kind == amf_kind::typed_object ||
               kind == amf_kind::ecma_array;
    }
    // A number, whether sent as AMF0/AMF3 double or AMF3 integer.
    bool as_number(double& out) const noexcept {
        if (kind == amf_kind::number) return out = number, true;
        if (kind == amf_kind::integer) return out = integer, true;
        return false;
    }

    // Property lookup on object-like values; nullptr when absent.
    const amf_value* find(std::string_view name) const noexcept {
        for (const auto& [key, value] : properties)
            if (key == name) return &value;
        return nullptr;
    }
    // The string property `name`, or `fallback` when absent or not a string.
    std::string_view get_string(std::string_view name,
                                std::string_view fallback = {}) const noexcept {
        const auto* v = find(name);
        return v && v->kind == amf_kind::string ? std::string_view(v->string) : fallback;
    }
    double get_number(std::string_view name, double fallback = 0) const noexcept {
        const auto* v = find(name);
        double out = fallback;
        if (v) v->as_number(out);
        return out;
    }
    void set(std::string_view name, amf_value value) {
        for (auto& [key, existing] : properties)
            if (key == name) {
                existing = std::move(value);
                return;
            }
        properties.emplace_back(std::string(name), std::move(value));
    }

    friend bool operator==(const amf_value&, const amf_value&) = default;

private:
    static amf_value with_kind(amf_kind k) {
        amf_value v;
        v.kind = k;
        return v;
    }
};

// Bounds every AMF decoder enforces; exceeding one is an error, never an allocation.
struct amf_limits {
    std::size_t max_depth = 32;
    std::size_t max_elements = 65536;  // per container
    std::size_t max_string_length = 1 << 20;
    // Approximate memory of one decode call's result: sizeof(amf_value) per value plus the bytes
    // of its strings, names and keys, counting every copy a reference expands to.
    std::size_t max_total_bytes = 16 << 20;
};

}  // namespace rtmpgate::protocol
