#include "protocol/amf0.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "tests/protocol/amf_wire.hpp"

namespace rtmpgate::protocol {
namespace {

using test::bytes;
using test::text;
using test::to_vector;
using test::wire;

// ---- wire vectors, one per type (AMF0 spec §2) ----------------------------------------------

constexpr auto number_wire = wire(bytes(0x00),                                // number marker
                                  bytes(0x3F, 0xF8, 0, 0, 0, 0, 0, 0));       // 1.5
constexpr auto true_wire = bytes(0x01,                                        // boolean marker
                                 0x01);                                       // true
constexpr auto false_wire = bytes(0x01,                                       // boolean marker
                                  0x00);                                      // false
constexpr auto string_wire = wire(bytes(0x02),                                // string marker
                                  bytes(0x00, 0x04), text("live"));           // u16 length, "live"
constexpr auto empty_string_wire = bytes(0x02,                                // string marker
                                         0x00, 0x00);                         // u16 length 0
constexpr auto object_wire = wire(bytes(0x03),                                // object marker
                                  bytes(0x00, 0x01), text("a"),               // key "a"
                                  bytes(0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0),  //   number 1
                                  bytes(0x00, 0x01), text("b"),               // key "b"
                                  bytes(0x05),                                //   null
                                  bytes(0x00, 0x00, 0x09));                   // object end
constexpr auto null_wire = bytes(0x05);                                       // null marker
constexpr auto undefined_wire = bytes(0x06);                                  // undefined marker
constexpr auto ecma_array_wire = wire(bytes(0x08),                            // ECMA array marker
                                      bytes(0x00, 0x00, 0x00, 0x01),          // count 1
                                      bytes(0x00, 0x08), text("duration"),    // key "duration"
                                      bytes(0x00, 0, 0, 0, 0, 0, 0, 0, 0),    //   number 0
                                      bytes(0x00, 0x00, 0x09));               // object end
constexpr auto strict_array_wire = wire(bytes(0x0A),                          // strict array marker
                                        bytes(0x00, 0x00, 0x00, 0x02),        // count 2
                                        bytes(0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 0),  // number 2
                                        bytes(0x02, 0x00, 0x01), text("x"));        // string "x"
constexpr auto date_wire =
    wire(bytes(0x0B),                                                   // date marker
         bytes(0x42, 0x78, 0xBC, 0xFE, 0x56, 0x80, 0, 0),               // 1700000000000 ms
         bytes(0xFF, 0x88));                                            // time zone -120
constexpr auto xml_document_wire = wire(bytes(0x0F),                    // XML document marker
                                        bytes(0x00, 0x00, 0x00, 0x07),  // u32 length 7
                                        text("<a></a>"));
constexpr auto typed_object_wire = wire(bytes(0x10),                     // typed object marker
                                        bytes(0x00, 0x03), text("Foo"),  // class name "Foo"
                                        bytes(0x00, 0x01), text("x"),    // key "x"
                                        bytes(0x01, 0x00),               //   false
                                        bytes(0x00, 0x00, 0x09));        // object end

amf_value object_value() {
    return amf_value::make_object(
        {{"a", amf_value::make_number(1)}, {"b", amf_value::make_null()}});
}
amf_value strict_array_value() {
    amf_value v;
    v.kind = amf_kind::strict_array;
    v.elements = {amf_value::make_number(2), amf_value::make_string("x")};
    return v;
}
amf_value date_value() {
    amf_value v;
    v.kind = amf_kind::date;
    v.number = 1700000000000.0;
    v.timezone = -120;
    return v;
}
amf_value xml_document_value() {
    amf_value v;
    v.kind = amf_kind::xml_document;
    v.string = "<a></a>";
    return v;
}
amf_value typed_object_value() {
    amf_value v;
    v.kind = amf_kind::typed_object;
    v.class_name = "Foo";
    v.properties = {{"x", amf_value::make_boolean(false)}};
    return v;
}

amf_value decode_one(std::span<const std::uint8_t> in, const amf_limits& limits = {}) {
    byte_reader r(in);
    auto v = amf0::decode(r, limits);
    EXPECT_TRUE(v.has_value()) << (v ? "" : v.error().message());
    EXPECT_TRUE(r.empty()) << r.remaining() << " bytes left";
    return v ? *v : amf_value{};
}

error_code decode_failure(std::span<const std::uint8_t> in, const amf_limits& limits = {}) {
    byte_reader r(in);
    const auto v = amf0::decode(r, limits);
    EXPECT_FALSE(v.has_value());
    return v ? error_code{} : v.error();
}

std::vector<std::uint8_t> encode(const amf_value& v) {
    std::vector<std::uint8_t> out;
    amf0::encode(v, out);
    return out;
}

struct wire_case {
    const char* name;
    std::vector<std::uint8_t> wire;
    amf_value value;
};

std::vector<wire_case> wire_cases() {
    return {
        {"number", to_vector(number_wire), amf_value::make_number(1.5)},
        {"true", to_vector(true_wire), amf_value::make_boolean(true)},
        {"false", to_vector(false_wire), amf_value::make_boolean(false)},
        {"string", to_vector(string_wire), amf_value::make_string("live")},
        {"empty string", to_vector(empty_string_wire), amf_value::make_string("")},
        {"object", to_vector(object_wire), object_value()},
        {"null", to_vector(null_wire), amf_value::make_null()},
        {"undefined", to_vector(undefined_wire), amf_value::make_undefined()},
        {"ecma array", to_vector(ecma_array_wire),
         amf_value::make_ecma_array({{"duration", amf_value::make_number(0)}})},
        {"strict array", to_vector(strict_array_wire), strict_array_value()},
        {"date", to_vector(date_wire), date_value()},
        {"xml document", to_vector(xml_document_wire), xml_document_value()},
        {"typed object", to_vector(typed_object_wire), typed_object_value()},
    };
}

TEST(amf0, every_type_decodes_from_its_wire_vector) {
    for (const auto& c : wire_cases()) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode_one(c.wire), c.value);
    }
}

