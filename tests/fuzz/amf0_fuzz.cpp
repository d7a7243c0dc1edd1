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
    std::vector<amf_value> first;
    error_code ec;
    if (!amf0::decode_all(in, first, ec)) return 0;

    std::vector<std::uint8_t> encoded;
    for (const auto& v : first) amf0::encode(v, encoded);

    byte_reader again(encoded);
    std::vector<amf_value> second;
    if (!amf0::decode_all(again, second, ec)) std::abort();
    if (second.size() != first.size()) std::abort();
    for (std::size_t i = 0; i < first.size(); ++i)
        if (!fuzz::same(first[i], second[i])) std::abort();
    return 0;
}
