// The buffer a connection reads into once its stream has said octets are there
// (byte_stream::reads_in_place, an HTTP connection between requests): one per thread, shared by
// every connection on it, so that a connection whose peer is silent holds no read buffer. A user
// handles what it read, copying what it keeps, before it next suspends: another connection on
// the thread reads into the same octets after that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace rtmpgate::gateway {

inline constexpr std::size_t read_scratch_size = 64 * 1024;

// The calling thread's buffer, read_scratch_size octets, allocated on the thread's first call.
std::span<std::uint8_t> read_scratch();

}  // namespace rtmpgate::gateway
