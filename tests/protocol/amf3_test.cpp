#include "protocol/amf3.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "protocol/amf0.hpp"
#include "tests/protocol/amf_wire.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::text;
using test::to_vector;
using test::wire;

// ---- wire vectors, one per type (AMF3 spec §3) ----------------------------------------------

constexpr auto undefined_wire = bytes(0x00);  // undefined marker
constexpr auto null_wire = bytes(0x01);       // null marker
constexpr auto false_wire = bytes(0x02);      // false marker
constexpr auto true_wire = bytes(0x03);       // true marker
// Integer marker, then U29 (§1.3.1) at each boundary of its 1- to 4-byte forms.
constexpr auto integer_0 = bytes(0x04, 0x00);                            // 0
constexpr auto integer_127 = bytes(0x04, 0x7F);                          // 1-byte max
constexpr auto integer_128 = bytes(0x04, 0x81, 0x00);                    // 2-byte min
constexpr auto integer_16383 = bytes(0x04, 0xFF, 0x7F);                  // 2-byte max
constexpr auto integer_16384 = bytes(0x04, 0x81, 0x80, 0x00);            // 3-byte min
constexpr auto integer_2097151 = bytes(0x04, 0xFF, 0xFF, 0x7F);          // 3-byte max
constexpr auto integer_2097152 = bytes(0x04, 0x80, 0xC0, 0x80, 0x00);    // 4-byte min
constexpr auto integer_max = bytes(0x04, 0xBF, 0xFF, 0xFF, 0xFF);        // 2^28 - 1
constexpr auto integer_minus_1 = bytes(0x04, 0xFF, 0xFF, 0xFF, 0xFF);    // -1
constexpr auto integer_min = bytes(0x04, 0xC0, 0x80, 0x80, 0x00);        // -2^28
constexpr auto double_wire = wire(bytes(0x05),                           // double marker
                                  bytes(0x3F, 0xF8, 0, 0, 0, 0, 0, 0));  // 1.5
constexpr auto string_wire = wire(bytes(0x06),                           // string marker
                                  bytes(0x09), text("live"));            // inline, length 4
constexpr auto empty_string_wire = bytes(0x06,                           // string marker
                                         0x01);                          // inline, length 0
constexpr auto xml_document_wire = wire(bytes(0x07),                     // XMLDocument marker
                                        bytes(0x0F), text("<a></a>"));   // inline, length 7
constexpr auto date_wire =
    wire(bytes(0x08),                                                  // date marker
         bytes(0x01),                                                  // inline
         bytes(0x42, 0x78, 0xBC, 0xFE, 0x56, 0x80, 0, 0));             // 1700000000000 ms
constexpr auto dense_array_wire = wire(bytes(0x09),                    // array marker
                                       bytes(0x05),                    // inline, 2 dense
                                       bytes(0x01),                    // no associative part
                                       bytes(0x04, 0x01),              // integer 1
                                       bytes(0x06, 0x03), text("x"));  // string "x"
constexpr auto mixed_array_wire = wire(bytes(0x09),                    // array marker
                                       bytes(0x03),                    // inline, 1 dense
                                       bytes(0x03), text("k"),         // key "k"
                                       bytes(0x01),                    //   null
                                       bytes(0x01),                    // end of associative
                                       bytes(0x03));                   // true
constexpr auto anonymous_object_wire =
    wire(bytes(0x0A),                                  // object marker
         bytes(0x0B),                                  // inline, traits inline, dynamic, 0 sealed
         bytes(0x01),                                  // class name ""
         bytes(0x03), text("a"),                       // dynamic "a"
         bytes(0x04, 0x01),                            //   integer 1
         bytes(0x01));                                 // end of dynamic
constexpr auto sealed_object_wire = wire(bytes(0x0A),  // object marker
                                         bytes(0x23),  // inline, traits inline, sealed, 2 members
                                         bytes(0x07), text("Foo"),       // class name "Foo"
                                         bytes(0x03), text("x"),         // sealed name "x"
                                         bytes(0x03), text("y"),         // sealed name "y"
                                         bytes(0x04, 0x05),              // x: integer 5
                                         bytes(0x06, 0x03), text("z"));  // y: string "z"
constexpr auto dynamic_typed_object_wire = wire(bytes(0x0A),             // object marker
                                                bytes(0x1B),  // inline traits, dynamic, 1 sealed
                                                bytes(0x07), text("Bar"),  // class name "Bar"
                                                bytes(0x03), text("s"),    // sealed name "s"
                                                bytes(0x01),               // s: null
                                                bytes(0x03), text("d"),    // dynamic "d"
                                                bytes(0x03),               //   true
                                                bytes(0x01));              // end of dynamic
constexpr auto xml_wire = wire(bytes(0x0B),                                // XML marker
                               bytes(0x0F), text("<a></a>"));              // inline, length 7
