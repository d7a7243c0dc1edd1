#include "gateway/rtmp/run_connection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/client_bytes.hpp"
#include "gateway/tunnel/rtmpt_session.hpp"
#include "gateway/tunnel/tunnel_stream.hpp"

namespace rtmpgate::gateway::rtmp {
namespace {

using bytes = std::vector<std::uint8_t>;

bytes handshake() { return test::simple_handshake(); }

// One message in one chunk: format 0 header on chunk stream `csid` (timestamp 0, message stream
// 0), then the payload (at most the default chunk size, 128).
bytes chunk(std::uint8_t csid, std::uint8_t type, const bytes& payload) {
    bytes b = {csid, 0x00, 0x00, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(payload.size()),
               type, 0x00, 0x00, 0x00, 0x00};
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// An RTMP client played through an RTMPT session's byte stream: what it sent is all there is,
// then the stream ends when the session closes. poll() runs whatever is ready (the connection's
// timers are never waited for).
class rtmp_run_connection : public testing::Test {
protected:
    explicit rtmp_run_connection(config c = {})
        : context_(std::move(c)),
          session_(std::make_shared<tunnel::rtmpt_session>("t", asio::make_strand(io_),
                                                           tunnel::session_limits{})) {}

    void start() {
        asio::co_spawn(session_->strand(),
                       run_connection(std::make_unique<tunnel::tunnel_stream>(
                                          session_, client_address(), "rtmpt"),
                                      context_),
                       [this](const std::exception_ptr& e) {
                           ended_ = true;
                           threw_ = e != nullptr;
                       });
    }

    // Serves `input` from start to end; gives the connection's log lines.
    std::string serve(bytes input) {
        testing::internal::CaptureStderr();
        start();
        session_->accept(0, std::move(input));
        io_.poll();
        return testing::internal::GetCapturedStderr();
    }

    server_context context_{config{}};
    asio::io_context io_;
    std::shared_ptr<tunnel::rtmpt_session> session_;
    bool ended_ = false;
    bool threw_ = false;
};

TEST_F(rtmp_run_connection, is_in_the_connection_set_while_it_runs) {
    start();
    io_.poll();
    EXPECT_FALSE(ended_);
    EXPECT_EQ(context_.connections.size(), 1u);
    context_.connections.shutdown_all();
    io_.poll();
    EXPECT_TRUE(ended_);
    EXPECT_FALSE(threw_);
    EXPECT_EQ(context_.connections.size(), 0u);
    EXPECT_EQ(context_.stats.connections_failed, 0u);
}

TEST_F(rtmp_run_connection, a_connect_that_does_not_parse_ends_it_as_failed) {
    // "connect", transaction 1, {app: a string of 0xFFFF octets of which 2 are there}
    const bytes command = {0x02, 0x00, 0x07, 'c',  'o',  'n',  'n',  'e',  'c',  't',
                           0x00, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                           0x00, 0x03, 'a',  'p',  'p',  0x02, 0xFF, 0xFF, 'x',  'y'};
    const auto log = serve(handshake() + chunk(3, 20, command));
    EXPECT_TRUE(ended_);
    EXPECT_FALSE(threw_);
    EXPECT_EQ(context_.stats.connections_failed, 1u);
    EXPECT_NE(log.find(" reason=connect: declared length runs past the end of input\n"),
              std::string::npos)
        << log;
}

TEST_F(rtmp_run_connection, a_broken_chunk_stream_ends_it_as_failed) {
    // Format 3 on chunk stream 9, which no header has opened.
    const auto log = serve(handshake() + bytes{0xC0 | 9, 0x00, 0x00});
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.connections_failed, 1u);
    EXPECT_NE(
        log.find(" reason=chunk stream: chunk: continuation header on unknown chunk stream\n"),
        std::string::npos)
        << log;
}

TEST_F(rtmp_run_connection, no_connect_in_the_first_64_kib_ends_it_as_failed) {
    // Audio before connect means nothing and is not served, but counts against the bound.
    auto input = handshake();
    for (int i = 0; i < 600; ++i) input = input + chunk(4, 8, bytes(100, 0xAF));
    const auto log = serve(std::move(input));
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.connections_failed, 1u);
    EXPECT_NE(log.find(" reason=no connect in the first 64 KiB\n"), std::string::npos) << log;
}

// "connect", transaction 1, {app: "live"}
const bytes connect_live = {0x02, 0x00, 0x07, 'c',  'o',  'n',  'n',  'e',  'c',  't',  0x00, 0x3F,
                            0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 'a',  'p',
                            'p',  0x02, 0x00, 0x04, 'l',  'i',  'v',  'e',  0x00, 0x00, 0x09};

TEST_F(rtmp_run_connection, a_good_connect_is_answered_and_not_failed) {
    const auto log = serve(handshake() + chunk(3, 20, connect_live));
    EXPECT_FALSE(ended_);
    EXPECT_NE(log.find(": connect app=\"live\""), std::string::npos) << log;
    // S0 S1 S2, then window, bandwidth, chunk size and _result.
    EXPECT_GT(session_->pending_output(), 1u + 1536 + 1536);
    session_->close("test over");
    io_.poll();
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.connections_failed, 0u);
}

