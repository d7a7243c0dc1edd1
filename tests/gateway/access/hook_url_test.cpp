#include <gtest/gtest.h>

#include "gateway/access/hook_client.hpp"

namespace rtmpgate::gateway::access {
namespace {

TEST(hook_url, reads_scheme_host_port_and_target) {
    auto u = hook_url::parse("http://hooks.example.com/on_publish?x=1");
    ASSERT_TRUE(u);
    EXPECT_FALSE(u->tls);
    EXPECT_EQ(u->host, "hooks.example.com");
    EXPECT_EQ(u->port, 80);
    EXPECT_EQ(u->target, "/on_publish?x=1");
    EXPECT_EQ(u->to_string(), "http://hooks.example.com/on_publish?x=1");

    u = hook_url::parse("https://10.0.0.5:8443/a/b");
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "10.0.0.5");
    EXPECT_EQ(u->port, 8443);
    EXPECT_EQ(u->target, "/a/b");
    EXPECT_EQ(u->to_string(), "https://10.0.0.5:8443/a/b");

    u = hook_url::parse("https://[::1]:9000");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 9000);
    EXPECT_EQ(u->target, "/");
    EXPECT_EQ(u->to_string(), "https://[::1]:9000/");

    u = hook_url::parse("https://auth.internal");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->target, "/");
    EXPECT_EQ(u->to_string(), "https://auth.internal/");

    u = hook_url::parse("http://127.0.0.1:1?a=b");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 1);
    EXPECT_EQ(u->target, "/?a=b");

    u = hook_url::parse("http://h:65535/");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 65535);
    // A default port written out is dropped by to_string, which still parses to the same URL.
    u = hook_url::parse("http://h:80/x");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->to_string(), "http://h/x");
}

TEST(hook_url, refuses_what_is_not_such_a_url) {
    for (const char* text : {
             "",
             "hooks.example.com/x",     // no scheme
             "ftp://h/x",               // another scheme
             "HTTP://h/x",              // schemes are written in lowercase here
             "http://",                 // no host
             "http:///x",               // no host
             "http://user:pw@h/x",      // user info
             "http://h/x#frag",         // fragment
             "http://h#frag",           //
             "http://h:0/",             // port 0
             "http://h:65536/",         // port too large
             "http://h:/",              // empty port
             "http://h:+80/",           // signed port
             "http://h:8o/",            // not digits
             "http://h:000080/",        // too many digits
             "http://[::1/",            // unclosed bracket
             "http://[::1]x/",          // junk after the bracket
             "http://[fe80::1%eth0]/",  // zone
             "http://[10.0.0.1]/",      // IPv4 in brackets
             "http://::1/",             // IPv6 without brackets
             "http://h_x/",             // not a host name
             "http://-h/",              //
             "http://h/a b",            // space in the path
             "http://h/a\x01",          // control
             "http://h/\x80",           // non-ASCII
             "http://h/<x>",            // outside URIs
         }) {
        EXPECT_FALSE(hook_url::parse(text)) << text;
    }
    EXPECT_FALSE(hook_url::parse("http://h/" + std::string(3000, 'a')));
}

}  // namespace
}  // namespace rtmpgate::gateway::access