constexpr auto byte_array_wire = bytes(0x0C,                               // ByteArray marker
                                       0x07,                               // inline, length 3
                                       0x01, 0x02, 0x03);
constexpr auto vector_int_wire = bytes(0x0D,                              // Vector.<int> marker
                                       0x05,                              // inline, 2 items
                                       0x00,                              // not fixed
                                       0x00, 0x00, 0x00, 0x01,            // 1
                                       0xFF, 0xFF, 0xFF, 0xFF);           // -1
constexpr auto vector_uint_wire = bytes(0x0E,                             // Vector.<uint> marker
                                        0x05,                             // inline, 2 items
                                        0x01,                             // fixed
                                        0x00, 0x00, 0x00, 0x01,           // 1
                                        0xFF, 0xFF, 0xFF, 0xFF);          // 4294967295
constexpr auto vector_double_wire = bytes(0x0F,                           // Vector.<Number>
                                          0x03,                           // inline, 1 item
                                          0x00,                           // not fixed
                                          0x3F, 0xF8, 0, 0, 0, 0, 0, 0);  // 1.5
constexpr auto vector_object_wire = wire(bytes(0x10),                     // Vector.<Object>
                                         bytes(0x05),                     // inline, 2 items
                                         bytes(0x00),                     // not fixed
                                         bytes(0x03), text("*"),          // type name "*"
                                         bytes(0x01),                     // null
                                         bytes(0x06, 0x03), text("x"));   // string "x"
constexpr auto dictionary_wire = wire(bytes(0x11),                        // Dictionary marker
                                      bytes(0x03),                        // inline, 1 entry
                                      bytes(0x00),                        // strong keys
                                      bytes(0x06, 0x03), text("k"),       // key: string "k"
                                      bytes(0x04, 0x07));                 // value: integer 7

amf_value of_kind(amf_kind k) {
    amf_value v;
    v.kind = k;
    return v;
}
amf_value integer(std::int32_t i) {
    auto v = of_kind(amf_kind::integer);
    v.integer = i;
    return v;
}
amf_value with_string(amf_kind k, std::string s) {
    auto v = of_kind(k);
    v.string = std::move(s);
    return v;
}
amf_value date(double ms) {
    auto v = of_kind(amf_kind::date);
    v.number = ms;
    return v;
}
amf_value array(std::vector<amf_value> dense, std::vector<amf_property> associative = {}) {
    auto v = of_kind(amf_kind::strict_array);
    v.elements = std::move(dense);
    v.properties = std::move(associative);
    return v;
}
// An object with traits: class name (empty: anonymous), dynamic flag, the sealed members' names,
// then every member's name and value (sealed first).
amf_value object(std::string class_name, bool dynamic, std::vector<std::string> sealed,
                 std::vector<amf_property> members) {
    auto v = of_kind(class_name.empty() ? amf_kind::object : amf_kind::typed_object);
    v.class_name = std::move(class_name);
    v.dynamic = dynamic;
    v.sealed_members = std::move(sealed);
    v.properties = std::move(members);
    return v;
}
amf_value vector(amf_kind k, bool fixed, std::vector<amf_value> items, std::string type = {}) {
    auto v = of_kind(k);
    v.fixed = fixed;
    v.elements = std::move(items);
    v.class_name = std::move(type);
    return v;
}
amf_value number(double n) { return amf_value::make_number(n); }

amf_value decode_one(std::span<const std::uint8_t> in, const amf_limits& limits = {}) {
    byte_reader r(in);
    auto v = amf3::decode(r, limits);
    EXPECT_TRUE(v.has_value()) << (v ? "" : v.error().message());
    EXPECT_TRUE(r.empty()) << r.remaining() << " bytes left";
    return v ? *v : amf_value{};
}

error_code decode_failure(std::span<const std::uint8_t> in, const amf_limits& limits = {}) {
    byte_reader r(in);
    const auto v = amf3::decode(r, limits);
    EXPECT_FALSE(v.has_value());
    return v ? error_code{} : v.error();
}

std::vector<std::uint8_t> encode(const amf_value& v) {
    std::vector<std::uint8_t> out;
    amf3::encode(v, out);
    return out;
}

struct wire_case {
    const char* name;
    std::vector<std::uint8_t> wire;
    amf_value value;
};

