#include "gateway/net/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
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

}  // namespace

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
    line += text;
    line += '\n';
    // One write() per record: lines from several threads never interleave.
    for (std::size_t done = 0; done < line.size();) {
        const auto n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace rtmpgate::gateway::log