TEST(amf0, every_type_encodes_to_its_wire_vector) {
    for (const auto& c : wire_cases()) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(encode(c.value), c.wire);
    }
}

TEST(amf0, every_proper_prefix_of_a_wire_vector_is_truncated) {
    for (const auto& c : wire_cases()) {
        if (c.value.is(amf_kind::ecma_array)) continue;  // may end early: see the ECMA tests
        for (std::size_t n = 0; n < c.wire.size(); ++n) {
            SCOPED_TRACE(std::string(c.name) + " cut at " + std::to_string(n));
            EXPECT_EQ(decode_failure(std::span(c.wire).first(n)), error::truncated);
        }
    }
}

// ---- strings ---------------------------------------------------------------------------------

constexpr auto long_string_header = bytes(0x0C,                     // long string marker
                                          0x00, 0x01, 0x00, 0x00);  // u32 length 65536

TEST(amf0, long_string_decodes) {
    auto in = to_vector(long_string_header);
    in.resize(in.size() + 65536, 'y');
    EXPECT_EQ(decode_one(in), amf_value::make_string(std::string(65536, 'y')));
}

TEST(amf0, string_form_follows_length) {
    const auto at_limit = encode(amf_value::make_string(std::string(65535, 'z')));
    ASSERT_EQ(at_limit.size(), 3u + 65535u);
    EXPECT_EQ(at_limit[0], 0x02);  // string: u16 length 0xFFFF
    EXPECT_EQ(at_limit[1], 0xFF);
    EXPECT_EQ(at_limit[2], 0xFF);

    const auto above = encode(amf_value::make_string(std::string(65536, 'y')));
    auto expected = to_vector(long_string_header);
    expected.resize(expected.size() + 65536, 'y');
    EXPECT_EQ(above, expected);
}

// ---- objects and arrays ----------------------------------------------------------------------

// ECMA array count is advisory: FMLE and Flash write 0 whatever follows.
constexpr auto ecma_array_count_zero = wire(bytes(0x08),                    // ECMA array
                                            bytes(0x00, 0x00, 0x00, 0x00),  // count 0 (wrong)
                                            bytes(0x00, 0x01), text("w"),   // key "w"
                                            bytes(0x00, 0x40, 0x94, 0, 0, 0, 0, 0, 0),  // 1280
                                            bytes(0x00, 0x01), text("h"),               // key "h"
                                            bytes(0x00, 0x40, 0x86, 0x80, 0, 0, 0, 0, 0),  // 720
                                            bytes(0x00, 0x00, 0x09));  // object end

TEST(amf0, ecma_array_count_is_advisory) {
    EXPECT_EQ(decode_one(ecma_array_count_zero),
              amf_value::make_ecma_array(
                  {{"w", amf_value::make_number(1280)}, {"h", amf_value::make_number(720)}}));
}

