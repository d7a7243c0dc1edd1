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
    rtmp_run_connection()
        : session_(std::make_shared<tunnel::rtmpt_session>("t", asio::make_strand(io_),
                                                           tunnel::session_limits{})) {}

    void start() {
        asio::co_spawn(
            session_->strand(),
            run_connection(std::make_unique<tunnel::tunnel_stream>(session_, "peer:1", "rtmpt"),
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

TEST_F(rtmp_run_connection, a_good_connect_is_answered_and_not_failed) {
    const bytes command = {0x02, 0x00, 0x07, 'c',  'o',  'n',  'n',  'e',  'c',  't',  0x00, 0x3F,
                           0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 'a',  'p',
                           'p',  0x02, 0x00, 0x04, 'l',  'i',  'v',  'e',  0x00, 0x00, 0x09};
    const auto log = serve(handshake() + chunk(3, 20, command));
    EXPECT_FALSE(ended_);
    EXPECT_NE(log.find(": connect app=\"live\""), std::string::npos) << log;
    // S0 S1 S2, then window, bandwidth, chunk size and _result.
    EXPECT_GT(session_->pending_output(), 1u + 1536 + 1536);
    session_->close("test over");
    io_.poll();
    EXPECT_TRUE(ended_);
    EXPECT_EQ(context_.stats.connections_failed, 0u);
}

}  // namespace
}  // namespace rtmpgate::gateway::rtmp
