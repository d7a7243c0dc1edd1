#include "gateway/web/web_target.hpp"

#include <gtest/gtest.h>

namespace rtmpgate::gateway::web {
namespace {

using kind = web_target::kind;

TEST(web_target, flv) {
    auto t = parse_web_target("/live/a.flv");
    EXPECT_EQ(t.what, kind::flv);
    EXPECT_EQ(t.app, "live");
    EXPECT_EQ(t.stream, "a");
    EXPECT_EQ(t.query, "");
    t = parse_web_target("/live/a%20b%2Bc.flv?expires=1&sig=ab");
    EXPECT_EQ(t.what, kind::flv);
    EXPECT_EQ(t.stream, "a b+c");
    EXPECT_EQ(t.query, "expires=1&sig=ab");
    t = parse_web_target("/live/x.flv.flv");  // a stream named x.flv
    EXPECT_EQ(t.what, kind::flv);
    EXPECT_EQ(t.stream, "x.flv");
    t = parse_web_target("/play/a.flv");  // app "play" has streams too
    EXPECT_EQ(t.what, kind::flv);
    EXPECT_EQ(t.app, "play");
}

TEST(web_target, player) {
    EXPECT_EQ(parse_web_target("/play/mpegts.js").what, kind::script);
    EXPECT_EQ(parse_web_target("/play/mpegts.js?v=1").what, kind::script);
    const auto t = parse_web_target("/play/live/a?autoplay=1");
    EXPECT_EQ(t.what, kind::page);
    EXPECT_EQ(t.app, "live");
    EXPECT_EQ(t.stream, "a");
}

TEST(web_target, none) {
    for (const char* target : {"",
                               "/",
                               "*",
                               "live/a.flv",
                               "http://host/live/a.flv",
                               "/live",
                               "/live/a",
                               "/live/a.mp4",
                               "/a/b/c.flv",
                               "/live//a.flv",
                               "//a.flv",
                               "/live/.flv",
                               "/live/a.flv/",
                               "/play",
                               "/play/",
                               "/play/live",
                               "/play/live/",
                               "/play/live/a/b",
                               "/live/%zz.flv",
                               "/live/%2.flv",
                               "/live/%.flv",
                               "/live/a%2Fb.flv",
                               "/live/a%00.flv",
                               "/live/a%0A.flv",
                               "/live/a%7F.flv",
                               "/a/b/c/d/e/f/g.flv",
                               "/live/a\x01.flv"})
        EXPECT_EQ(parse_web_target(target).what, kind::none) << target;
}

}  // namespace
}  // namespace rtmpgate::gateway::web
