// One-line log records to stderr: "2026-11-25T10:00:00.123Z info  conn 12: message".
// Thread-safe; a record is written with one write() so lines from several threads never mix.
// Arguments are streamed with operator<< in order: log::info("conn ", id, " closed").
//
// A record is always one line written by the gateway, whatever a client sent (app names, stream
// names, tcUrl, HTTP paths and headers, TLS server names, a backend's error text):
// - every string argument (std::string, string_view, char arrays and pointers, single chars) is
//   escaped by append_escaped below and cut after max_argument_bytes, so no call site can
//   forget to;
// - write() escapes any byte that is still unsafe in the finished text (one that came through
//   another type's operator<<) and cuts the record after max_line_bytes.
// log::quoted(text) shows a value between double quotes with '"' escaped, so that a client's
// text cannot pass for other fields of the line (app="a b=c" rather than app=a b=c).
#pragma once

#include <concepts>
#include <cstddef>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace rtmpgate::gateway::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(level l) noexcept;
bool enabled(level l) noexcept;
// "error", "warn", "info", "debug"; false if unknown.
bool parse_level(std::string_view text, level& out) noexcept;
// Writes `text` as one record; see the top of this file for what it escapes and cuts.
void write(level l, std::string_view text);

// The most octets of one string argument a record shows; longer ones end in "...[N bytes]"
// (N: the argument's whole length).
inline constexpr std::size_t max_argument_bytes = 512;
// The most octets of one record's text (after escaping); longer ones are cut, with the same marker.
inline constexpr std::size_t max_line_bytes = 8192;

// Appends `text` to `out` so that it reads as one line of printable text: printable ASCII and
// well-formed UTF-8 as they are; a backslash as "\\" (so that "\x0a" in the log was never a
// client's literal text); as "\xNN" per octet: control characters (C0 with CR, LF, TAB and NUL;
// DEL; C1, U+0080..U+009F, which some viewers take for a line break), U+2028 and U+2029 (line
// and paragraph separators), the bidirectional controls (U+200E, U+200F, U+202A..U+202E,
// U+2066..U+2069) and every octet that is not part of well-formed UTF-8 (overlong forms,
// surrogates, beyond U+10FFFF, truncated sequences). At most `max_bytes` octets of `text` are
// shown, never cutting a character; a longer text ends in "...[N bytes]".
void append_escaped(std::string& out, std::string_view text,
                    std::size_t max_bytes = max_argument_bytes);
// append_escaped into a new string.
std::string escaped(std::string_view text, std::size_t max_bytes = max_argument_bytes);

// A string argument shown between double quotes, with '"' escaped too ("\x22").
struct quoted {
    std::string_view text;
};

namespace detail {

// Writes `text` escaped (and cut) into the record being built.
void put_escaped(std::ostream& line, std::string_view text);
void put_quoted(std::ostream& line, std::string_view text);

template <typename T>
concept string_like = std::convertible_to<const T&, std::string_view>;
template <typename T>
concept character =
    std::same_as<T, char> || std::same_as<T, signed char> || std::same_as<T, unsigned char>;

template <typename T>
void put(std::ostream& line, const T& value) {
    if constexpr (std::is_pointer_v<T> && string_like<T>) {
        put_escaped(line, value ? std::string_view(value) : std::string_view("(null)"));
    } else if constexpr (string_like<T>) {
        put_escaped(line, std::string_view(value));
    } else if constexpr (character<T>) {
        const char c = static_cast<char>(value);
        put_escaped(line, std::string_view(&c, 1));
    } else if constexpr (std::same_as<T, quoted>) {
        put_quoted(line, value.text);
    } else {
        line << value;  // numbers, endpoints, manipulators: write() checks what they wrote
    }
}

}  // namespace detail

template <typename... Args>
void at(level l, const Args&... args) {
    if (!enabled(l)) return;
    std::ostringstream line;
    (detail::put(line, args), ...);
    write(l, line.view());
}
// log::error(...), log::warn(...), log::info(...), log::debug(...): at() with that level.
template <level L>
struct writer_at {
    template <typename... Args>
    void operator()(const Args&... args) const {
        at(L, args...);
    }
};
inline constexpr writer_at<level::error> error{};
inline constexpr writer_at<level::warn> warn{};
inline constexpr writer_at<level::info> info{};
inline constexpr writer_at<level::debug> debug{};

}  // namespace rtmpgate::gateway::log
