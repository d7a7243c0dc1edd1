// socket_stream::write over a real loopback TCP connection: its first, non-blocking attempt sends
// what the send buffer takes (at most 64 pieces), the asynchronous rest sends the remainder, and
// the peer must receive every octet in order either way.
#include "gateway/net/socket_stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <vector>

namespace rtmpgate::gateway {
namespace {

struct connected_pair {
    asio::io_context io;
    tcp::socket writer{io};
    tcp::socket reader{io};

    connected_pair() {
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        writer.connect(acceptor.local_endpoint());
        acceptor.accept(reader);
    }
};

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>((i * 31) ^ (i >> 9));
    return out;
}

// 300 pieces of uneven sizes over `bytes`: more than the 64 that one sendmsg takes.
std::vector<asio::const_buffer> pieces_of(const std::vector<std::uint8_t>& bytes) {
    std::vector<asio::const_buffer> pieces;
    std::size_t offset = 0;
    for (std::size_t i = 0; offset < bytes.size(); ++i) {
        const auto n =
            std::min<std::size_t>(1 + (i * 7919) % (2 * bytes.size() / 300), bytes.size() - offset);
        pieces.emplace_back(bytes.data() + offset, n);
        offset += n;
    }
    return pieces;
}

TEST(socket_stream, reads_in_place_wait_without_a_buffer_then_take_what_is_there) {
    connected_pair p;
    socket_stream<tcp::socket> stream(std::move(p.reader), client_address(), "rtmp");
    ASSERT_TRUE(stream.reads_in_place());
    std::uint8_t buffer[8];
    error_code ec;
    EXPECT_EQ(stream.try_read_some(asio::buffer(buffer), ec), 0u);
    EXPECT_EQ(ec, asio::error::would_block);  // nothing sent yet: no wait

    // Octets sent before the wait begins are seen too (Asio re-arms the descriptor).
    const std::uint8_t sent[] = {1, 2, 3};
    asio::write(p.writer, asio::buffer(sent));
    error_code wait_ec = asio::error::operation_aborted;
    asio::co_spawn(
        p.io, [&]() -> asio::awaitable<void> { wait_ec = co_await stream.wait_readable(); },
        asio::detached);
    p.io.run_for(std::chrono::seconds(5));
    EXPECT_FALSE(wait_ec) << wait_ec.message();
    EXPECT_EQ(stream.try_read_some(asio::buffer(buffer), ec), 3u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(std::vector<std::uint8_t>(buffer, buffer + 3),
              std::vector<std::uint8_t>(sent, sent + 3));

    p.writer.close();
    wait_ec = asio::error::operation_aborted;
    asio::co_spawn(
        p.io, [&]() -> asio::awaitable<void> { wait_ec = co_await stream.wait_readable(); },
        asio::detached);
    p.io.restart();
    p.io.run_for(std::chrono::seconds(5));
    EXPECT_FALSE(wait_ec) << wait_ec.message();  // the end of the stream is there to read
    EXPECT_EQ(stream.try_read_some(asio::buffer(buffer), ec), 0u);
    EXPECT_EQ(ec, asio::error::eof);
}

TEST(socket_stream, a_stream_with_octets_from_the_sniffer_reads_them_first_with_read_some) {
    connected_pair p;
    socket_stream<tcp::socket> stream(std::move(p.reader), client_address(), "rtmp", {7, 8});
    EXPECT_FALSE(stream.reads_in_place());
}

TEST(socket_stream, a_write_of_more_pieces_than_one_send_takes_arrives_whole) {
    connected_pair p;
    socket_stream<tcp::socket> stream(std::move(p.writer), client_address(), "rtmp");
    const auto bytes = pattern(20000);
    const auto pieces = pieces_of(bytes);
    ASSERT_GT(pieces.size(), 64u);

    error_code ec;
    std::size_t written = 0;
    asio::co_spawn(
        p.io,
        [&]() -> asio::awaitable<void> { std::tie(ec, written) = co_await stream.write(pieces); },
        asio::detached);
    p.io.run();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(written, bytes.size());

    std::vector<std::uint8_t> got(bytes.size());
    asio::read(p.reader, asio::buffer(got));
    EXPECT_EQ(got, bytes);
}

TEST(socket_stream, a_write_larger_than_the_send_buffer_finishes_asynchronously_and_in_order) {
    connected_pair p;
    // Small buffers on both sides: the first attempt writes part, the rest waits for the reader.
    p.writer.set_option(asio::socket_base::send_buffer_size(16384));
    p.reader.set_option(asio::socket_base::receive_buffer_size(16384));
    socket_stream<tcp::socket> stream(std::move(p.writer), client_address(), "rtmp");
    const auto bytes = pattern(512 << 10);
    const auto pieces = pieces_of(bytes);

    error_code ec;
    std::size_t written = 0;
    bool write_done = false;
    bool write_waited = false;
    std::vector<std::uint8_t> got(bytes.size());
    std::size_t received = 0;
    asio::co_spawn(
        p.io,
        [&]() -> asio::awaitable<void> {
            std::tie(ec, written) = co_await stream.write(pieces);
            write_done = true;
        },
        asio::detached);
    asio::co_spawn(
        p.io,
        [&]() -> asio::awaitable<void> {
            // Starts reading only once the writer has suspended.
            write_waited = !write_done;
            while (received < got.size()) {
                auto [rec, n] = co_await p.reader.async_read_some(
                    asio::buffer(got.data() + received, got.size() - received), use_nothrow);
                if (rec) break;
                received += n;
            }
        },
        asio::detached);
    p.io.run_for(std::chrono::seconds(30));

    EXPECT_TRUE(write_waited);
    ASSERT_TRUE(write_done);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(written, bytes.size());
    ASSERT_EQ(received, bytes.size());
    EXPECT_EQ(got, bytes);
}

TEST(socket_stream, a_write_to_a_closed_peer_reports_an_error) {
    connected_pair p;
    socket_stream<tcp::socket> stream(std::move(p.writer), client_address(), "rtmp");
    p.reader.set_option(asio::socket_base::linger(true, 0));  // close with a reset
    p.reader.close();
    const auto bytes = pattern(1 << 20);
    const asio::const_buffer one[] = {asio::buffer(bytes)};

    error_code ec;
    asio::co_spawn(
        p.io,
        [&]() -> asio::awaitable<void> {
            // The first write may still be taken by the kernel before the reset arrives.
            for (int i = 0; i < 50 && !ec; ++i)
                std::tie(ec, std::ignore) = co_await stream.write(one);
        },
        asio::detached);
    p.io.run_for(std::chrono::seconds(30));
    EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace rtmpgate::gateway