std::vector<wire_case> wire_cases() {
    return {
        {"undefined", to_vector(undefined_wire), amf_value::make_undefined()},
        {"null", to_vector(null_wire), amf_value::make_null()},
        {"false", to_vector(false_wire), amf_value::make_boolean(false)},
        {"true", to_vector(true_wire), amf_value::make_boolean(true)},
        {"integer 0", to_vector(integer_0), integer(0)},
        {"integer 127", to_vector(integer_127), integer(127)},
        {"integer 128", to_vector(integer_128), integer(128)},
        {"integer 16383", to_vector(integer_16383), integer(16383)},
        {"integer 16384", to_vector(integer_16384), integer(16384)},
        {"integer 2097151", to_vector(integer_2097151), integer(2097151)},
        {"integer 2097152", to_vector(integer_2097152), integer(2097152)},
        {"integer max", to_vector(integer_max), integer((1 << 28) - 1)},
        {"integer -1", to_vector(integer_minus_1), integer(-1)},
        {"integer min", to_vector(integer_min), integer(-(1 << 28))},
        {"double", to_vector(double_wire), number(1.5)},
        {"string", to_vector(string_wire), amf_value::make_string("live")},
        {"empty string", to_vector(empty_string_wire), amf_value::make_string("")},
        {"xml document", to_vector(xml_document_wire),
         with_string(amf_kind::xml_document, "<a></a>")},
        {"date", to_vector(date_wire), date(1700000000000.0)},
        {"dense array", to_vector(dense_array_wire),
         array({integer(1), amf_value::make_string("x")})},
        {"mixed array", to_vector(mixed_array_wire),
         array({amf_value::make_boolean(true)}, {{"k", amf_value::make_null()}})},
        {"anonymous object", to_vector(anonymous_object_wire),
         object("", true, {}, {{"a", integer(1)}})},
        {"sealed object", to_vector(sealed_object_wire),
         object("Foo", false, {"x", "y"}, {{"x", integer(5)}, {"y", amf_value::make_string("z")}})},
        {"dynamic typed object", to_vector(dynamic_typed_object_wire),
         object("Bar", true, {"s"},
                {{"s", amf_value::make_null()}, {"d", amf_value::make_boolean(true)}})},
        {"xml", to_vector(xml_wire), with_string(amf_kind::xml, "<a></a>")},
        {"byte array", to_vector(byte_array_wire),
         with_string(amf_kind::byte_array, std::string("\x01\x02\x03"))},
        {"vector int", to_vector(vector_int_wire),
         vector(amf_kind::vector_int, false, {integer(1), integer(-1)})},
        {"vector uint", to_vector(vector_uint_wire),
         vector(amf_kind::vector_uint, true, {number(1), number(4294967295.0)})},
        {"vector double", to_vector(vector_double_wire),
         vector(amf_kind::vector_double, false, {number(1.5)})},
        {"vector object", to_vector(vector_object_wire),
         vector(amf_kind::vector_object, false,
                {amf_value::make_null(), amf_value::make_string("x")}, "*")},
        {"dictionary", to_vector(dictionary_wire),
         [] {
             auto v = of_kind(amf_kind::dictionary);
             v.entries = {{amf_value::make_string("k"), integer(7)}};
             return v;
         }()},
    };
}

TEST(amf3, every_type_decodes_from_its_wire_vector) {
    for (const auto& c : wire_cases()) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode_one(c.wire), c.value);
    }
}

TEST(amf3, every_type_encodes_to_its_wire_vector) {
    for (const auto& c : wire_cases()) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(encode(c.value), c.wire);
    }
}

TEST(amf3, every_proper_prefix_of_a_wire_vector_is_truncated) {
    for (const auto& c : wire_cases()) {
        for (std::size_t n = 0; n < c.wire.size(); ++n) {
            SCOPED_TRACE(std::string(c.name) + " cut at " + std::to_string(n));
            EXPECT_EQ(decode_failure(std::span(c.wire).first(n)), error::truncated);
        }
    }
}

TEST(amf3, decode_leaves_the_reader_after_the_value) {
    constexpr auto two = wire(true_wire, null_wire);
    byte_reader r(two);
    const auto v = amf3::decode(r);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, amf_value::make_boolean(true));
    EXPECT_EQ(r.position(), true_wire.size());
}

TEST(amf3, any_nonzero_flag_octet_is_true) {
    constexpr auto flag_7f = bytes(0x11, 0x01, 0x7F);  // Dictionary, 0 entries, weak keys 0x7F
    EXPECT_TRUE(decode_one(flag_7f).weak_keys);
}

// ---- references (§2.2) -----------------------------------------------------------------------

// The string table: "ab" is index 0; the empty string never enters it.
constexpr auto string_references = wire(bytes(0x09, 0x09, 0x01),        // array, 4 dense
                                        bytes(0x06, 0x05), text("ab"),  //   "ab" (string 0)
                                        bytes(0x06, 0x00),              //   string ref 0
                                        bytes(0x06, 0x01),              //   ""
                                        bytes(0x06, 0x00));             //   string ref 0

TEST(amf3, string_references_resolve_and_are_written) {
    const auto ab = amf_value::make_string("ab");
    const auto v = array({ab, ab, amf_value::make_string(""), ab});
    EXPECT_EQ(decode_one(string_references), v);
    EXPECT_EQ(encode(v), to_vector(string_references));
}

