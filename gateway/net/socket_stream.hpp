// byte_stream over any Asio stream: a TCP socket or an ssl::stream over one.
#pragma once

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/net/byte_stream.hpp"

namespace rtmpgate::gateway {

template <typename Stream>
class socket_stream final : public byte_stream {
public:
    // `received`: bytes already read from `stream` (by the port-443 sniffer), returned first.
    // `keep_alive`: what `stream` depends on (its TLS context).
    socket_stream(Stream stream, client_address client, const char* transport,
                  std::vector<std::uint8_t> received = {},
                  std::shared_ptr<const void> keep_alive = {})
        : keep_alive_(std::move(keep_alive)),
          stream_(std::move(stream)),
          client_(std::move(client)),
          transport_(transport),
          received_(std::move(received)) {
        // For write's first attempt; asynchronous operations are unaffected.
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            error_code ec;
            stream_.non_blocking(true, ec);
            try_first_ = !ec;
        }
    }

    asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
        asio::mutable_buffer buffer) override {
        if (received_offset_ < received_.size()) {
            const auto n = std::min(buffer.size(), received_.size() - received_offset_);
            std::memcpy(buffer.data(), received_.data() + received_offset_, n);
            received_offset_ += n;
            co_return std::tuple{error_code(), n};
        }
        co_return co_await stream_.async_read_some(buffer, use_nothrow);
    }
    // A TCP socket reads in place once the sniffer's octets are read (a TLS stream may hold
    // decrypted octets that a wait on its socket would not see).
    bool reads_in_place() const override {
        return try_first_ && received_offset_ == received_.size();
    }
    asio::awaitable<error_code> wait_readable() override {
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            // Asio re-arms the descriptor (EPOLL_CTL_MOD) for a wait, so octets that came before
            // it are seen too.
            auto [ec] = co_await stream_.async_wait(tcp::socket::wait_read, use_nothrow);
            co_return ec;
        }
        co_return asio::error::operation_not_supported;
    }
    std::size_t try_read_some(asio::mutable_buffer buffer, error_code& ec) override {
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            return stream_.read_some(buffer, ec);  // non-blocking (try_first_): would_block
        }
        ec = asio::error::operation_not_supported;
        return 0;
    }
    asio::awaitable<std::tuple<error_code, std::size_t>> write(
        std::span<const asio::const_buffer> buffers) override {
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            // Most writes fit in the socket's send buffer. One non-blocking attempt completes them
            // without suspending, which spares an operation, its completion and a resumption per
            // write: at 200 players of one stream that was a large part of the engine's CPU.
            // What does not fit goes the asynchronous way.
            if (try_first_) {
                error_code ec;
                const auto done = stream_.write_some(buffers, ec);
                // Interrupted or would block: the asynchronous write below retries it.
                const bool retry = ec == asio::error::would_block || ec == asio::error::try_again ||
                                   ec == asio::error::interrupted;
                if (ec && !retry) co_return std::tuple{ec, done};
                if (done == asio::buffer_size(buffers)) co_return std::tuple{error_code(), done};
                if (done != 0) {
                    const auto rest = after(buffers, done);
                    auto [rest_ec, n] = co_await asio::async_write(stream_, rest, use_nothrow);
                    co_return std::tuple{rest_ec, done + n};
                }
            }
        }
        co_return co_await asio::async_write(stream_, buffers, use_nothrow);
    }
    std::size_t write_now(std::span<const asio::const_buffer> buffers) override {
        if constexpr (std::is_same_v<Stream, tcp::socket>) {
            if (try_first_) {
                error_code ec;
                return stream_.write_some(buffers, ec);  // 0 on an error or when nothing fits
            }
        }
        return 0;
    }
    void close() override {
        error_code ignored;
        lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
        lowest_layer().close(ignored);
    }
    const client_address& client() const override { return client_; }
    const char* transport() const override { return transport_; }

    Stream& next_layer() noexcept { return stream_; }

    std::optional<tcp::endpoint> reached() const override {
        error_code ec;
        tcp::endpoint local;
        if constexpr (std::is_same_v<Stream, tcp::socket>)
            local = stream_.local_endpoint(ec);
        else
            local = stream_.next_layer().local_endpoint(ec);
        if (ec) return std::nullopt;
        return local;
    }

private:
    // What is left of `buffers` once their first `skip` octets are written.
    static std::vector<asio::const_buffer> after(std::span<const asio::const_buffer> buffers,
                                                 std::size_t skip) {
        std::vector<asio::const_buffer> rest;
        for (const auto& b : buffers) {
            if (skip >= b.size()) {
                skip -= b.size();
                continue;
            }
            rest.push_back(b + skip);
            skip = 0;
        }
        return rest;
    }

    tcp::socket& lowest_layer() {
        if constexpr (std::is_same_v<Stream, tcp::socket>)
            return stream_;
        else
            return stream_.next_layer();
    }

    std::shared_ptr<const void> keep_alive_;  // destroyed after stream_
    Stream stream_;
    client_address client_;
    const char* transport_;
    std::vector<std::uint8_t> received_;
    std::size_t received_offset_ = 0;
    // A TCP socket in non-blocking mode: write tries a plain send first, and it reads in place.
    bool try_first_ = false;
};

}  // namespace rtmpgate::gateway
