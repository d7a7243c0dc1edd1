// AMF3: decode one value; whatever decodes must encode, decode again without error, and come
// back identical.
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/amf3.hpp"
#include "tests/fuzz/amf_same.hpp"

using namespace rtmpgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader in(std::span<const std::uint8_t>(data, size));
    const auto first = amf3::decode(in);
    if (!first) return 0;

    std::vector<std::uint8_t> encoded;
    amf3::encode(*first, encoded);

    byte_reader again(encoded);
    const auto second = amf3::decode(again);
    if (!second) std::abort();
    if (!again.empty()) std::abort();
    if (!fuzz::same(*first, *second)) std::abort();
    return 0;
}