// lal (before its PR #237) ended onMetaData's ECMA array without the object-end marker.
constexpr auto ecma_array_without_end =
    wire(bytes(0x08),                                 // ECMA array
         bytes(0x00, 0x00, 0x00, 0x01),               // count 1
         bytes(0x00, 0x05), text("width"),            // key "width"
         bytes(0x00, 0x40, 0x94, 0, 0, 0, 0, 0, 0));  // 1280
                                                      // (end of input)

TEST(amf0, ecma_array_missing_its_end_at_end_of_input_is_accepted) {
    EXPECT_EQ(decode_one(ecma_array_without_end),
              amf_value::make_ecma_array({{"width", amf_value::make_number(1280)}}));
}

TEST(amf0, ecma_array_missing_its_end_elsewhere_is_truncated) {
    // Half an object-end marker.
    auto half_end = to_vector(ecma_array_without_end);
    half_end.push_back(0x00);
    half_end.push_back(0x00);
    EXPECT_EQ(decode_failure(half_end), error::truncated);
    // Inside an object, the object's own end is then missing.
    auto nested = to_vector(wire(bytes(0x03, 0x00, 0x01), text("m")));
    nested.insert(nested.end(), ecma_array_without_end.begin(), ecma_array_without_end.end());
    EXPECT_EQ(decode_failure(nested), error::truncated);
}

TEST(amf0, object_requires_its_end) {
    const auto no_end = std::span(object_wire).first(object_wire.size() - 3);
    EXPECT_EQ(decode_failure(no_end), error::truncated);
}

constexpr auto empty_key_property = wire(bytes(0x03),               // object
                                         bytes(0x00, 0x00),         // key "" (not followed by 09)
                                         bytes(0x05),               //   null
                                         bytes(0x00, 0x00, 0x09));  // object end

TEST(amf0, empty_key_with_a_value_is_a_property) {
    EXPECT_EQ(decode_one(empty_key_property),
              amf_value::make_object({{"", amf_value::make_null()}}));
    EXPECT_EQ(encode(decode_one(empty_key_property)), to_vector(empty_key_property));
}

// ---- references (§2.9) -----------------------------------------------------------------------

// Table: 0 the outer array, 1 the object {n: 7}, then a reference to 1.
constexpr auto reference_wire = wire(bytes(0x0A, 0x00, 0x00, 0x00, 0x02),  // strict array, 2
                                     bytes(0x03),                          //   object (index 1)
                                     bytes(0x00, 0x01), text("n"),         //     key "n"
                                     bytes(0x00, 0x40, 0x1C, 0, 0, 0, 0, 0, 0),  //     7
                                     bytes(0x00, 0x00, 0x09),                    //   object end
                                     bytes(0x07, 0x00, 0x01));                   //   reference 1

TEST(amf0, reference_resolves_to_a_copy) {
    const auto v = decode_one(reference_wire);
    const auto n = amf_value::make_object({{"n", amf_value::make_number(7)}});
    ASSERT_EQ(v.elements.size(), 2u);
    EXPECT_EQ(v.elements[0], n);
    EXPECT_EQ(v.elements[1], n);
}

TEST(amf0, reference_to_an_unfinished_value_is_refused) {
    // The outer array (index 0) refers to itself: a cycle.
    constexpr auto cycle = bytes(0x0A, 0x00, 0x00, 0x00, 0x01,  // strict array, 1 element
                                 0x07, 0x00, 0x00);             //   reference 0
    EXPECT_EQ(decode_failure(cycle), error::amf_bad_reference);
}

TEST(amf0, reference_beyond_the_table_is_refused) {
    constexpr auto nothing_yet = bytes(0x07, 0x00, 0x00);  // reference 0, table empty
    EXPECT_EQ(decode_failure(nothing_yet), error::amf_bad_reference);
    auto past = to_vector(reference_wire);
    past.back() = 0x02;  // reference 2: only 0 and 1 exist
    EXPECT_EQ(decode_failure(past), error::amf_bad_reference);
}

TEST(amf0, references_span_the_values_of_one_decode_all) {
    constexpr auto body = wire(bytes(0x03, 0x00, 0x01), text("k"), bytes(0x05, 0x00, 0x00, 0x09),
                               bytes(0x07, 0x00, 0x00));  // second value: reference 0
    byte_reader r(body);
    const auto decoded = amf0::decode_all(r);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
    const auto& values = *decoded;
    ASSERT_EQ(values.size(), 2u);
    EXPECT_EQ(values[1], values[0]);
}

// ---- refused and unknown markers -------------------------------------------------------------

