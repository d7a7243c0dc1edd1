// Compile-time wire vectors for the AMF tests: `wire(bytes(0x02, 0x00, 0x03), text("app"))`
// concatenates annotated pieces into one constexpr std::array.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rtmpgate::protocol::test {

template <typename... T>
consteval std::array<std::uint8_t, sizeof...(T)> bytes(T... b) {
    return {static_cast<std::uint8_t>(b)...};
}

// The characters of a string literal, without its terminating NUL.
template <std::size_t N>
consteval std::array<std::uint8_t, N - 1> text(const char (&s)[N]) {
    std::array<std::uint8_t, N - 1> out{};
    for (std::size_t i = 0; i + 1 < N; ++i) out[i] = static_cast<std::uint8_t>(s[i]);
    return out;
}

template <std::size_t... N>
consteval std::array<std::uint8_t, (N + ... + 0)> wire(
    const std::array<std::uint8_t, N>&... parts) {
    std::array<std::uint8_t, (N + ... + 0)> out{};
    std::size_t at = 0;
    ((std::copy(parts.begin(), parts.end(), out.begin() + static_cast<std::ptrdiff_t>(at)),
      at += parts.size()),
     ...);
    return out;
}

template <std::size_t N>
std::vector<std::uint8_t> to_vector(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

}  // namespace rtmpgate::protocol::test
