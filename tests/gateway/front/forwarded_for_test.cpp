// X-Forwarded-For and Forwarded (RFC 7239) as an RTMPT /open from a trusted proxy carries them:
// the parsed hops, and the client picked from the right.
#include "gateway/front/forwarded_for.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rtmpgate::gateway::front {
namespace {

using boost::asio::ip::make_address;
using boost::asio::ip::tcp;

std::vector<cidr> trusted(std::initializer_list<const char*> networks) {
    std::vector<cidr> out;
    for (const char* n : networks) out.push_back(*cidr::parse(n));
    return out;
}

// "addr:port" per hop, "-" for one without an address.
std::string hops_of(const forwarded_chain& chain) {
    std::string out;
    for (const auto& h : chain.hops) {
        if (!out.empty()) out += ' ';
        out += h.address ? h.address->to_string() + ":" + std::to_string(h.port) : "-";
    }
    return out;
}

std::string client_of(const forwarded_chain& chain, const std::vector<cidr>& proxies) {
    const auto c = forwarded_client(chain, proxies);
    return c ? c->address().to_string() + ":" + std::to_string(c->port()) : "none";
}

TEST(x_forwarded_for, elements_and_forms) {
    EXPECT_EQ(hops_of(parse_x_forwarded_for("203.0.113.5")), "203.0.113.5:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("203.0.113.5, 10.0.0.2")), "203.0.113.5:0 10.0.0.2:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for(" 203.0.113.5:4711 ,\t2001:db8::1 ")),
              "203.0.113.5:4711 2001:db8::1:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("[2001:db8::1]:80,[::1]")), "2001:db8::1:80 ::1:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("::ffff:10.0.0.1")), "::ffff:10.0.0.1:0");
}

TEST(x_forwarded_for, odd_inputs) {
    EXPECT_EQ(hops_of(parse_x_forwarded_for("")), "");
    EXPECT_EQ(hops_of(parse_x_forwarded_for(" , ,, ")), "");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("unknown, 10.0.0.2")), "- 10.0.0.2:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("_hidden")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("garbage")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("1.2.3.4:99999")), "1.2.3.4:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("1.2.3.4:x")), "1.2.3.4:0");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("1.2.3")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("[1.2.3.4]")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("[::1")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("[::1]x")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("fe80::1%eth0")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for("1.2.3.4 5.6.7.8")), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for(std::string(300, '1'))), "-");
    EXPECT_EQ(hops_of(parse_x_forwarded_for(std::string("1.2.3.4\0", 8))), "-");
}

TEST(x_forwarded_for, a_long_chain_keeps_its_right_most_hops) {
    std::string value = "6.6.6.6";
    for (int i = 0; i < 100; ++i) value += ", 10.0.0." + std::to_string(i);
    const auto chain = parse_x_forwarded_for(value);
    EXPECT_TRUE(chain.cut);
    ASSERT_EQ(chain.hops.size(), max_forwarded_hops);
    EXPECT_EQ(chain.hops.back().address, make_address("10.0.0.99"));
    // All kept hops are trusted and the rest was cut: nobody can be named.
    EXPECT_EQ(client_of(chain, trusted({"10.0.0.0/8"})), "none");
    EXPECT_EQ(client_of(chain, trusted({"10.0.0.99"})), "10.0.0.98:0");
    // Ten thousand empty elements cost nothing and give nothing.
    EXPECT_EQ(hops_of(parse_x_forwarded_for(std::string(10000, ','))), "");
}

TEST(x_forwarded_for, the_client_is_the_right_most_untrusted_hop) {
    const auto proxies = trusted({"10.0.0.0/8", "::1"});
    // A client that forges the left part gets its own address taken, not the forgery.
    EXPECT_EQ(client_of(parse_x_forwarded_for("1.1.1.1, 203.0.113.5, 10.0.0.2"), proxies),
              "203.0.113.5:0");
    EXPECT_EQ(client_of(parse_x_forwarded_for("203.0.113.5"), proxies), "203.0.113.5:0");
    EXPECT_EQ(client_of(parse_x_forwarded_for("203.0.113.5:4711, ::1"), proxies),
              "203.0.113.5:4711");
    // Proxies all the way: the left-most.
    EXPECT_EQ(client_of(parse_x_forwarded_for("10.0.0.9, 10.0.0.2"), proxies), "10.0.0.9:0");
    // The right-most untrusted hop names no address: nothing can be said.
    EXPECT_EQ(client_of(parse_x_forwarded_for("203.0.113.5, unknown, 10.0.0.2"), proxies), "none");
    EXPECT_EQ(client_of(parse_x_forwarded_for("203.0.113.5, garbage"), proxies), "none");
    EXPECT_EQ(client_of(parse_x_forwarded_for(""), proxies), "none");
    // A mapped address is its IPv4 address.
    EXPECT_EQ(client_of(parse_x_forwarded_for("::ffff:203.0.113.5, ::ffff:10.0.0.2"), proxies),
              "203.0.113.5:0");
}

