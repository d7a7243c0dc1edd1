// The cost of one log record, formatting and the write() to stderr (sent to /dev/null here).
//
// bm_close_line: the line every RTMP connection writes when it closes (a dozen arguments, short
// and clean names): the common case. bm_hostile_line: the same line with an app name of 1,000
// bytes full of control bytes and invalid UTF-8, what escaping costs at worst. bm_disabled: a
// debug record below the level, which must cost next to nothing.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gateway/net/log.hpp"

namespace rtmpgate::gateway {
namespace {

struct stderr_to_null {
    stderr_to_null() {
        saved = ::dup(STDERR_FILENO);
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, STDERR_FILENO);
        ::close(null);
    }
    ~stderr_to_null() {
        ::dup2(saved, STDERR_FILENO);
        ::close(saved);
    }
    int saved = -1;
};

void close_line(const std::string& app, const std::string& stream) {
    const std::uint64_t in = 123456789, out = 987654321, dropped = 0;
    log::info("conn 12345", ": close ", "rtmp", " peer=", "127.0.0.1:53211", " app=", app,
              " stream=", stream, " role=", "publisher", " in=", in, " out=", out,
              " dropped=", dropped, " duration=", 61, ".", 3, "s reason=", "closed by peer");
}

void bm_close_line(benchmark::State& state) {
    stderr_to_null quiet;
    const std::string app = "live", stream = "live/camera-17";
    for (auto _ : state) close_line(app, stream);
}
BENCHMARK(bm_close_line);

void bm_hostile_line(benchmark::State& state) {
    stderr_to_null quiet;
    std::string app;
    for (int i = 0; i < 1000; ++i)
        app += static_cast<char>(i % 3 == 0 ? '\n' : i % 3 == 1 ? '\xff' : 'a');
    const std::string stream = "live/camera-17";
    for (auto _ : state) close_line(app, stream);
}
BENCHMARK(bm_hostile_line);

void bm_disabled(benchmark::State& state) {
    const std::string app = "live";
    for (auto _ : state) log::debug("conn 12345", ": app=", app, " n=", 42);
}
BENCHMARK(bm_disabled);

}  // namespace
}  // namespace rtmpgate::gateway

BENCHMARK_MAIN();
