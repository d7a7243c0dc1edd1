#include "gateway/net/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>

// What a client can put in a name must never make a second line, a raw control byte or an
// unbounded line: the escaping rules one by one, then whole records as written to stderr.

namespace rtmpgate::gateway {
namespace {

using namespace std::string_literals;

TEST(log_escaped, keeps_printable_ascii) {
    EXPECT_EQ(log::escaped("live/stream-1?token=abc&e=9 x"), "live/stream-1?token=abc&e=9 x");
    EXPECT_EQ(log::escaped(""), "");
}

TEST(log_escaped, escapes_cr_lf_and_tab) {
    EXPECT_EQ(log::escaped("a\r\nb\tc"), "a\\x0d\\x0ab\\x09c");
}

TEST(log_escaped, escapes_nul_and_every_c0_control_and_del) {
    EXPECT_EQ(log::escaped("a\0b"s), "a\\x00b");
    EXPECT_EQ(log::escaped("\x01\x1b[31m\x1f"), "\\x01\\x1b[31m\\x1f");
    EXPECT_EQ(log::escaped("x\x7fy"), "x\\x7fy");
}

TEST(log_escaped, doubles_a_backslash_so_that_escapes_cannot_be_faked) {
    EXPECT_EQ(log::escaped("a\\x0ab"), "a\\\\x0ab");
}

TEST(log_escaped, keeps_well_formed_utf8) {
    const std::string text = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe4\xb8\xad";  // é ✓ 😀 中
    EXPECT_EQ(log::escaped(text), text);
}

TEST(log_escaped, escapes_each_octet_of_malformed_utf8) {
    EXPECT_EQ(log::escaped("a\xff"
                           "b"),
              "a\\xffb");                                                 // never a lead octet
    EXPECT_EQ(log::escaped("\x80"), "\\x80");                             // lone continuation
    EXPECT_EQ(log::escaped("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
    EXPECT_EQ(log::escaped("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong, 3 octets
    EXPECT_EQ(log::escaped("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate U+D800
    EXPECT_EQ(log::escaped("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
    EXPECT_EQ(log::escaped("\xe2\x9c"), "\\xe2\\x9c");                    // cut short at the end
    EXPECT_EQ(log::escaped("\xe2\x9c"
                           "a"),
              "\\xe2\\x9ca");  // cut short by ASCII
}

TEST(log_escaped, escapes_characters_that_break_or_reorder_a_line) {
    EXPECT_EQ(log::escaped("a\xc2\x85"
                           "b"),
              "a\\xc2\\x85b");                                   // NEL (C1)
    EXPECT_EQ(log::escaped("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");  // LINE SEPARATOR
    EXPECT_EQ(log::escaped("\xe2\x80\xa9"), "\\xe2\\x80\\xa9");  // PARAGRAPH SEPARATOR
    EXPECT_EQ(log::escaped("\xe2\x80\xae"), "\\xe2\\x80\\xae");  // RIGHT-TO-LEFT OVERRIDE
    EXPECT_EQ(log::escaped("\xe2\x81\xa6"), "\\xe2\\x81\\xa6");  // LEFT-TO-RIGHT ISOLATE
    EXPECT_EQ(log::escaped("\xc2\xa0"), "\xc2\xa0");             // NO-BREAK SPACE is kept
}

TEST(log_escaped, cuts_a_long_text_with_its_length) {
    const std::string text(60000, 'a');
    EXPECT_EQ(log::escaped(text), std::string(log::max_argument_bytes, 'a') + "...[60000 bytes]");
    EXPECT_EQ(log::escaped("abcdef", 3), "abc...[6 bytes]");
    EXPECT_EQ(log::escaped("abc", 3), "abc");
}

TEST(log_escaped, never_cuts_a_character_in_two) {
    // "é" is two octets: with room for one, it is left out whole.
    EXPECT_EQ(log::escaped("ab\xc3\xa9", 3), "ab...[4 bytes]");
    EXPECT_EQ(log::escaped("ab\xc3\xa9", 4), "ab\xc3\xa9");
}

TEST(log_escaped, a_hostile_long_text_stays_bounded) {
    std::string text;
    for (int i = 0; i < 30000; ++i) text += "\r\n";
    const auto out = log::escaped(text);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    EXPECT_EQ(out.find('\r'), std::string::npos);
    EXPECT_LE(out.size(), 4 * log::max_argument_bytes + 20);
    EXPECT_TRUE(out.ends_with("...[60000 bytes]"));
}

// Runs `f` with stderr going to a temporary file; what was written there.
template <typename F>
std::string captured_stderr(F f) {
    std::FILE* file = std::tmpfile();
    EXPECT_NE(file, nullptr);
    if (!file) return {};
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(::fileno(file), STDERR_FILENO);
    f();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::string out;
    std::rewind(file);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;)
        out.append(buffer, n);
    std::fclose(file);
    return out;
}

// Text after the timestamp and level of the one record in `out`; fails unless `out` is exactly
// one line.
std::string one_record(const std::string& out) {
    EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
    // "<timestamp> <level, 5 wide> <text>\n"
    const auto text_start = out.find(' ') + 7;
    return out.substr(text_start, out.size() - text_start - 1);
}

TEST(log_record, a_forged_line_in_an_argument_stays_in_its_line) {
    const std::string app = "a\r\n2026-01-01T00:00:00.000Z error FORGED: admin login from 10.0.0.1";
    const auto out = captured_stderr([&] { log::info("conn 1: connect app=", app, " done"); });
    EXPECT_EQ(one_record(out),
              "conn 1: connect app=a\\x0d\\x0a2026-01-01T00:00:00.000Z error FORGED: admin login "
              "from 10.0.0.1 done");
}

TEST(log_record, every_kind_of_string_argument_is_escaped) {
    const std::string s = "s\n";
    const std::string_view v = "v\n";
    const char* p = "p\n";
    const char* null = nullptr;
    const char c = '\n';
    const unsigned char u = 0;
    const auto out = captured_stderr([&] { log::info(s, v, p, "a\n", c, u, null); });
    EXPECT_EQ(one_record(out), "s\\x0av\\x0ap\\x0aa\\x0a\\x0a\\x00(null)");
}

TEST(log_record, numbers_and_manipulators_still_work) {
    const auto out =
        captured_stderr([] { log::info("n=", 42, " hex=0x", std::hex, 255, " ", 1.5); });
    EXPECT_EQ(one_record(out), "n=42 hex=0xff 1.5");
}

TEST(log_record, quoted_marks_where_a_client_string_starts_and_ends) {
    const auto out = captured_stderr([] { log::info("app=", log::quoted("a\" b=\\c\n"), " x"); });
    EXPECT_EQ(one_record(out), "app=\"a\\x22 b=\\\\c\\x0a\" x");
}

struct raw_text {
    std::string text;
};
std::ostream& operator<<(std::ostream& os, const raw_text& r) { return os << r.text; }

TEST(log_record, what_another_type_writes_is_escaped_by_the_sink) {
    const auto out = captured_stderr([] { log::warn("peer ", raw_text{"x\r\ny\0z\xff\\"s}); });
    // The backslash is not doubled here: the sink cannot tell it from an escape of an argument.
    EXPECT_EQ(one_record(out), "peer x\\x0d\\x0ay\\x00z\\xff\\");
}

TEST(log_record, long_arguments_and_records_are_cut) {
    const std::string app(60000, 'a');
    const auto out = captured_stderr([&] { log::info("app=", app, " end"); });
    EXPECT_EQ(one_record(out),
              "app=" + std::string(log::max_argument_bytes, 'a') + "...[60000 bytes] end");
    const auto direct = captured_stderr([&] { log::write(log::level::info, app); });
    EXPECT_EQ(one_record(direct), std::string(log::max_line_bytes, 'a') + "...[60000 bytes]");
}

TEST(log_record, a_level_below_the_threshold_writes_nothing) {
    const auto out = captured_stderr([] { log::debug("not shown"); });
    EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace rtmpgate::gateway
