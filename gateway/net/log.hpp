// One-line log records to stderr: "2026-11-25T10:00:00.123Z info  conn 12: message".
// Thread-safe; a record is written with one write() so lines from several threads never mix.
// Arguments are streamed with operator<< in order: log::info("conn ", id, " closed").
#pragma once

#include <sstream>
#include <string_view>

namespace rtmpgate::gateway::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(level l) noexcept;
bool enabled(level l) noexcept;
// "error", "warn", "info", "debug"; false if unknown.
bool parse_level(std::string_view text, level& out) noexcept;
void write(level l, std::string_view text);

template <typename... Args>
void at(level l, const Args&... args) {
    if (!enabled(l)) return;
    std::ostringstream line;
    (line << ... << args);
    write(l, line.str());
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