// The object table: 0 the outer array, 1 the object {n: 7}, then a reference to 1.
constexpr auto object_reference = wire(bytes(0x09, 0x05, 0x01),  // array, 2 dense
                                       bytes(0x0A, 0x0B, 0x01),  //   object 1, anon.
                                       bytes(0x03), text("n"),   //     "n" (string 0)
                                       bytes(0x04, 0x07, 0x01),  //     7, end
                                       bytes(0x0A, 0x02));       //   object ref 1

// The encoder writes no object references, but the second object's traits and member name
// are references: traits 0 and string 0.
constexpr auto object_reference_encoded = wire(bytes(0x09, 0x05, 0x01),   // array, 2 dense
                                               bytes(0x0A, 0x0B, 0x01),   //   anon. object
                                               bytes(0x03), text("n"),    //     "n"
                                               bytes(0x04, 0x07, 0x01),   //     7, end
                                               bytes(0x0A, 0x01),         //   traits ref 0
                                               bytes(0x00),               //     string ref 0
                                               bytes(0x04, 0x07, 0x01));  //     7, end

TEST(amf3, object_reference_resolves_to_a_copy) {
    const auto n = object("", true, {}, {{"n", integer(7)}});
    EXPECT_EQ(decode_one(object_reference), array({n, n}));
    EXPECT_EQ(encode(array({n, n})), to_vector(object_reference_encoded));
    EXPECT_EQ(decode_one(object_reference_encoded), array({n, n}));
}

// Foo's traits are table entry 0; the second object uses them by reference.
constexpr auto traits_reference = wire(bytes(0x09, 0x05, 0x01),   // array, 2 dense
                                       bytes(0x0A, 0x13),         //   traits: 1 sealed
                                       bytes(0x07), text("Foo"),  //     "Foo"
                                       bytes(0x03), text("x"),    //     "x"
                                       bytes(0x04, 0x01),         //     x: 1
                                       bytes(0x0A, 0x01),         //   traits ref 0
                                       bytes(0x04, 0x02));        //     x: 2

TEST(amf3, traits_references_resolve_and_are_written) {
    const auto v = array({object("Foo", false, {"x"}, {{"x", integer(1)}}),
                          object("Foo", false, {"x"}, {{"x", integer(2)}})});
    EXPECT_EQ(decode_one(traits_reference), v);
    EXPECT_EQ(encode(v), to_vector(traits_reference));
}

// Traits enter the table before the members are read: a member may use its parent's traits.
constexpr auto recursive_traits = wire(bytes(0x0A, 0x13),           // traits: 1 sealed
                                       bytes(0x09), text("Node"),   //   "Node"
                                       bytes(0x0B), text("child"),  //   "child"
                                       bytes(0x0A, 0x01),           // child: traits ref 0
                                       bytes(0x01));                //   child: null

TEST(amf3, traits_are_usable_inside_the_object_that_defines_them) {
    const auto leaf = object("Node", false, {"child"}, {{"child", amf_value::make_null()}});
    const auto v = object("Node", false, {"child"}, {{"child", leaf}});
    EXPECT_EQ(decode_one(recursive_traits), v);
    EXPECT_EQ(encode(v), to_vector(recursive_traits));
}

// Date and ByteArray take object table entries too (index 0 is the array).
constexpr auto leaf_references = wire(bytes(0x09, 0x09, 0x01),                    // array, 4 dense
                                      bytes(0x08, 0x01, 0, 0, 0, 0, 0, 0, 0, 0),  // date 0 (obj 1)
                                      bytes(0x08, 0x02),                          //   object ref 1
                                      bytes(0x0C, 0x03, 0xAA),                    //   bytes (obj 2)
                                      bytes(0x0C, 0x04));                         //   object ref 2

TEST(amf3, dates_and_byte_arrays_are_referenced) {
    const auto d = date(0);
    const auto b = with_string(amf_kind::byte_array, "\xAA");
    EXPECT_EQ(decode_one(leaf_references), array({d, d, b, b}));
}

TEST(amf3, reference_to_an_unfinished_value_is_refused) {
    constexpr auto cycle = bytes(0x09, 0x03, 0x01,  // array (object 0), 1 dense
                                 0x09, 0x00);       //   object ref 0: itself
    EXPECT_EQ(decode_failure(cycle), error::amf_bad_reference);
}

TEST(amf3, references_beyond_their_table_are_refused) {
    constexpr auto no_object = bytes(0x0A, 0x00);  // object ref 0, table empty
    constexpr auto no_string = bytes(0x06, 0x00);  // string ref 0, table empty
    constexpr auto no_traits = bytes(0x0A, 0x01);  // object with traits ref 0, table empty
    constexpr auto past_string = wire(bytes(0x09, 0x05, 0x01),       // array, 2 dense
                                      bytes(0x06, 0x03), text("a"),  //   "a" (string 0)
                                      bytes(0x06, 0x02));            //   string ref 1
    constexpr auto past_name = bytes(0x0A, 0x0B, 0x01,               // anonymous dynamic object
                                     0x02);                          //   member name: string ref 1
    for (std::span<const std::uint8_t> in :
         {std::span<const std::uint8_t>(no_object), std::span<const std::uint8_t>(no_string),
          std::span<const std::uint8_t>(no_traits), std::span<const std::uint8_t>(past_string),
          std::span<const std::uint8_t>(past_name)})
        EXPECT_EQ(decode_failure(in), error::amf_bad_reference);
    auto past_object = to_vector(object_reference);
    past_object.back() = 0x04;  // object ref 2: only 0 and 1 exist
    EXPECT_EQ(decode_failure(past_object), error::amf_bad_reference);
}