TEST(amf0, reserved_types_are_unsupported) {
    for (std::uint8_t m : {0x04 /* movieclip */, 0x0D /* unsupported */, 0x0E /* recordset */}) {
        const std::uint8_t in[] = {m};
        EXPECT_EQ(decode_failure(in), error::amf_unsupported) << int(m);
    }
}

TEST(amf0, unknown_and_stray_markers_are_refused) {
    for (std::uint8_t m : {0x09 /* object end as a value */, 0x12, 0x7F, 0xFF}) {
        const std::uint8_t in[] = {m};
        EXPECT_EQ(decode_failure(in), error::amf_unknown_marker) << int(m);
    }
}

// ---- bounds ----------------------------------------------------------------------------------

std::vector<std::uint8_t> nested_strict_arrays(std::size_t depth) {
    std::vector<std::uint8_t> in;
    for (std::size_t i = 0; i < depth; ++i)
        in.insert(in.end(), {0x0A, 0x00, 0x00, 0x00, 0x01});  // strict array of one
    in.push_back(0x05);                                       // null
    return in;
}

TEST(amf0, nesting_is_bounded) {
    amf_limits limits;
    EXPECT_NO_FATAL_FAILURE(decode_one(nested_strict_arrays(limits.max_depth)));
    EXPECT_EQ(decode_failure(nested_strict_arrays(limits.max_depth + 1)),
              error::amf_depth_exceeded);
    EXPECT_EQ(decode_failure(nested_strict_arrays(100000)), error::amf_depth_exceeded);
}

TEST(amf0, references_count_toward_depth) {
    // Index 1 is 20 arrays deep; the reference to it sits inside the outer array and `wraps`
    // more, so its copy would reach 1 + wraps + 20 containers.
    const auto build = [](int wraps) {
        std::vector<std::uint8_t> in = {0x0A, 0x00, 0x00, 0x00, 0x02};  // outer array of 2
        const auto deep = nested_strict_arrays(20);
        in.insert(in.end(), deep.begin(), deep.end());
        for (int i = 0; i < wraps; ++i) in.insert(in.end(), {0x0A, 0x00, 0x00, 0x00, 0x01});
        in.insert(in.end(), {0x07, 0x00, 0x01});  // reference 1
        return in;
    };
    EXPECT_NO_FATAL_FAILURE(decode_one(build(11)));  // exactly 32
    EXPECT_EQ(decode_failure(build(12)), error::amf_depth_exceeded);
}

TEST(amf0, elements_per_container_are_bounded) {
    constexpr auto too_many = bytes(0x0A, 0x00, 0x01, 0x00, 0x01);  // strict array, 65537
    EXPECT_EQ(decode_failure(too_many), error::amf_too_many_elements);

    amf_limits two;
    two.max_elements = 2;
    constexpr auto three = wire(bytes(0x03), bytes(0x00, 0x01), text("a"), bytes(0x05),
                                bytes(0x00, 0x01), text("b"), bytes(0x05),  //
                                bytes(0x00, 0x01), text("c"), bytes(0x05),  // third property
                                bytes(0x00, 0x00, 0x09));
    EXPECT_EQ(decode_failure(three, two), error::amf_too_many_elements);
    EXPECT_NO_FATAL_FAILURE(decode_one(object_wire, two));
}

TEST(amf0, string_length_is_bounded) {
    constexpr auto two_mib = bytes(0x0C, 0x00, 0x20, 0x00, 0x00, 'a');  // long string, 2 MiB
    EXPECT_EQ(decode_failure(two_mib), error::amf_string_too_long);
    amf_limits small;
    small.max_string_length = 3;
    EXPECT_EQ(decode_failure(string_wire, small), error::amf_string_too_long);  // "live"
    EXPECT_EQ(decode_failure(typed_object_wire, {.max_string_length = 2}),
              error::amf_string_too_long);  // class "Foo"
}

