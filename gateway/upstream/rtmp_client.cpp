#include "gateway/upstream/rtmp_client.hpp"

namespace rtmpgate::gateway::upstream {

rtmp_client::rtmp_client(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                         publish_sequence::params params)
    : client_link(std::move(stream), limits), sequence_(std::move(params)) {}

std::string rtmp_client::feed(std::span<const std::uint8_t> in,
                              std::vector<protocol::message>& out) {
    if (auto broken = decode(in); !broken.empty()) return broken;
    for (const auto& m : received_) sequence_.on_message(m, out);
    received_.clear();
    sequence_.acknowledge(bytes_decoded(), out);
    return {};
}

asio::awaitable<std::string> rtmp_client::publish(std::vector<std::uint8_t> early) {
    using state = publish_sequence::state;
    std::vector<protocol::message> out;
    sequence_.start(out);
    co_return co_await converse(std::move(out), early, [this]() -> std::optional<std::string> {
        if (sequence_.current() == state::published) return std::string();
        if (sequence_.current() == state::failed) return sequence_.failure();
        return std::nullopt;
    });
}

asio::awaitable<std::string> rtmp_client::read(
    const std::function<void(std::vector<protocol::message>&)>& replies) {
    std::vector<std::uint8_t> buffer(read_buffer_bytes);
    std::vector<protocol::message> out;
    for (;;) {
        auto [ec, n] = co_await stream().read_some(asio::buffer(buffer));
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
