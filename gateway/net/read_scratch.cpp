#include "gateway/net/read_scratch.hpp"

#include <memory>

namespace rtmpgate::gateway {

std::span<std::uint8_t> read_scratch() {
    thread_local const auto buffer =
        std::make_unique_for_overwrite<std::uint8_t[]>(read_scratch_size);
    return {buffer.get(), read_scratch_size};
}

}  // namespace rtmpgate::gateway
