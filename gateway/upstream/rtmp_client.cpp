#include "gateway/upstream/rtmp_client.hpp"

namespace rtmpgate::gateway::upstream {

namespace {

constexpr std::size_t read_buffer_bytes = 8192;

std::string read_failure(const error_code& ec) {
    return ec == asio::error::eof ? "backend closed" : "backend: " + ec.message();
}

}  // namespace

rtmp_client::rtmp_client(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                         publish_sequence::params params)
    : stream_(std::move(stream)), decoder_(limits), sequence_(std::move(params)) {}

std::string rtmp_client::feed(std::span<const std::uint8_t> in,
                              std::vector<protocol::message>& out) {
    received_.clear();
    protocol::error_code ec;
    decoder_.feed(in, received_, ec);
    if (ec && ec != protocol::error::need_more)
        return "chunk stream from the backend: " + ec.message();
    for (const auto& m : received_) sequence_.on_message(m, out);
    received_.clear();
    sequence_.acknowledge(decoder_.bytes_consumed(), out);
    return {};
}

asio::awaitable<error_code> rtmp_client::write(std::span<const protocol::message> messages) {
    std::vector<std::uint8_t> bytes;
    for (const auto& m : messages) encoder_.encode(m, bytes);
    const asio::const_buffer out[] = {asio::buffer(bytes)};
    auto [ec, n] = co_await stream_->write(out);
    co_return ec;
}

asio::awaitable<std::string> rtmp_client::publish(std::vector<std::uint8_t> early) {
    using state = publish_sequence::state;
    std::vector<protocol::message> out;
    sequence_.start(out);
    std::vector<std::uint8_t> buffer(read_buffer_bytes);
    std::span<const std::uint8_t> in(early);
    for (;;) {
        if (!out.empty()) {
            if (auto ec = co_await write(out)) co_return "backend write: " + ec.message();
            out.clear();
        }
        if (sequence_.current() == state::published) co_return std::string();
        if (sequence_.current() == state::failed) co_return sequence_.failure();
        if (in.empty()) {
            auto [ec, n] = co_await stream_->read_some(asio::buffer(buffer));
            if (ec) co_return read_failure(ec);
            in = std::span<const std::uint8_t>(buffer.data(), n);
        }
        if (auto broken = feed(in, out); !broken.empty()) co_return broken;
        in = {};
    }
}

asio::awaitable<std::string> rtmp_client::read(
    const std::function<void(std::vector<protocol::message>&)>& replies) {
    std::vector<std::uint8_t> buffer(read_buffer_bytes);
    std::vector<protocol::message> out;
    for (;;) {
        auto [ec, n] = co_await stream_->read_some(asio::buffer(buffer));
        if (ec) co_return read_failure(ec);
        if (auto broken = feed({buffer.data(), n}, out); !broken.empty()) co_return broken;
        if (!out.empty()) {
            replies(out);
            out.clear();
        }
        if (sequence_.current() == publish_sequence::state::failed) co_return sequence_.failure();
    }
}

}  // namespace rtmpgate::gateway::upstream