TEST(amf0, huge_declared_lengths_with_short_input_are_truncated) {
    constexpr auto string_ffff = bytes(0x02, 0xFF, 0xFF, 'a');              // 65535 declared
    constexpr auto long_string = bytes(0x0C, 0x00, 0x0F, 0xFF, 0xFF, 'a');  // 1 MiB - 1
    constexpr auto xml = bytes(0x0F, 0x00, 0x0F, 0xFF, 0xFF, 'a');          // 1 MiB - 1
    constexpr auto class_name = bytes(0x10, 0xFF, 0xFF, 'F');               // 65535
    constexpr auto key = bytes(0x03, 0xFF, 0xFF, 'k');                      // 65535
    constexpr auto array = bytes(0x0A, 0x00, 0x00, 0xFF, 0xFF, 0x05);       // 65535 elements
    for (std::span<const std::uint8_t> in :
         {std::span<const std::uint8_t>(string_ffff), std::span<const std::uint8_t>(long_string),
          std::span<const std::uint8_t>(xml), std::span<const std::uint8_t>(class_name),
          std::span<const std::uint8_t>(key), std::span<const std::uint8_t>(array)})
        EXPECT_EQ(decode_failure(in), error::truncated);

    // With the bounds lifted, 4 GiB declared is still only a failed bounds check: nothing of
    // that size is allocated (AddressSanitizer would report it).
    amf_limits unbounded;
    unbounded.max_string_length = std::numeric_limits<std::size_t>::max();
    unbounded.max_elements = std::numeric_limits<std::size_t>::max();
    constexpr auto long_4g = bytes(0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a');
    constexpr auto array_4g = bytes(0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05);
    EXPECT_EQ(decode_failure(long_4g, unbounded), error::truncated);
    EXPECT_EQ(decode_failure(array_4g, unbounded), error::truncated);
}

// Billion laughs: each level is an array of two references to the level before, doubling the
// decoded size for 6 bytes of input.
std::vector<std::uint8_t> reference_doubling(int levels) {
    std::vector<std::uint8_t> in = {0x0A, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(levels + 1),
                                    0x0A, 0x00, 0x00, 0x00, 0x01,
                                    0x05};  // index 1: [null]
    for (int i = 0; i < levels; ++i) {
        const auto previous = static_cast<std::uint8_t>(i + 1);
        in.insert(in.end(), {0x0A, 0x00, 0x00, 0x00, 0x02,  // strict array of 2 (index i + 2)
                             0x07, 0x00, previous, 0x07, 0x00, previous});
    }
    return in;
}

TEST(amf0, reference_expansion_is_bounded) {
    EXPECT_NO_FATAL_FAILURE(decode_one(reference_doubling(8)));
    // 24 levels would be 2^24 values: the memory bound stops it long before.
    const auto bomb = reference_doubling(24);
    EXPECT_LT(bomb.size(), 300u);
    EXPECT_EQ(decode_failure(bomb), error::amf_too_large);
}

TEST(amf0, memory_bound_counts_strings) {
    amf_limits tight;
    tight.max_total_bytes = sizeof(amf_value) + 3;
    EXPECT_EQ(decode_failure(string_wire, tight), error::amf_too_large);  // "live" is 4
    tight.max_total_bytes += 1;
    EXPECT_NO_FATAL_FAILURE(decode_one(string_wire, tight));
}

// ---- what real clients send ------------------------------------------------------------------

// ffmpeg 5.1 publishing to rtmp://127.0.0.1/live/key (libavformat/rtmpproto.c gen_connect): the
// command name, transaction id 1, and the command object with app, type (publishers only),
// flashVer and tcUrl, in that order.
constexpr auto ffmpeg_connect =
    wire(bytes(0x02, 0x00, 0x07), text("connect"),     // string "connect"
         bytes(0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0),    // number 1 (transaction)
         bytes(0x03),                                  // object
         bytes(0x00, 0x03), text("app"),               //   key "app"
         bytes(0x02, 0x00, 0x04), text("live"),        //     "live"
         bytes(0x00, 0x04), text("type"),              //   key "type"
         bytes(0x02, 0x00, 0x0A), text("nonprivate"),  //     "nonprivate"
         bytes(0x00, 0x08), text("flashVer"),          //   key "flashVer"
         bytes(0x02, 0x00, 0x24), text("FMLE/3.0 (compatible; Lavf59.27.100)"), bytes(0x00, 0x05),
         text("tcUrl"),                                                //   key "tcUrl"
         bytes(0x02, 0x00, 0x1A), text("rtmp://127.0.0.1:1935/live"),  //     tcUrl
         bytes(0x00, 0x00, 0x09));                                     // object end

TEST(amf0, ffmpeg_connect_command_decodes) {
    byte_reader r(ffmpeg_connect);
    const auto decoded = amf0::decode_all(r);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
    const auto& values = *decoded;
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(values[0], amf_value::make_string("connect"));
    EXPECT_EQ(values[1], amf_value::make_number(1));
    const auto& object = values[2];
    ASSERT_TRUE(object.is(amf_kind::object));
    EXPECT_EQ(object.get_string("app"), "live");
    EXPECT_EQ(object.get_string("type"), "nonprivate");
    EXPECT_EQ(object.get_string("flashVer"), "FMLE/3.0 (compatible; Lavf59.27.100)");
    EXPECT_EQ(object.get_string("tcUrl"), "rtmp://127.0.0.1:1935/live");
    EXPECT_EQ(object.properties.size(), 4u);

    // Written back, it is byte for byte what ffmpeg sent.
    std::vector<std::uint8_t> out;
    for (const auto& v : values) amf0::encode(v, out);
    EXPECT_EQ(out, to_vector(ffmpeg_connect));
}

// ffmpeg 5.1 (libavformat/flvenc.c) before the first media: @setDataFrame, onMetaData and an
// ECMA array with the real count (abridged here to four of its properties).
constexpr auto ffmpeg_set_data_frame =
    wire(bytes(0x02, 0x00, 0x0D), text("@setDataFrame"),  // string "@setDataFrame"
         bytes(0x02, 0x00, 0x0A), text("onMetaData"),     // string "onMetaData"
         bytes(0x08, 0x00, 0x00, 0x00, 0x04),             // ECMA array, count 4
         bytes(0x00, 0x08), text("duration"),             //   key "duration"
         bytes(0x00, 0, 0, 0, 0, 0, 0, 0, 0),             //     0
         bytes(0x00, 0x05), text("width"),                //   key "width"
         bytes(0x00, 0x40, 0x94, 0, 0, 0, 0, 0, 0),       //     1280
         bytes(0x00, 0x06), text("stereo"),               //   key "stereo"
         bytes(0x01, 0x01),                               //     true
         bytes(0x00, 0x07), text("encoder"),              //   key "encoder"
         bytes(0x02, 0x00, 0x0D), text("Lavf59.27.100"),  //     "Lavf59.27.100"
         bytes(0x00, 0x00, 0x09));                        // object end

TEST(amf0, ffmpeg_on_metadata_decodes) {
    byte_reader r(ffmpeg_set_data_frame);
    const auto decoded = amf0::decode_all(r);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
    const auto& values = *decoded;
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(values[1].string, "onMetaData");
    const auto& metadata = values[2];
    ASSERT_TRUE(metadata.is(amf_kind::ecma_array));
    EXPECT_EQ(metadata.get_number("width"), 1280);
    EXPECT_EQ(metadata.get_string("encoder"), "Lavf59.27.100");
    ASSERT_NE(metadata.find("stereo"), nullptr);
    EXPECT_TRUE(metadata.find("stereo")->boolean);

    std::vector<std::uint8_t> out;
    for (const auto& v : values) amf0::encode(v, out);
    EXPECT_EQ(out, to_vector(ffmpeg_set_data_frame));
}

// ---- round trips and encoder choices ---------------------------------------------------------

TEST(amf0, nested_values_round_trip) {
    amf_value inner = strict_array_value();
    inner.elements.push_back(date_value());
    inner.elements.push_back(amf_value::make_string(std::string(70000, 'q')));
    amf_value typed = typed_object_value();
    typed.set("list", inner);
    amf_value v = amf_value::make_ecma_array({{"typed", typed},
                                              {"xml", xml_document_value()},
                                              {"empty", amf_value::make_object()},
                                              {"undefined", amf_value::make_undefined()}});
    const auto bytes_out = encode(v);
    EXPECT_EQ(decode_one(bytes_out), v);
}

TEST(amf0, integer_outside_u29_range_is_written_as_number) {
    amf_value big;
    big.kind = amf_kind::integer;
    big.integer = 1 << 28;                                                 // one past U29's largest
    constexpr auto as_number = bytes(0x00, 0x41, 0xB0, 0, 0, 0, 0, 0, 0);  // number 268435456
    EXPECT_EQ(encode(big), to_vector(as_number));
}

TEST(amf0, decode_leaves_the_reader_after_the_value) {
    constexpr auto two = wire(true_wire, null_wire);
    byte_reader r(two);
    const auto v = amf0::decode(r);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, amf_value::make_boolean(true));
    EXPECT_EQ(r.position(), true_wire.size());
}

TEST(amf0, decode_all_of_nothing_is_nothing) {
    byte_reader r(std::span<const std::uint8_t>{});
    const auto values = amf0::decode_all(r);
    ASSERT_TRUE(values.has_value());
    EXPECT_TRUE(values->empty());
}

}  // namespace
}  // namespace rtmpgate::protocol
