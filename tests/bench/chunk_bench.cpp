// Chunk codec throughput against memcpy of the same payload octets.
//
// For message sizes 1 KiB .. 256 KiB at chunk sizes 128, 4096 and 65536: decode (chunked wire
// bytes to a message), encode (message to chunked bytes, copying) and encode_gather (headers and
// pieces only). Counters: bytes_per_second counts payload octets; x_memcpy is that rate divided by
// the rate of bm_memcpy for the same number of octets, measured in the same run (keep it in
// any --benchmark_filter).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::protocol {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes pattern(std::size_t n) {
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return out;
}

message video_message(std::size_t size, std::uint32_t timestamp) {
    message m;
    m.chunk_stream_id = chunk_stream::video;
    m.timestamp = timestamp;
    m.message_type_id = static_cast<std::uint8_t>(message_type::video);
    m.message_stream_id = 1;
    m.payload = shared_bytes(pattern(size));
    return m;
}

constexpr std::array<std::size_t, 5> message_sizes = {1 << 10, 4 << 10, 16 << 10, 64 << 10,
                                                      256 << 10};

// The rate of bm_memcpy for each size, in octets per second, recorded when it runs. It is
// registered first, so it has run before any codec benchmark of the same size reads it: the
// ratio compares two loops timed by the same harness in the same process.
std::map<std::size_t, double>& memcpy_rates() {
    static std::map<std::size_t, double> rates;
    return rates;
}

void report(benchmark::State& state, std::size_t size) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
    const auto it = memcpy_rates().find(size);
    if (it == memcpy_rates().end()) {
        state.SkipWithError("bm_memcpy has not run for this size (filter it in)");
        return;
    }
    // x_memcpy = (octets / time) / memcpy rate, computed by the library from the per-second value.
    state.counters["x_memcpy"] = benchmark::Counter(
        static_cast<double>(state.iterations() * size) / it->second, benchmark::Counter::kIsRate);
}

void bm_memcpy(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto src = pattern(size);
    bytes dst(size);
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), size);
        benchmark::ClobberMemory();
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    auto& rate = memcpy_rates()[size];
    rate = std::max(rate, static_cast<double>(state.iterations() * size) / elapsed.count());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// The decoder runs on: the first two messages (format 0, then format 2) are fed before timing,
// then the third message's bytes (format 3 headers only) are fed again and again, as a steady
// stream of same-sized video messages looks on the wire.
void bm_decode(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto chunk_size = static_cast<std::uint32_t>(state.range(1));
    chunk_encoder e;
    bytes setup;
    e.encode(make_set_chunk_size(chunk_size), setup);  // the encoder takes the new size too
    e.encode(video_message(size, 0), setup);
    e.encode(video_message(size, 40), setup);
    bytes steady;
    e.encode(video_message(size, 80), steady);

    chunk_decoder d;
    std::vector<message> out;
    error_code ec;
    d.feed(setup, out, ec);
    if (ec != error::need_more) state.SkipWithError("setup did not decode");
    for (auto _ : state) {
        out.clear();
        d.feed(steady, out, ec);
        benchmark::DoNotOptimize(out.data());
    }
    if (ec != error::need_more || out.size() != 1) state.SkipWithError("decode failed");
    report(state, size);
}

void bm_encode(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    chunk_encoder e;
    e.set_chunk_size(static_cast<std::uint32_t>(state.range(1)));
    const auto m = video_message(size, 0);
    bytes out;
    e.encode(m, out);
    for (auto _ : state) {
        out.clear();
        e.encode(m, out);
        benchmark::DoNotOptimize(out.data());
    }
    report(state, size);
}

void bm_encode_gather(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    chunk_encoder e;
    e.set_chunk_size(static_cast<std::uint32_t>(state.range(1)));
    const auto m = video_message(size, 0);
    bytes headers;
    std::vector<gather_piece> pieces;
    for (auto _ : state) {
        headers.clear();
        pieces.clear();
        e.encode_gather(m, headers, pieces);
        benchmark::DoNotOptimize(pieces.data());
    }
    report(state, size);
}

void sizes_and_chunk_sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t chunk_size : {128, 4096, 65536})
        for (const auto size : message_sizes)
            b->Args({static_cast<std::int64_t>(size), chunk_size});
    b->ArgNames({"size", "chunk"});
}

void sizes(benchmark::internal::Benchmark* b) {
    for (const auto size : message_sizes) b->Arg(static_cast<std::int64_t>(size));
    b->ArgName("size");
}

BENCHMARK(bm_memcpy)->Apply(sizes);
BENCHMARK(bm_decode)->Apply(sizes_and_chunk_sizes);
BENCHMARK(bm_encode)->Apply(sizes_and_chunk_sizes);
BENCHMARK(bm_encode_gather)->Apply(sizes_and_chunk_sizes);

}  // namespace
}  // namespace rtmpgate::protocol

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
