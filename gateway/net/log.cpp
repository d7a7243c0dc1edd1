#include "gateway/net/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace rtmpgate::gateway::log {
namespace {

std::atomic<int> current_level{static_cast<int>(level::info)};

constexpr std::string_view names[] = {"error", "warn ", "info ", "debug"};

std::string timestamp() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t t = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[40];
    const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(text, n);
    out += '.';
    out += static_cast<char>('0' + ms / 100);
    out += static_cast<char>('0' + ms / 10 % 10);
    out += static_cast<char>('0' + ms % 10);
    out += 'Z';
    return out;
}

// What escape() does beyond control characters and malformed UTF-8.
struct escape_rules {
    bool backslash = true;  // a backslash doubled; not in write()'s pass over escaped text
    bool quote = false;     // '"' as \x22, inside log::quoted
};

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, std::string_view octets) {
    for (const unsigned char c : octets) {
        out += "\\x";
        out += hex_digits[c >> 4];
        out += hex_digits[c & 0x0f];
    }
}

// The octets every rule lets through as they are: printable ASCII but the escaped ones.
constexpr bool plain(unsigned char c, escape_rules rules) noexcept {
    return c >= 0x20 && c < 0x7f && !(rules.backslash && c == '\\') && !(rules.quote && c == '"');
}

// The length of the well-formed UTF-8 sequence of two octets or more at the start of `s`, and
// its code point; 0 if there is none (RFC 3629 section 4: no overlong forms, no surrogates,
// nothing beyond U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::uint32_t& code_point) noexcept {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = at(0);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the second octet's range
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        code_point = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        code_point = lead & 0x0f;
        if (lead == 0xe0) low = 0xa0;   // overlong below U+0800
        if (lead == 0xed) high = 0x9f;  // surrogates U+D800..U+DFFF
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        code_point = lead & 0x07;
        if (lead == 0xf0) low = 0x90;   // overlong below U+10000
        if (lead == 0xf4) high = 0x8f;  // beyond U+10FFFF
    } else {
        return 0;
    }
    if (s.size() < length) return 0;
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char c = at(i);
        if (c < (i == 1 ? low : 0x80) || c > (i == 1 ? high : 0xbf)) return 0;
        code_point = code_point << 6 | (c & 0x3f);
    }
    return length;
}

// Characters that are well formed but change how a line reads: C1 controls (U+0085 is a line
// break to some viewers), the line and paragraph separators, and the bidirectional controls
// that can make a line show text in another order than it has.
constexpr bool invisible_control(std::uint32_t cp) noexcept {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void append_cut_marker(std::string& out, std::size_t whole) {
    out += "...[";
    out += std::to_string(whole);
    out += " bytes]";
}

// append_escaped with `rules`.
void escape(std::string& out, std::string_view text, std::size_t max_bytes, escape_rules rules) {
    std::size_t i = 0;
    const std::size_t end = std::min(text.size(), max_bytes);
    while (i < end) {
        // Runs of plain ASCII are copied at once: the common case, every name of a sane client.
        std::size_t run = i;
        while (run < end && plain(static_cast<unsigned char>(text[run]), rules)) ++run;
        out.append(text.data() + i, run - i);
        i = run;
        if (i == end) break;
        const unsigned char c = static_cast<unsigned char>(text[i]);
        std::uint32_t cp = 0;
        const std::size_t n = c >= 0x80 ? utf8_sequence(text.substr(i), cp) : 0;
        if (n == 0) {
            if (c == '\\')
                out += "\\\\";
            else
                append_hex(out, text.substr(i, 1));  // control, quote or malformed
            i += 1;
            continue;
        }
        if (i + n > end) break;  // a character is never cut in two
        if (invisible_control(cp))
            append_hex(out, text.substr(i, n));
        else
            out.append(text.data() + i, n);
        i += n;
    }
    if (i < text.size()) append_cut_marker(out, text.size());
}

}  // namespace

void append_escaped(std::string& out, std::string_view text, std::size_t max_bytes) {
    escape(out, text, max_bytes, {});
}

std::string escaped(std::string_view text, std::size_t max_bytes) {
    std::string out;
    append_escaped(out, text, max_bytes);
    return out;
}

namespace detail {

void put_escaped(std::ostream& line, std::string_view text) {
    bool clean = text.size() <= max_argument_bytes;
    for (std::size_t i = 0; clean && i < text.size(); ++i)
        clean = plain(static_cast<unsigned char>(text[i]), {});
    if (clean) {
        line.write(text.data(), static_cast<std::streamsize>(text.size()));
        return;
    }
    std::string out;
    escape(out, text, max_argument_bytes, {});
    line.write(out.data(), static_cast<std::streamsize>(out.size()));
}

void put_quoted(std::ostream& line, std::string_view text) {
    std::string out = "\"";
    escape(out, text, max_argument_bytes, {.backslash = true, .quote = true});
    out += '"';
    line.write(out.data(), static_cast<std::streamsize>(out.size()));
}

}  // namespace detail

void set_level(level l) noexcept {
    current_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

bool enabled(level l) noexcept {
    return static_cast<int>(l) <= current_level.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view text, level& out) noexcept {
    for (int i = 0; i < 4; ++i) {
        std::string_view name = names[i];
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (text == name) return out = static_cast<level>(i), true;
    }
    return false;
}

void write(level l, std::string_view text) {
    std::string line = timestamp();
    line += ' ';
    line += names[static_cast<int>(l)];
    line += ' ';
    // The arguments were escaped one by one; this pass catches what another type's operator<<
    // wrote (and direct callers of write()) and bounds the record. On escaped text it only scans.
    escape(line, text, max_line_bytes, {.backslash = false});
    line += '\n';
    // One write() per record: lines from several threads never interleave.
    for (std::size_t done = 0; done < line.size();) {
        const auto n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace rtmpgate::gateway::log
