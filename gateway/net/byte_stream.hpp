// A client connection as a duplex byte stream: whether its bytes come from a TCP socket, a TLS
// stream or the bodies of RTMPT POSTs, everything above (handshake, chunks, routing, engine,
// backend link) is written once against this interface.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <tuple>

#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "protocol/shared_bytes.hpp"

namespace rtmpgate::gateway {

class byte_stream {
public:
    virtual ~byte_stream() = default;

    // Reads at least one octet. An error (including end of stream) ends the connection.
    virtual asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
        asio::mutable_buffer buffer) = 0;
    // Reading without a buffer of one's own while the peer is silent, where reads_in_place() is
    // true (an idle connection then holds none; the RTMP connection's read buffer was 2 KiB of
    // its 15): wait_readable() completes once octets, the end of the stream or an error are
    // there, and try_read_some() then reads what is there without suspending, so the octets can
    // go into a buffer shared by everything on the thread and be handled before the caller
    // suspends again. try_read_some answers would_block when nothing is there after all.
    virtual bool reads_in_place() const { return false; }
    virtual asio::awaitable<error_code> wait_readable() {
        co_return asio::error::operation_not_supported;
    }
    virtual std::size_t try_read_some([[maybe_unused]] asio::mutable_buffer buffer,
                                      error_code& ec) {
        ec = asio::error::operation_not_supported;
        return 0;
    }
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
    // The address the client connected to (the local end of its TCP connection), for a PROXY
    // protocol header towards a backend; nullopt where there is no one connection (RTMPT).
    virtual std::optional<tcp::endpoint> reached() const { return std::nullopt; }

    // Closes at once; pending operations complete with an error.
    virtual void close() = 0;

    // Who is at the other end: a client connection's client (net/client_address.hpp), or, for a
    // backend link's own stream, the backend.
    virtual const client_address& client() const = 0;
    // "rtmp", "rtmps", "rtmpt" or "rtmpts", for logs and metrics.
    virtual const char* transport() const = 0;
};

}  // namespace rtmpgate::gateway
