// Chunk decoder: the input (after its first octet) is fed in two pieces cut at a position taken
// from the first octet, and again byte by byte. Both runs must agree on the messages and on the
// error, every message must respect the limits, and need_more must mean everything was consumed.
// Whatever decoded cleanly is encoded again and must decode to the same messages.
#include <algorithm>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"

using namespace rtmpgate::protocol;

namespace {

// Small limits so that the fuzzer reaches them.
chunk_decoder_limits fuzz_limits() {
    chunk_decoder_limits l;
    l.max_chunk_size = 1 << 16;
    l.max_message_length = 1 << 18;
    l.max_chunk_streams = 4;
    l.max_partial_bytes = 1 << 19;  // below 4 streams of max_message_length
    return l;
}

struct run {
    std::vector<message> messages;
    error_code ec;
};

void check(bool ok) {
    if (!ok) std::abort();
}

// Feeds `in` in pieces ending at each offset of `cuts`, then the rest.
run decode(std::span<const std::uint8_t> in, std::span<const std::size_t> cuts) {
    // A budget shared with nobody: the decoder must take from it only what its partial
    // messages hold (rounded up to a step) and give it all back when destroyed.
    byte_budget budget(1 << 18);
    chunk_decoder d(fuzz_limits(), &budget);
    run r;
    std::size_t start = 0;
    std::uint64_t consumed = 0;
    auto feed_to = [&](std::size_t end) {
        const auto used = d.feed(in.subspan(start, end - start), r.messages, r.ec);
        check(used <= end - start);
        consumed += used;
        check(d.bytes_consumed() == consumed);
        if (r.ec != error::need_more) return false;
        check(used == end - start);
        start = end;
        return true;
    };
    bool going = true;
    for (const auto c : cuts)
        if (going) going = feed_to(c);
    if (going) feed_to(in.size());
    const auto limits = fuzz_limits();
    check(d.chunk_size() >= 1 && d.chunk_size() <= limits.max_chunk_size);
    check(d.partial_bytes() <= limits.max_partial_bytes && d.partial_bytes() <= budget.used());
    check(budget.used() < d.partial_bytes() + chunk_decoder::partial_step);
    for (const auto& m : r.messages) {
        check(m.payload.size() <= limits.max_message_length);
        check(m.chunk_stream_id >= 2 && m.chunk_stream_id <= 65599);
    }
    return r;
}

bool same(const message& a, const message& b) {
    const auto pa = a.payload.span();
    const auto pb = b.payload.span();
    return a.chunk_stream_id == b.chunk_stream_id && a.timestamp == b.timestamp &&
           a.message_type_id == b.message_type_id && a.message_stream_id == b.message_stream_id &&
           std::equal(pa.begin(), pa.end(), pb.begin(), pb.end());
}

bool same(const run& a, const run& b) {
    if (a.ec != b.ec || a.messages.size() != b.messages.size()) return false;
    for (std::size_t i = 0; i < a.messages.size(); ++i)
        if (!same(a.messages[i], b.messages[i])) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto in = std::span<const std::uint8_t>(data + 1, size - 1);
    const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);

    const std::size_t one_cut[] = {cut};
    const auto whole = decode(in, {});
    check(same(whole, decode(in, one_cut)));
    if (in.size() <= 4096) {
        std::vector<std::size_t> every(in.size() > 0 ? in.size() - 1 : 0);
        for (std::size_t i = 0; i < every.size(); ++i) every[i] = i + 1;
        check(same(whole, decode(in, every)));
    }

    // Re-encode what decoded (Abort excluded: it acts on the decoder; a Set Chunk Size acts on
    // the encoder that writes it as on the decoder that reads it) and decode it again: the
    // encoder's output must carry the same messages.
    if (whole.ec != error::need_more) return 0;
    chunk_encoder e;
    std::vector<std::uint8_t> wire;
    std::vector<const message*> kept;
    for (const auto& m : whole.messages) {
        if (m.type() == message_type::abort) continue;
        e.encode(m, wire);
        kept.push_back(&m);
    }
    const auto again = decode(wire, {});
    check(again.ec == error::need_more && again.messages.size() == kept.size());
    for (std::size_t i = 0; i < kept.size(); ++i) check(same(again.messages[i], *kept[i]));
    return 0;
}