// ---- refused and unknown markers -------------------------------------------------------------

TEST(amf3, unknown_markers_are_refused) {
    for (std::uint8_t m : {0x12, 0x7F, 0xFF}) {
        const std::uint8_t in[] = {m};
        EXPECT_EQ(decode_failure(in), error::amf_unknown_marker) << int(m);
    }
}

// What Flex sends for an ArrayCollection: externalizable traits, then bytes only the class
// knows how to read.
constexpr auto array_collection = wire(bytes(0x0A, 0x07),  // traits: ext.
                                       bytes(0x43), text("flex.messaging.io.ArrayCollection"),
                                       bytes(0x09, 0x01, 0x01));  //   its source []

TEST(amf3, externalizable_objects_are_unsupported) {
    EXPECT_EQ(decode_failure(array_collection), error::amf_unsupported);
}

// ---- bounds ----------------------------------------------------------------------------------

std::vector<std::uint8_t> nested_arrays(std::size_t depth) {
    std::vector<std::uint8_t> in;
    for (std::size_t i = 0; i < depth; ++i) in.insert(in.end(), {0x09, 0x03, 0x01});  // [x]
    in.push_back(0x01);                                                               // null
    return in;
}

TEST(amf3, nesting_is_bounded) {
    const amf_limits limits;
    EXPECT_NO_FATAL_FAILURE(decode_one(nested_arrays(limits.max_depth)));
    EXPECT_EQ(decode_failure(nested_arrays(limits.max_depth + 1)), error::amf_depth_exceeded);
    EXPECT_EQ(decode_failure(nested_arrays(100000)), error::amf_depth_exceeded);
    // Every container kind counts.
    constexpr auto dictionary_in_object = bytes(0x0A, 0x0B, 0x01,  // anonymous object
                                                0x03, 'd',         //   "d":
                                                0x11, 0x01, 0x00,  //   empty dictionary
                                                0x01);             // end
    EXPECT_EQ(decode_failure(dictionary_in_object, {.max_depth = 1}), error::amf_depth_exceeded);
    constexpr auto vector_in_vector = bytes(0x10, 0x03, 0x00, 0x01,  // Vector.<Object> ""
                                            0x0D, 0x01, 0x00);       //   empty Vector.<int>
    EXPECT_EQ(decode_failure(vector_in_vector, {.max_depth = 1}), error::amf_depth_exceeded);
    EXPECT_NO_FATAL_FAILURE(decode_one(vector_in_vector, {.max_depth = 2}));
}

TEST(amf3, references_count_toward_depth) {
    // Object 1 is 20 arrays deep; the reference to it sits inside the outer array and `wraps`
    // more, so its copy would reach 1 + wraps + 20 containers.
    const auto build = [](int wraps) {
        std::vector<std::uint8_t> in = {0x09, 0x05, 0x01};  // outer array of 2
        const auto deep = nested_arrays(20);
        in.insert(in.end(), deep.begin(), deep.end());
        for (int i = 0; i < wraps; ++i) in.insert(in.end(), {0x09, 0x03, 0x01});
        in.insert(in.end(), {0x09, 0x02});  // object ref 1
        return in;
    };
    EXPECT_NO_FATAL_FAILURE(decode_one(build(11)));  // exactly 32
    EXPECT_EQ(decode_failure(build(12)), error::amf_depth_exceeded);
}

