#include "gateway/upstream/client_link.hpp"

namespace rtmpgate::gateway::upstream {

client_link::client_link(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                         protocol::byte_budget* shared)
    : stream_(std::move(stream)), decoder_(limits, shared) {}

asio::awaitable<error_code> client_link::write(std::span<const protocol::message> messages) {
    std::vector<std::uint8_t> bytes;
    for (const auto& m : messages) encoder_.encode(m, bytes);
    const asio::const_buffer out[] = {asio::buffer(bytes)};
    auto [ec, n] = co_await stream_->write(out);
    co_return ec;
}

asio::awaitable<std::string> client_link::converse(
    std::vector<protocol::message> out, std::span<const std::uint8_t> early,
    const std::function<std::optional<std::string>()>& outcome) {
    std::vector<std::uint8_t> buffer(read_buffer_bytes);
    std::span<const std::uint8_t> in = early;
    for (;;) {
        if (!out.empty()) {
            if (auto ec = co_await write(out)) co_return "backend write: " + ec.message();
            out.clear();
        }
        if (auto verdict = outcome()) co_return std::move(*verdict);
        if (in.empty()) {
            auto [ec, n] = co_await stream_->read_some(asio::buffer(buffer));
            if (ec) co_return read_failure(ec);
            in = std::span<const std::uint8_t>(buffer.data(), n);
        }
        if (auto broken = feed(in, out); !broken.empty()) co_return broken;
        in = {};
    }
}

std::string client_link::decode(std::span<const std::uint8_t> in) {
    received_.clear();
    protocol::error_code ec;
    decoder_.feed(in, received_, ec);
    if (ec && ec != protocol::error::need_more)
        return "chunk stream from the backend: " + ec.message();
    return {};
}

std::string client_link::read_failure(const error_code& ec) {
    return ec == asio::error::eof ? "backend closed" : "backend: " + ec.message();
}

}  // namespace rtmpgate::gateway::upstream
