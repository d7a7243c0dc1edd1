#include "gateway/admin/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {
namespace {

TEST(metrics, refusals_and_timeouts_are_labelled_counters) {
    server_context context{config{}};
    context.stats.refusals.add(refusal::max_sessions);
    context.stats.refusals.add(refusal::max_sessions);
    EXPECT_TRUE(context.stats.count_timeout(make_error_code(deadline_error::request_header)));
    EXPECT_FALSE(context.stats.count_timeout(make_error_code(boost::system::errc::timed_out)));

    const std::string text = render_metrics(context);
    EXPECT_NE(text.find("# TYPE rtmpgate_refusals_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_refusals_total{reason=\"max_sessions\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("rtmpgate_refusals_total{reason=\"max_connections\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("rtmpgate_refusals_total{reason=\"connect_string_too_long\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("rtmpgate_refusals_total{reason=\"stream_name_too_long\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("rtmpgate_timeouts_total{deadline=\"request_header\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("rtmpgate_timeouts_total{deadline=\"handshake\"} 0\n"), std::string::npos);
    // deadline_error has no enumerator 0: no empty label.
    EXPECT_EQ(text.find("deadline=\"\""), std::string::npos);
    // The old name stays, read from the same counter.
    EXPECT_NE(text.find("rtmpgate_connections_rejected_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace rtmpgate::gateway::admin