TEST(amf3, elements_per_container_are_bounded) {
    // Dense count 65537: U29 (65537 << 1 | 1) = 0x20003 in three bytes.
    constexpr auto dense_65537 = bytes(0x09, 0x88, 0x80, 0x03, 0x01);
    EXPECT_EQ(decode_failure(dense_65537), error::amf_too_many_elements);

    const amf_limits two{.max_elements = 2};
    constexpr auto dense_3 = bytes(0x09, 0x07, 0x01, 0x01, 0x01, 0x01);           // [null x3]
    constexpr auto associative_3 = bytes(0x09, 0x01, 0x03, 'a', 0x01, 0x03, 'b',  // a, b, c
                                         0x01, 0x03, 'c', 0x01, 0x01);
    constexpr auto both_parts_3 = bytes(0x09, 0x03, 0x03, 'a', 0x01, 0x03, 'b',  // a, b + 1 dense
                                        0x01, 0x01, 0x01);
    constexpr auto sealed_3 = bytes(0x0A, 0x33, 0x01,  // 3 sealed
                                    0x03, 'a', 0x03, 'b', 0x03, 'c', 0x01, 0x01, 0x01);
    constexpr auto dynamic_3 =
        bytes(0x0A, 0x0B, 0x01, 0x03, 'a', 0x01, 0x03, 'b', 0x01, 0x03, 'c', 0x01, 0x01);
    constexpr auto sealed_and_dynamic_3 = bytes(0x0A, 0x1B, 0x01, 0x03, 'a',  // 1 sealed
                                                0x01, 0x03, 'b', 0x01, 0x03, 'c', 0x01, 0x01);
    constexpr auto vector_int_3 = bytes(0x0D, 0x07, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3);
    constexpr auto vector_object_3 = bytes(0x10, 0x07, 0x00, 0x01, 0x01, 0x01, 0x01);
    constexpr auto dictionary_3 = bytes(0x11, 0x07, 0x00, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01);
    for (std::span<const std::uint8_t> in :
         {std::span<const std::uint8_t>(dense_3), std::span<const std::uint8_t>(associative_3),
          std::span<const std::uint8_t>(both_parts_3), std::span<const std::uint8_t>(sealed_3),
          std::span<const std::uint8_t>(dynamic_3),
          std::span<const std::uint8_t>(sealed_and_dynamic_3),
          std::span<const std::uint8_t>(vector_int_3),
          std::span<const std::uint8_t>(vector_object_3),
          std::span<const std::uint8_t>(dictionary_3)}) {
        EXPECT_EQ(decode_failure(in, two), error::amf_too_many_elements);
        EXPECT_NO_FATAL_FAILURE(decode_one(in, {.max_elements = 3}));
    }
}

TEST(amf3, string_length_is_bounded) {
    constexpr auto two_mib =
        bytes(0x06, 0x81, 0x80, 0x80, 0x01, 'a');  // length 2 MiB (U29 4 bytes)
    EXPECT_EQ(decode_failure(two_mib), error::amf_string_too_long);
    const amf_limits three{.max_string_length = 3};
    EXPECT_EQ(decode_failure(string_wire, three), error::amf_string_too_long);        // "live"
    EXPECT_EQ(decode_failure(xml_document_wire, three), error::amf_string_too_long);  // 7 bytes
    EXPECT_EQ(decode_failure(xml_wire, three), error::amf_string_too_long);
    EXPECT_EQ(decode_failure(byte_array_wire, {.max_string_length = 2}),
              error::amf_string_too_long);  // 3 bytes
    EXPECT_EQ(decode_failure(sealed_object_wire, {.max_string_length = 2}),
              error::amf_string_too_long);  // "Foo"
    EXPECT_EQ(decode_failure(anonymous_object_wire, {.max_string_length = 0}),
              error::amf_string_too_long);  // "a"
}

TEST(amf3, huge_declared_lengths_with_short_input_are_truncated) {
    constexpr auto string_512k = bytes(0x06, 0xBF, 0xFF, 0x7F, 'a');         // length 2^19 - 1
    constexpr auto bytes_512k = bytes(0x0C, 0xBF, 0xFF, 0x7F, 'a');          // length 2^19 - 1
    constexpr auto dense_65535 = bytes(0x09, 0x87, 0xFF, 0x7F, 0x01, 0x01);  // 65535 dense
    constexpr auto ints_65535 = bytes(0x0D, 0x87, 0xFF, 0x7F, 0x00, 0, 0, 0, 0);
    constexpr auto doubles_3 = bytes(0x0F, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);  // 3 x 8 > 10
    constexpr auto objects_65535 = bytes(0x10, 0x87, 0xFF, 0x7F, 0x00, 0x01, 0x01);
    constexpr auto entries_2 = bytes(0x11, 0x05, 0x00, 0x01, 0x01, 0x01);  // 2 entries, 3 bytes
    constexpr auto sealed_2 = bytes(0x0A, 0x23, 0x01, 0x03);               // 2 names, 1 byte left
    for (std::span<const std::uint8_t> in :
         {std::span<const std::uint8_t>(string_512k), std::span<const std::uint8_t>(bytes_512k),
          std::span<const std::uint8_t>(dense_65535), std::span<const std::uint8_t>(ints_65535),
          std::span<const std::uint8_t>(doubles_3), std::span<const std::uint8_t>(objects_65535),
          std::span<const std::uint8_t>(entries_2), std::span<const std::uint8_t>(sealed_2)})
        EXPECT_EQ(decode_failure(in), error::truncated);

    // With the bounds lifted, 256 MiB declared is still only a failed bounds check: nothing of
    // that size is allocated (AddressSanitizer would report it).
    const amf_limits unbounded{.max_elements = std::numeric_limits<std::size_t>::max(),
                               .max_string_length = std::numeric_limits<std::size_t>::max(),
                               .max_total_bytes = std::numeric_limits<std::size_t>::max()};
    constexpr auto string_256m = bytes(0x06, 0xFF, 0xFF, 0xFF, 0xFF, 'a');
    constexpr auto ints_256m = bytes(0x0D, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0, 0, 0, 0);
    EXPECT_EQ(decode_failure(string_256m, unbounded), error::truncated);
    EXPECT_EQ(decode_failure(ints_256m, unbounded), error::truncated);
}

