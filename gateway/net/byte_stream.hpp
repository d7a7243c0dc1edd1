// A client connection as a duplex byte stream: whether its bytes come from a TCP socket, a TLS
// stream or the bodies of RTMPT POSTs, everything above (handshake, chunks, routing, engine,
// backend link) is written once against this interface.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <tuple>

#include "gateway/net/asio.hpp"
#include "protocol/shared_bytes.hpp"

namespace rtmpgate::gateway {

class byte_stream {
public:
    virtual ~byte_stream() = default;

    // Reads at least one octet. An error (including end of stream) ends the connection.
    virtual asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
        asio::mutable_buffer buffer) = 0;
    // Writes all of `buffers` or fails.
    virtual asio::awaitable<std::tuple<error_code, std::size_t>> write(
        std::span<const asio::const_buffer> buffers) = 0;
    // write(buffers), from a writer whose buffers point, some of them, into `blocks` (in that
    // order): a stream that keeps octets after the write completes (an RTMPT session, until the
    // client's next poll) keeps references to the blocks instead of copying those octets.
    virtual asio::awaitable<std::tuple<error_code, std::size_t>> write_shared(
        std::span<const asio::const_buffer> buffers,
        [[maybe_unused]] std::span<const protocol::shared_bytes> blocks) {
        return write(buffers);
    }
    // Writes what fits at once, without waiting, and returns the octets written: the start of
    // `buffers`, maybe all, maybe none. Only between writes (none in flight). A stream that
    // cannot write without waiting (TLS, RTMPT) writes nothing; an error writes nothing more and
    // is left for write() to meet again.
    virtual std::size_t write_now([[maybe_unused]] std::span<const asio::const_buffer> buffers) {
        return 0;
    }
    // Closes at once; pending operations complete with an error.
    virtual void close() = 0;

    virtual std::string peer() const = 0;
    // "rtmp", "rtmps", "rtmpt" or "rtmpts", for logs and metrics.
    virtual const char* transport() const = 0;
};

}  // namespace rtmpgate::gateway