// Partly received messages (issue 11): 256 KiB per connection, 1 MiB in the process.
config small_partial_limits() {
    config c;
    c.limits.max_partial_message_bytes = 256 << 10;
    c.limits.max_partial_message_bytes_total = 1 << 20;
    return c;
}

class rtmp_partial_messages : public rtmp_run_connection {
protected:
    rtmp_partial_messages() : rtmp_run_connection(small_partial_limits()) {}

    // After connect and a Set Chunk Size of 4096: chunk streams 4, 5, ... each 64 KiB into a
    // 1 MiB video message (what a client that means harm sends, in short).
    static bytes input(std::uint8_t streams) {
        auto in = handshake() + chunk(3, 20, connect_live) + chunk(2, 1, {0x00, 0x00, 0x10, 0x00});
        const bytes piece(4096, 0x5A);
        for (std::uint8_t csid = 4; csid < 4 + streams; ++csid) {
            in = in + bytes{csid, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x09, 0x01, 0x00, 0x00, 0x00};
            for (int i = 0; i < 16; ++i) {
                if (i != 0) in.push_back(static_cast<std::uint8_t>(0xC0 | csid));
                in = in + piece;
            }
        }
        return in;
    }
};

TEST_F(rtmp_partial_messages, within_the_bound_they_are_held_and_given_back) {
    serve(input(3));
    EXPECT_FALSE(ended_);
    EXPECT_EQ(context_.partial_messages.used(), 3u * (64 << 10));
    session_->close("test over");
    io_.poll();
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.partial_messages.used(), 0u);
    EXPECT_EQ(context_.stats.connections_failed, 0u);
}

TEST_F(rtmp_partial_messages, over_the_connections_bound_it_is_closed_and_counted) {
    const auto log = serve(input(5));  // 320 KiB
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.connections_failed, 1u);
    EXPECT_EQ(context_.stats.refusals.get(refusal::max_partial_message_bytes), 1u);
    EXPECT_EQ(context_.stats.refusals.get(refusal::max_partial_message_bytes_total), 0u);
    EXPECT_NE(log.find(" reason=partly received messages above "
                       "limits.max_partial_message_bytes (262144)\n"),
              std::string::npos)
        << log;
    EXPECT_EQ(context_.partial_messages.used(), 0u);
}

TEST_F(rtmp_partial_messages, over_the_process_budget_it_is_closed_and_counted) {
    // Other connections hold all but 128 KiB of the process's budget.
    const std::uint64_t others = (1 << 20) - (128 << 10);
    ASSERT_TRUE(context_.partial_messages.try_take(others));
    const auto log = serve(input(3));  // 192 KiB: within its own bound
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.refusals.get(refusal::max_partial_message_bytes_total), 1u);
    EXPECT_EQ(context_.stats.refusals.get(refusal::max_partial_message_bytes), 0u);
    EXPECT_NE(log.find(" reason=partly received messages of all connections above "
                       "limits.max_partial_message_bytes_total (1048576)\n"),
              std::string::npos)
        << log;
    EXPECT_EQ(context_.partial_messages.used(), others);
    context_.partial_messages.give_back(others);
}

}  // namespace
}  // namespace rtmpgate::gateway::rtmp