// Billion laughs: each level is an array of two references to the level before, doubling the
// decoded size for 5 bytes of input.
std::vector<std::uint8_t> reference_doubling(int levels) {
    std::vector<std::uint8_t> in = {
        0x09, static_cast<std::uint8_t>((levels + 1) << 1 | 1), 0x01, 0x09, 0x03, 0x01,
        0x01};  // object 1: [null]
    for (int i = 0; i < levels; ++i) {
        const auto previous = static_cast<std::uint8_t>((i + 1) << 1);  // object ref i + 1
        in.insert(in.end(), {0x09, 0x05, 0x01, 0x09, previous, 0x09, previous});
    }
    return in;
}

TEST(amf3, reference_expansion_is_bounded) {
    EXPECT_NO_FATAL_FAILURE(decode_one(reference_doubling(8)));
    const auto bomb = reference_doubling(24);
    EXPECT_LT(bomb.size(), 200u);
    EXPECT_EQ(decode_failure(bomb), error::amf_too_large);
}

TEST(amf3, memory_bound_counts_every_string_copy) {
    // ["live", ref "live"]: three values and two copies of four bytes.
    constexpr auto twice =
        wire(bytes(0x09, 0x05, 0x01), bytes(0x06, 0x09), text("live"), bytes(0x06, 0x00));
    amf_limits tight{.max_total_bytes = 3 * sizeof(amf_value) + 7};
    EXPECT_EQ(decode_failure(twice, tight), error::amf_too_large);
    tight.max_total_bytes += 1;
    EXPECT_NO_FATAL_FAILURE(decode_one(twice, tight));
    // A vector's items count before they are allocated.
    EXPECT_EQ(decode_failure(vector_int_wire, {.max_total_bytes = 2 * sizeof(amf_value)}),
              error::amf_too_large);
    // A sealed name is kept twice: in the traits and as the member's key.
    // Here: three values, "Node" twice, "child" four times.
    EXPECT_EQ(decode_failure(recursive_traits, {.max_total_bytes = 3 * sizeof(amf_value) + 27}),
              error::amf_too_large);
    EXPECT_NO_FATAL_FAILURE(
        decode_one(recursive_traits, {.max_total_bytes = 3 * sizeof(amf_value) + 28}));
}

// ---- encoder choices -------------------------------------------------------------------------

TEST(amf3, integer_outside_29_bits_is_written_as_double) {
    constexpr auto as_double = bytes(0x05, 0x41, 0xB0, 0, 0, 0, 0, 0, 0);  // 268435456
    EXPECT_EQ(encode(integer(1 << 28)), to_vector(as_double));
}

TEST(amf3, ecma_array_is_written_as_an_associative_array) {
    constexpr auto associative = wire(bytes(0x09, 0x01),                    // array, 0 dense
                                      bytes(0x03), text("a"), bytes(0x01),  //   a: null
                                      bytes(0x01));                         // end
    const auto ecma = amf_value::make_ecma_array({{"a", amf_value::make_null()}});
    EXPECT_EQ(encode(ecma), to_vector(associative));
    EXPECT_EQ(decode_one(associative), array({}, {{"a", amf_value::make_null()}}));
}

TEST(amf3, object_members_are_written_as_its_traits_say) {
    // Sealed "x" and "y" but only one property: y goes out undefined; "" and the dynamic
    // member of a sealed object cannot be sent.
    auto v = object("T", false, {"x", "y"}, {{"x", integer(1)}});
    const auto out = encode(v);
    v.properties.push_back({"y", amf_value::make_undefined()});
    EXPECT_EQ(decode_one(out), v);

    auto extra = v;
    extra.properties.push_back({"dropped", integer(2)});
    EXPECT_EQ(encode(extra), out);

    const auto dynamic = object("", true, {}, {{"", integer(1)}, {"k", integer(2)}});
    EXPECT_EQ(decode_one(encode(dynamic)), object("", true, {}, {{"k", integer(2)}}));
}

TEST(amf3, vector_items_are_converted_to_the_vector_kind) {
    const auto ints =
        vector(amf_kind::vector_int, false,
               {number(3.9), number(1e12), number(std::nan("")), amf_value::make_null()});
    EXPECT_EQ(decode_one(encode(ints)),
              vector(amf_kind::vector_int, false,
                     {integer(3), integer(std::numeric_limits<std::int32_t>::max()), integer(0),
                      integer(0)}));
    const auto uints = vector(amf_kind::vector_uint, false, {integer(-5), number(7)});
    EXPECT_EQ(decode_one(encode(uints)),
              vector(amf_kind::vector_uint, false, {number(0), number(7)}));
    const auto doubles = vector(amf_kind::vector_double, true, {integer(-5)});
    EXPECT_EQ(decode_one(encode(doubles)), vector(amf_kind::vector_double, true, {number(-5)}));
}

