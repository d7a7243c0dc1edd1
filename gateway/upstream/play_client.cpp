#include "gateway/upstream/play_client.hpp"

#include "gateway/backend/dial.hpp"
#include "gateway/net/deadline.hpp"

namespace rtmpgate::gateway::upstream {

play_client::play_client(std::unique_ptr<byte_stream> stream, protocol::chunk_decoder_limits limits,
                         play_sequence::params params, protocol::byte_budget* shared)
    : client_link(std::move(stream), limits, shared), sequence_(std::move(params)) {}

std::string play_client::feed(std::span<const std::uint8_t> in,
                              std::vector<protocol::message>& out) {
    if (auto broken = decode(in); !broken.empty()) return broken;
    for (auto& m : received_) {
        sequence_.on_message(m, out);
        // After on_message: the media message that starts the play is the stream's first.
        if (sequence_.is_stream_media(m)) media_.push_back(std::move(m));
    }
    received_.clear();
    sequence_.acknowledge(bytes_decoded(), out);
    return {};
}

asio::awaitable<std::string> play_client::play(std::vector<std::uint8_t> early) {
    using state = play_sequence::state;
    std::vector<protocol::message> out;
    sequence_.start(out);
    co_return co_await converse(std::move(out), early, [this]() -> std::optional<std::string> {
        switch (sequence_.current()) {
            case state::playing:
                return std::string();
            case state::failed:
            case state::ended:
                return sequence_.failure();
            default:
                return std::nullopt;
        }
    });
}

asio::awaitable<std::string> play_client::read(
    const std::function<std::string(const protocol::message&)>& on_media,
    std::chrono::milliseconds media_timeout, std::chrono::milliseconds write_timeout,
    counters& stats) {
    using state = play_sequence::state;
    std::vector<std::uint8_t> buffer(read_buffer_bytes);
    std::vector<protocol::message> out;
    auto media_by = asio::steady_timer::clock_type::now() + media_timeout;
    for (;;) {
        // What came with the play's start, then what each read brings.
        if (!media_.empty()) media_by = asio::steady_timer::clock_type::now() + media_timeout;
        for (const auto& m : media_)
            if (auto stop = on_media(m); !stop.empty()) co_return stop;
        media_.clear();
        if (!out.empty()) {
            auto written =
                co_await with_deadline(write(out), write_timeout, deadline_error::backend_write);
            const error_code ec = written ? *written : written.error();
            if (ec) co_return backend::failure("write", ec, stats);
            out.clear();
        }
        if (sequence_.current() == state::failed || sequence_.current() == state::ended)
            co_return sequence_.failure();
        // Pings and acknowledgements keep the connection busy, not the stream: only its
        // messages move the deadline.
        auto [ec, n] = co_await with_deadline(stream().read_some(asio::buffer(buffer)), media_by,
                                              deadline_error::backend_idle);
        if (ec) {
            if (stats.count_timeout(ec))
                co_return "no media from the backend for " + std::to_string(media_timeout.count()) +
                    "ms";
            co_return read_failure(ec);
        }
        if (auto broken = feed({buffer.data(), n}, out); !broken.empty()) co_return broken;
    }
}

}  // namespace rtmpgate::gateway::upstream
