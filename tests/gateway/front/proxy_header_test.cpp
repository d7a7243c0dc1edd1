// read_proxy_header over real loopback connections: who the client is, what is refused and
// counted, and that the octets behind a header stay in the socket for the next reader.
#include "gateway/front/proxy_header.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rtmpgate::gateway::front {
namespace {

using namespace std::chrono_literals;

config settings(std::string_view trusted) {
    return parse_config("listeners:\n  rtmp: 127.0.0.1:0\ntrusted_proxies: [" +
                            std::string(trusted) +
                            "]\nproxy_protocol: {rtmp: true, header_timeout: 200ms}\n",
                        "test.yaml");
}

class proxy_header_test : public testing::Test {
protected:
    // Connects a client to a server socket, writes `sent` from the client, and runs
    // read_proxy_header on the server side with `trusted` as trusted_proxies.
    // `then`, if any, is written once the server socket holds nothing unread (bounded poll).
    std::optional<proxied_client> read(std::string_view trusted, std::string_view sent,
                                       std::string_view then = {}) {
        context_.emplace(settings(trusted));
        tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        client_.connect(acceptor.local_endpoint());
        acceptor.accept(server_);
        if (!sent.empty()) asio::write(client_, asio::buffer(sent));
        const client_address peer(server_.remote_endpoint());
        std::optional<proxied_client> result;
        asio::co_spawn(
            io_,
            [&]() -> asio::awaitable<void> {
                result = co_await read_proxy_header(server_, peer, false, *context_);
            },
            [](const std::exception_ptr& e) {
                if (e) std::rethrow_exception(e);
            });
        if (!then.empty()) {
            asio::co_spawn(
                io_,
                [&]() -> asio::awaitable<void> {
                    asio::steady_timer tick(io_);
                    for (int i = 0; i < 500 && server_.available() != 0; ++i) {
                        tick.expires_after(2ms);
                        co_await tick.async_wait(asio::use_awaitable);
                    }
                    asio::write(client_, asio::buffer(then));
                },
                [](const std::exception_ptr& e) {
                    if (e) std::rethrow_exception(e);
                });
        }
        io_.run_for(5s);
        return result;
    }

    // What the server socket still holds: `n` octets, read now.
    std::string rest(std::size_t n) {
        std::string out(n, '\0');
        asio::read(server_, asio::buffer(out));
        return out;
    }

    std::uint64_t refusals(refusal r) const { return context_->stats.refusals.get(r); }

    asio::io_context io_;
    tcp::socket client_{io_};
    tcp::socket server_{io_};
    std::optional<server_context> context_;
};

TEST_F(proxy_header_test, a_trusted_v1_header_names_the_client_and_leaves_what_follows) {
    const auto r = read("127.0.0.1", "PROXY TCP4 203.0.113.7 10.0.0.1 40001 1935\r\n\x03rest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->client.to_string(), "203.0.113.7:40001");
    ASSERT_TRUE(r->client.via());
    EXPECT_EQ(r->client.via()->port(), client_.local_endpoint().port());
    EXPECT_TRUE(r->received.empty());
    EXPECT_EQ(rest(5), "\x03rest");
    EXPECT_EQ(context_->stats.proxy_headers, 1u);
}

TEST_F(proxy_header_test, unknown_keeps_the_socket_peer) {
    const auto r = read("127.0.0.1", "PROXY UNKNOWN\r\nGET");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->client.via());
    EXPECT_EQ(r->client.endpoint(), client_.local_endpoint());
    EXPECT_EQ(rest(3), "GET");
}

TEST_F(proxy_header_test, a_trusted_peer_without_a_header_is_refused) {
    EXPECT_FALSE(read("127.0.0.0/8", "POST /open/1 HTTP/1.1\r\n"));
    EXPECT_EQ(refusals(refusal::proxy_header_missing), 1u);
}

TEST_F(proxy_header_test, a_malformed_header_is_refused) {
    EXPECT_FALSE(read("127.0.0.1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"));
    EXPECT_EQ(refusals(refusal::proxy_header_invalid), 1u);
}

TEST_F(proxy_header_test, an_untrusted_header_is_refused) {
    EXPECT_FALSE(read("10.0.0.0/8", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    EXPECT_EQ(refusals(refusal::proxy_header_untrusted), 1u);
    EXPECT_EQ(context_->stats.proxy_headers, 0u);
}

TEST_F(proxy_header_test, an_untrusted_client_without_a_header_is_itself_and_nothing_is_taken) {
    const auto r = read("10.0.0.0/8", "\x03xy");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->client.endpoint(), client_.local_endpoint());
    EXPECT_TRUE(r->received.empty());
    EXPECT_EQ(rest(3), "\x03xy");
}

TEST_F(proxy_header_test, octets_that_began_like_a_header_are_handed_on) {
    // "P" alone is a prefix of "PROXY ": taken off the socket to wait for more; "OST" then shows
    // an HTTP request, and "P" must reach the http front.
    const auto r = read("10.0.0.0/8", "P", "OST /");
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(r->received.begin(), r->received.end()), "P");
    EXPECT_EQ(rest(5), "OST /");
}

TEST_F(proxy_header_test, an_untrusted_silent_client_hits_the_deadline) {
    EXPECT_FALSE(read("10.0.0.0/8", ""));
    EXPECT_EQ(context_->stats.timeouts.get(deadline_error::proxy_header), 1u);
}

TEST_F(proxy_header_test, a_stalled_header_hits_the_deadline) {
    EXPECT_FALSE(read("127.0.0.1", "PROXY TCP4 1.2."));
    EXPECT_EQ(context_->stats.timeouts.get(deadline_error::proxy_header), 1u);
}

}  // namespace
}  // namespace rtmpgate::gateway::front