TEST(forwarded, elements_pairs_and_quoting) {
    EXPECT_EQ(hops_of(parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43")),
              "192.0.2.60:0");
    EXPECT_EQ(hops_of(parse_forwarded("For=\"[2001:db8:cafe::17]:4711\"")),
              "2001:db8:cafe::17:4711");
    EXPECT_EQ(hops_of(parse_forwarded("for=192.0.2.43, for=198.51.100.17")),
              "192.0.2.43:0 198.51.100.17:0");
    EXPECT_EQ(hops_of(parse_forwarded("for=\"192.0.2.43:80\" ; proto=https , FOR=10.0.0.1")),
              "192.0.2.43:80 10.0.0.1:0");
    // A quoted value may hold ',' and ';' and escapes.
    EXPECT_EQ(hops_of(parse_forwarded("by=\"a,b;c\\\"d\";for=1.2.3.4, for=5.6.7.8")),
              "1.2.3.4:0 5.6.7.8:0");
    // Unquoted IPv6 in brackets is against the grammar but read.
    EXPECT_EQ(hops_of(parse_forwarded("for=[::1]:80")), "::1:80");
}

TEST(forwarded, odd_inputs) {
    EXPECT_EQ(hops_of(parse_forwarded("")), "");
    EXPECT_EQ(hops_of(parse_forwarded(" ,, ")), "");
    EXPECT_EQ(hops_of(parse_forwarded("for=_hidden, for=10.0.0.1")), "- 10.0.0.1:0");
    EXPECT_EQ(hops_of(parse_forwarded("for=unknown")), "-");
    EXPECT_EQ(hops_of(parse_forwarded("for=\"_gazonk\"")), "-");
    EXPECT_EQ(hops_of(parse_forwarded("for=\"[2001:db8::1]:_port\"")), "2001:db8::1:0");
    EXPECT_EQ(hops_of(parse_forwarded("proto=http")), "-");               // no for=
    EXPECT_EQ(hops_of(parse_forwarded("for")), "-");                      // no '='
    EXPECT_EQ(hops_of(parse_forwarded("for=")), "-");                     // no value
    EXPECT_EQ(hops_of(parse_forwarded("for=1.2.3.4 x")), "-");            // junk after a pair
    EXPECT_EQ(hops_of(parse_forwarded("for=1.2.3.4;for=5.6.7.8")), "-");  // two for=
    EXPECT_EQ(hops_of(parse_forwarded("garbage, for=10.0.0.1")), "- 10.0.0.1:0");
    // An unterminated quote takes the rest of the value: no hop can be trusted after it.
    EXPECT_EQ(hops_of(parse_forwarded("for=\"1.2.3.4, for=10.0.0.1")), "-");
    EXPECT_EQ(hops_of(parse_forwarded("by=x;for=\"[::1]\\")), "-");
    EXPECT_EQ(hops_of(parse_forwarded(std::string(5000, '"'))), "-");
    EXPECT_EQ(hops_of(parse_forwarded("for=\"" + std::string(1000, '1') + "\"")), "-");
}

TEST(forwarded, the_client_is_the_right_most_untrusted_hop) {
    const auto proxies = trusted({"10.0.0.0/8"});
    EXPECT_EQ(client_of(parse_forwarded("for=1.1.1.1, for=\"[2001:db8::5]:4711\", for=10.0.0.3"),
                        proxies),
              "2001:db8::5:4711");
    EXPECT_EQ(client_of(parse_forwarded("for=1.1.1.1, for=_hidden, for=10.0.0.3"), proxies),
              "none");
    std::string many;
    for (int i = 0; i < 40; ++i) many += (i ? ", " : "") + std::string("for=10.1.1.1");
    const auto chain = parse_forwarded(many);
    EXPECT_TRUE(chain.cut);
    EXPECT_EQ(chain.hops.size(), max_forwarded_hops);
    EXPECT_EQ(client_of(chain, proxies), "none");
}

}  // namespace
}  // namespace rtmpgate::gateway::front
