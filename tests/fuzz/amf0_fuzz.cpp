// AMF0: decode a message body; whatever decodes must encode, decode again without error, and
// come back identical.
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/amf0.hpp"
#include "tests/fuzz/amf_same.hpp"

using namespace rtmpgate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader in(std::span<const std::uint8_t>(data, size));
    const auto first = amf0::decode_all(in);
    if (!first) return 0;

    std::vector<std::uint8_t> encoded;
    for (const auto& v : *first) amf0::encode(v, encoded);

    byte_reader again(encoded);
    const auto second = amf0::decode_all(again);
    if (!second) std::abort();
    if (second->size() != first->size()) std::abort();
    for (std::size_t i = 0; i < first->size(); ++i)
        if (!fuzz::same((*first)[i], (*second)[i])) std::abort();
    return 0;
}
