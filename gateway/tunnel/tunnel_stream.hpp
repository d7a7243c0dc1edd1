// The byte_stream an rtmp_connection sees for an RTMPT session: reads are the ordered /send
// bodies, writes become the bodies of the client's next /send and /idle replies.
#pragma once

#include <memory>
#include <string>

#include "gateway/net/byte_stream.hpp"
#include "gateway/tunnel/rtmpt_session.hpp"

namespace rtmpgate::gateway::tunnel {

class tunnel_stream final : public byte_stream {
public:
    // `client`: the session's client, as /open fixed it.
    tunnel_stream(std::shared_ptr<rtmpt_session> s, client_address client, const char* transport)
        : session_(std::move(s)), client_(std::move(client)), transport_(transport) {}

    asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
        asio::mutable_buffer buffer) override {
        return session_->read_some(buffer);
    }
    bool reads_in_place() const override { return true; }
    asio::awaitable<error_code> wait_readable() override { return session_->wait_input(); }
    std::size_t try_read_some(asio::mutable_buffer buffer, error_code& ec) override {
        return session_->take_input(buffer, ec);
    }
    asio::awaitable<std::tuple<error_code, std::size_t>> write(
        std::span<const asio::const_buffer> buffers) override {
        return session_->write(buffers);
    }
    asio::awaitable<std::tuple<error_code, std::size_t>> write_shared(
        std::span<const asio::const_buffer> buffers,
        std::span<const protocol::shared_bytes> blocks) override {
        return session_->write(buffers, blocks);
    }
    void close() override { session_->close("rtmp side closed"); }
    const client_address& client() const override { return client_; }
    const char* transport() const override { return transport_; }

private:
    std::shared_ptr<rtmpt_session> session_;
    client_address client_;
    const char* transport_;
};

}  // namespace rtmpgate::gateway::tunnel
