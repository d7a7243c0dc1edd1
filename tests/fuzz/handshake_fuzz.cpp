// handshake_server and handshake_client fed arbitrary bytes in arbitrary splits.
//
// Input: mode (1 octet: bit 0 client instead of server, bit 1 client sends a digest),
// stride (1 octet: picks the piece lengths), then the peer's bytes. Aborts when a contract of
// handshake.hpp breaks: more consumed than given, need_more with bytes left over, success
// without done(), output of the wrong size, an error that does not stick.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/byte_reader.hpp"
#include "protocol/handshake.hpp"

namespace {

using namespace rtmpgate::protocol;

constexpr std::size_t packet_size = 1536;

void check(bool condition) {
    if (!condition) std::abort();
}

// Feeds `input` in pieces whose lengths cycle with `stride`, queueing what is not consumed as a
// connection would. Returns the total output.
template <typename Machine>
std::vector<std::uint8_t> drive(Machine& machine, std::span<const std::uint8_t> input,
                                std::uint8_t stride, std::vector<std::uint8_t> out) {
    std::vector<std::uint8_t> pending;
    byte_reader reader(input);
    for (std::size_t step = 1; !reader.empty(); ++step) {
        std::span<const std::uint8_t> piece;
        reader.read_bytes(std::min(reader.remaining(), 1 + (stride * step) % 1601), piece);
        pending.insert(pending.end(), piece.begin(), piece.end());
        const bool was_done = machine.done();
        error_code ec;
        const std::size_t used = machine.feed(pending, out, ec);
        check(used <= pending.size());
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        if (was_done) {
            check(used == 0 && ec == error::handshake_done);
        } else if (ec == error::need_more) {
            check(pending.empty() && !machine.done());
        } else if (!ec) {
            check(machine.done());
        } else {
            check(!machine.done());
            error_code again;
            check(machine.feed(pending, out, again) == 0 && again == ec);
            break;
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader reader({data, size});
    std::uint8_t mode = 0;
    std::uint8_t stride = 0;
    if (!reader.read_u8(mode) || !reader.read_u8(stride)) return 0;
    if (mode & 1) {
        handshake_client client((mode & 2) != 0, 0);
        std::vector<std::uint8_t> c0c1;
        client.start(c0c1);
        check(c0c1.size() == 1 + packet_size);
        const auto out = drive(client, reader.rest(), stride, c0c1);
        check(out.size() == 1 + packet_size || out.size() == 1 + 2 * packet_size);
    } else {
        handshake_server server(0);
        const auto out = drive(server, reader.rest(), stride, {});
        check(out.empty() || out.size() == 1 + 2 * packet_size);
        if (server.done()) check(out.size() == 1 + 2 * packet_size);
    }
    return 0;
}