TEST(amf3, nested_values_round_trip) {
    auto dict = of_kind(amf_kind::dictionary);
    dict.weak_keys = true;
    dict.entries = {{object("K", false, {"id"}, {{"id", integer(1)}}), amf_value::make_string("v")},
                    {integer(-3), array({})}};
    const auto repeated = amf_value::make_string(std::string(300, 'r'));  // 2-byte U29 length
    const auto v = object(
        "Outer", true, {"a", "b"},
        {{"a", array({repeated, repeated, date(-1.25)}, {{"k", repeated}})},
         {"b", vector(amf_kind::vector_object, true,
                      {object("K", false, {"id"}, {{"id", integer(2)}}), dict}, "K")},
         {"xml", with_string(amf_kind::xml, "<x/>")},
         {"doc", with_string(amf_kind::xml_document, "<y/>")},
         {"bytes", with_string(amf_kind::byte_array, std::string("\0\xFF", 2))},
         {"ints",
          vector(amf_kind::vector_int, true, {integer(std::numeric_limits<std::int32_t>::min())})},
         {"uints", vector(amf_kind::vector_uint, false, {number(4294967295.0)})},
         {"doubles", vector(amf_kind::vector_double, false, {number(-0.0), number(1e300)})},
         {"big", amf_value::make_string(std::string(70000, 'q'))}});
    const auto out = encode(v);
    EXPECT_EQ(decode_one(out), v);
}

// ---- AMF0's AVM+ marker (AMF0 spec §3.1) ------------------------------------------------------

TEST(amf3, amf0_switches_to_amf3_for_one_value) {
    constexpr auto body = wire(bytes(0x0A, 0x00, 0x00, 0x00, 0x02),           // AMF0 strict array
                               bytes(0x11), sealed_object_wire,               //   AVM+, Foo{...}
                               bytes(0x11), bytes(0x06, 0x07), text("Foo"));  //   AVM+, "Foo"
    byte_reader r(body);
    const auto v = amf0::decode(r);
    ASSERT_TRUE(v.has_value()) << v.error().message();
    EXPECT_TRUE(r.empty());
    // The second AVM+ value has fresh tables: "Foo" is inline again, not a reference.
    const auto foo =
        object("Foo", false, {"x", "y"}, {{"x", integer(5)}, {"y", amf_value::make_string("z")}});
    EXPECT_EQ(*v, array({foo, amf_value::make_string("Foo")}));
}

TEST(amf3, amf0_writes_amf3_only_values_after_the_avmplus_marker) {
    std::vector<std::uint8_t> out;
    amf0::encode(integer(127), out);
    EXPECT_EQ(out, to_vector(wire(bytes(0x11), integer_127)));
    out.clear();
    const auto foo =
        object("Foo", false, {"x", "y"}, {{"x", integer(5)}, {"y", amf_value::make_string("z")}});
    amf0::encode(foo, out);
    EXPECT_EQ(out, to_vector(wire(bytes(0x11), sealed_object_wire)));
    byte_reader r(out);
    const auto back = amf0::decode(r);
    ASSERT_TRUE(back.has_value()) << back.error().message();
    EXPECT_EQ(*back, foo);
}

TEST(amf3, amf0_bounds_carry_into_amf3) {
    // 20 AMF0 arrays, then AVM+ and `n` AMF3 arrays: 32 containers in all is the limit.
    const auto build = [](std::size_t n) {
        std::vector<std::uint8_t> in;
        for (int i = 0; i < 20; ++i) in.insert(in.end(), {0x0A, 0x00, 0x00, 0x00, 0x01});
        in.push_back(0x11);
        const auto inner = nested_arrays(n);
        in.insert(in.end(), inner.begin(), inner.end());
        return in;
    };
    const auto decode0 = [](const std::vector<std::uint8_t>& in, const amf_limits& limits = {}) {
        byte_reader r(in);
        const auto v = amf0::decode(r, limits);
        return v ? error_code{} : v.error();
    };
    EXPECT_EQ(decode0(build(12)), error_code{});
    EXPECT_EQ(decode0(build(13)), error::amf_depth_exceeded);
    // The memory budget is shared as well.
    EXPECT_EQ(decode0(build(1), {.max_total_bytes = 22 * sizeof(amf_value)}), error_code{});
    EXPECT_EQ(decode0(build(1), {.max_total_bytes = 22 * sizeof(amf_value) - 1}),
              error::amf_too_large);
}

}  // namespace
}  // namespace rtmpgate::protocol
