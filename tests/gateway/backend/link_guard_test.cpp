// run_link with a decider, on loopback sockets: a backend that does the server handshake and
// records every octet after it, a client whose bytes the link replays and reads.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/backend/link.hpp"
#include "gateway/net/socket_stream.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/command.hpp"
#include "protocol/handshake.hpp"

namespace rtmpgate::gateway::backend {
namespace {

using bytes = std::vector<std::uint8_t>;
using protocol::amf_value;
using protocol::message;

// The backend: the server handshake, then every octet until the link closes the connection.
asio::awaitable<void> record_backend(tcp::acceptor& acceptor, bytes& received) {
    auto [aec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (aec) co_return;
    protocol::handshake_server hs;
    bytes buffer(8192), out;
    while (true) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
        if (ec) co_return;
        std::span<const std::uint8_t> in(buffer.data(), n);
        if (!hs.done()) {
            out.clear();
            protocol::error_code perr;
            const auto used = hs.feed(in, out, perr);
            if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
            in = in.subspan(used);
        }
        received.insert(received.end(), in.begin(), in.end());
    }
}

// The client: sends `later` once the link runs, then reads until the link's side closes.
asio::awaitable<void> play_client(tcp::socket& socket, bytes later, bool close_after,
                                  bytes& received) {
    if (!later.empty()) co_await asio::async_write(socket, asio::buffer(later), use_nothrow);
    if (close_after) socket.shutdown(tcp::socket::shutdown_send);
    bytes buffer(8192);
    while (true) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
        if (ec) co_return;
        received.insert(received.end(), buffer.begin(),
                        buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
}

struct client_stream {
    bytes replay;  // connect, createStream, publish
    bytes later;   // media after the publish
    std::size_t publish_at = 0;
};

client_stream a_publisher() {
    protocol::chunk_encoder e;
    client_stream c;
    auto object = amf_value::make_object();
    object.set("app", amf_value::make_string("live"));
    e.encode(protocol::make_command(3, 0, "connect", 1, object), c.replay);
    e.encode(protocol::make_command(3, 0, "createStream", 2, amf_value::make_null()), c.replay);
    c.publish_at = c.replay.size();
    const amf_value args[] = {amf_value::make_string("key?x=1"), amf_value::make_string("live")};
    e.encode(protocol::make_command(8, 1, "publish", 5, amf_value::make_null(), args), c.replay);
    message audio;
    audio.chunk_stream_id = 6;
    audio.message_type_id = 8;
    audio.message_stream_id = 1;
    audio.payload = protocol::shared_bytes(bytes(500, 0xAF));
    e.encode(audio, c.later);
    return c;
}

struct outcome {
    link_result result;
    bytes backend, client;
    std::vector<std::pair<access::action, std::string>> asked;
};

// `wait`: how long the decider takes; `cfg`: the link's settings.
outcome run(const client_stream& c, access::decision d,
            std::chrono::milliseconds wait = std::chrono::milliseconds(0), config cfg = {}) {
    asio::io_context io;
    server_context context{std::move(cfg)};
    tcp::acceptor backend_acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::acceptor front(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket client_socket(io);
    client_socket.connect(front.local_endpoint());
    auto accepted = front.accept();
    const auto peer = accepted.remote_endpoint();
    socket_stream<tcp::socket> gateway_side(std::move(accepted), client_address(peer), "rtmp");
    backend_target target;
    target.host = "127.0.0.1";
    target.port = backend_acceptor.local_endpoint().port();

    outcome o;
    asio::co_spawn(io, record_backend(backend_acceptor, o.backend),
                   [](const std::exception_ptr&) {});
    asio::co_spawn(io, play_client(client_socket, c.later, d.allowed, o.client),
                   [](const std::exception_ptr&) {});
    stream_decider decide = [&o, d, wait](access::action what,
                                          std::string stream) -> asio::awaitable<access::decision> {
        o.asked.emplace_back(what, stream);
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        co_await timer.async_wait(use_nothrow);
        co_return d;
    };
    asio::co_spawn(io, run_link(gateway_side, c.replay, target, context, decide),
                   [&](const std::exception_ptr&, link_result r) {
                       o.result = std::move(r);
                       gateway_side.close();
                   });
    io.run_for(std::chrono::seconds(10));
    return o;
}

TEST(link_guard, a_refused_publish_never_reaches_the_backend) {
    const auto c = a_publisher();
    access::decision no;
    no.allowed = false;
    no.detail = "address 127.0.0.1 denied";
    const auto o = run(c, no);
    EXPECT_EQ(
        o.result.reason.find("publish refused: address 127.0.0.1 denied") != std::string::npos,
        true)
        << o.result.reason;
    EXPECT_FALSE(o.result.backend_failed);
    ASSERT_EQ(o.asked.size(), 1u);
    EXPECT_EQ(o.asked[0].first, access::action::publish);
    EXPECT_EQ(o.asked[0].second, "key?x=1");
    // Connect and createStream, octet for octet; nothing of the publish.
    EXPECT_EQ(o.backend, bytes(c.replay.begin(),
                               c.replay.begin() + static_cast<std::ptrdiff_t>(c.publish_at)));
    // The client decodes an error-level onStatus on the publish's message stream.
    protocol::chunk_decoder decoder;
    std::vector<message> messages;
    protocol::error_code ec;
    decoder.feed(o.client, messages, ec);
    EXPECT_EQ(ec, protocol::error::need_more);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].message_stream_id, 1u);
    const auto status = protocol::parse_command(messages[0]);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->name, "onStatus");
    ASSERT_EQ(status->arguments.size(), 1u);
    const auto* code = status->arguments[0].find("code");
    const auto* level = status->arguments[0].find("level");
    const auto* description = status->arguments[0].find("description");
    ASSERT_TRUE(code && level && description);
    EXPECT_EQ(code->string, "NetStream.Publish.BadName");
    EXPECT_EQ(level->string, "error");
    EXPECT_EQ(description->string, "Publish refused: address 127.0.0.1 denied");
}

TEST(link_guard, an_allowed_publish_goes_through_unchanged) {
    const auto c = a_publisher();
    const auto o = run(c, access::decision{});
    ASSERT_EQ(o.asked.size(), 1u);
    bytes all = c.replay;
    all.insert(all.end(), c.later.begin(), c.later.end());
    EXPECT_EQ(o.backend, all);
    EXPECT_EQ(o.result.reason.find("client closed") != std::string::npos, true) << o.result.reason;
}

TEST(link_guard, a_renamed_publish_reaches_the_backend_under_its_new_name) {
    const auto c = a_publisher();
    access::decision rename;
    rename.rename = "other";
    const auto o = run(c, rename);
    ASSERT_EQ(o.asked.size(), 1u);
    EXPECT_NE(o.result.reason.find("client closed"), std::string::npos) << o.result.reason;
    // Connect and createStream unchanged, then the publish written anew, then the audio that
    // followed it, which the backend's decoder still frames as the client sent it.
    ASSERT_GT(o.backend.size(), c.publish_at);
    EXPECT_EQ(
        bytes(o.backend.begin(), o.backend.begin() + static_cast<std::ptrdiff_t>(c.publish_at)),
        bytes(c.replay.begin(), c.replay.begin() + static_cast<std::ptrdiff_t>(c.publish_at)));
    protocol::chunk_decoder decoder;
    std::vector<message> messages;
    protocol::error_code ec;
    decoder.feed(o.backend, messages, ec);
    EXPECT_EQ(ec, protocol::error::need_more);
    ASSERT_EQ(messages.size(), 4u);
    const auto publish = protocol::parse_command(messages[2]);
    ASSERT_TRUE(publish);
    EXPECT_EQ(publish->name, "publish");
    EXPECT_EQ(publish->transaction_id, 5);
    EXPECT_EQ(messages[2].chunk_stream_id, 8u);
    EXPECT_EQ(messages[2].message_stream_id, 1u);
    ASSERT_EQ(publish->arguments.size(), 2u);
    EXPECT_EQ(publish->arguments[0].string, "other");
    EXPECT_EQ(publish->arguments[1].string, "live");
    EXPECT_EQ(messages[3].message_type_id, 8);
    EXPECT_EQ(messages[3].payload.size(), 500u);
}

TEST(link_guard, the_backend_is_pinged_while_a_decision_is_pending) {
    // Backend idle timeout 600 ms: a ping at 300 ms, while the decider takes 450 ms. The ping goes
    // at the chunk boundary where the held publish starts, so the backend reads connect,
    // createStream, the ping, then the publish and what followed, unchanged.
    const auto c = a_publisher();
    config cfg;
    cfg.backend.idle_timeout = std::chrono::milliseconds(600);
    const auto o = run(c, access::decision{}, std::chrono::milliseconds(450), cfg);
    ASSERT_EQ(o.asked.size(), 1u);
    protocol::chunk_decoder decoder;
    std::vector<message> messages;
    protocol::error_code ec;
    decoder.feed(o.backend, messages, ec);
    EXPECT_EQ(ec, protocol::error::need_more);
    ASSERT_EQ(messages.size(), 5u);
    EXPECT_EQ(messages[2].message_type_id, 4);  // User Control: Ping Request
    const auto publish = protocol::parse_command(messages[3]);
    ASSERT_TRUE(publish);
    EXPECT_EQ(publish->name, "publish");
    EXPECT_EQ(messages[4].message_type_id, 8);
}

}  // namespace
}  // namespace rtmpgate::gateway::backend
