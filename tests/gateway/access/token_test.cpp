#include "gateway/access/token.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace rtmpgate::gateway::access {
namespace {

const std::string secret = "0123456789abcdef0123";
const std::string other_secret = "fedcba9876543210fedc";
constexpr std::int64_t expires = 1'700'000'000;
constexpr std::int64_t before = expires - 60;

asio::ip::address addr(const char* text) { return asio::ip::make_address(text); }

query_args args_of(std::string_view query) {
    auto parsed = parse_query(query);
    EXPECT_TRUE(parsed) << query;
    return parsed ? *parsed : query_args{};
}

token_verdict check(std::string_view query, std::vector<std::string> secrets = {secret},
                    std::string_view app = "live", std::string_view stream = "cam1",
                    const char* client = "192.0.2.7", std::int64_t now = before) {
    const query_args sources[] = {args_of(query)};
    return verify_token(secrets, app, stream, sources, addr(client), now);
}

// --- query strings -------------------------------------------------------------------------------

TEST(access_query, split_at_the_first_question_mark) {
    auto s = split_query("cam1?a=b?c");
    EXPECT_EQ(s.name, "cam1");
    EXPECT_EQ(s.query, "a=b?c");
    s = split_query("cam1");
    EXPECT_EQ(s.name, "cam1");
    EXPECT_EQ(s.query, "");
    s = split_query("?x");
    EXPECT_EQ(s.name, "");
    EXPECT_EQ(s.query, "x");
}

TEST(access_query, pairs_decoded_in_order) {
    const auto a = args_of("a=1&b=x%20y&&c&d=&e=%3d%3D&+=+&k=v=w");
    const query_args expected = {{"a", "1"},  {"b", "x y"}, {"c", ""},   {"d", ""},
                                 {"e", "=="}, {"+", "+"},   {"k", "v=w"}};
    EXPECT_EQ(a, expected);
    EXPECT_TRUE(args_of("").empty());
    EXPECT_TRUE(args_of("&&&").empty());
    EXPECT_EQ(args_of("%00=%ff"), (query_args{{std::string(1, '\0'), "\xff"}}));
}

TEST(access_query, without_token_args_keeps_the_rest_as_sent) {
    EXPECT_EQ(without_token_args(""), "");
    EXPECT_EQ(without_token_args("expires=1&sig=ab&client=1.2.3.4"), "");
    EXPECT_EQ(without_token_args("vhost=a&expires=1&sig=ab&x=%41"), "vhost=a&x=%41");
    EXPECT_EQ(without_token_args("sig&&a=1&expires"), "a=1");
    // Keys are compared whole and as sent.
    EXPECT_EQ(without_token_args("sigma=1&Sig=2&signature=3"), "sigma=1&Sig=2&signature=3");
}

TEST(access_query, malformed_escapes_and_too_many_pairs) {
    for (const char* bad : {"a=%", "a=%4", "a=%4g", "a%=1", "%zz=1", "a=1&b=%%41"}) {
        const auto r = parse_query(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.error().find("percent"), std::string::npos) << r.error();
        }
    }
    EXPECT_EQ(parse_query("a=1&b=%4").error(), "bad percent escape at offset 6");
    std::string many;
    for (std::size_t i = 0; i < max_query_args; ++i) many += "k" + std::to_string(i) + "=v&";
    EXPECT_EQ(args_of(many).size(), max_query_args);
    const auto r = parse_query(many + "one=more");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "more than 32 parameters");
}

// --- tokens --------------------------------------------------------------------------------------

TEST(access_token, sign_matches_the_documented_message) {
    // HMAC-SHA256("0123456789abcdef0123", "rtmpgate-v1\nlive\ncam1\n1700000000\n"), computed
    // with Python's hmac module, so that the message format is pinned by something other than
    // the code under test.
    EXPECT_EQ(sign(secret, "live", "cam1", expires, std::nullopt),
              "expires=1700000000&sig="
              "568480365db91792219526d03e91f3fe7baf0930b6cfde349e74514d09aa76d0");
    EXPECT_EQ(sign(secret, "live", "cam1", expires, addr("::ffff:192.0.2.7")),
              "expires=1700000000&sig="
              "e5d8db01e46865a94734ca7bb47e0fd1bce100ff31d77c1185719191f44137ae&client=192.0.2.7");
}

TEST(access_token, valid_token) {
    const auto v = check(sign(secret, "live", "cam1", expires, std::nullopt));
    EXPECT_EQ(v.why, reason::token_ok) << v.detail;
    EXPECT_TRUE(v.ok());
    // Other parameters beside it change nothing; uppercase hex is read too.
    auto q = "foo=bar&" + sign(secret, "live", "cam1", expires, std::nullopt) + "&x";
    EXPECT_TRUE(check(q).ok());
    std::string upper = q.substr(q.find("sig=") + 4, 64);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(check("expires=1700000000&sig=" + upper).ok()) << upper;
}

TEST(access_token, expired) {
    const auto q = sign(secret, "live", "cam1", expires, std::nullopt);
    EXPECT_EQ(check(q, {secret}, "live", "cam1", "192.0.2.7", expires - 1).why, reason::token_ok);
    EXPECT_EQ(check(q, {secret}, "live", "cam1", "192.0.2.7", expires).why, reason::token_expired);
    EXPECT_EQ(check(q, {secret}, "live", "cam1", "192.0.2.7", expires + 3600).why,
              reason::token_expired);
}

TEST(access_token, wrong_secret_or_tampered_names) {
    const auto q = sign(secret, "live", "cam1", expires, std::nullopt);
    EXPECT_EQ(check(q, {other_secret}).why, reason::token_bad_signature);
    EXPECT_EQ(check(q, {}).why, reason::token_bad_signature);
    EXPECT_EQ(check(q, {secret}, "live", "cam2").why, reason::token_bad_signature);
    EXPECT_EQ(check(q, {secret}, "live", "cam1 ").why, reason::token_bad_signature);
    EXPECT_EQ(check(q, {secret}, "live2", "cam1").why, reason::token_bad_signature);
    // Moving the boundary between app and stream changes the message.
    EXPECT_EQ(check(sign(secret, "a", "bc", expires, std::nullopt), {secret}, "ab", "c").why,
              reason::token_bad_signature);
    // A later expiry than the one signed.
    EXPECT_EQ(check("expires=1700000001&sig=" + q.substr(q.find("sig=") + 4)).why,
              reason::token_bad_signature);
}

TEST(access_token, rotated_secrets) {
    const auto old_token = sign(secret, "live", "cam1", expires, std::nullopt);
    const auto new_token = sign(other_secret, "live", "cam1", expires, std::nullopt);
    const std::vector<std::string> both = {other_secret, secret};
    EXPECT_TRUE(check(old_token, both).ok());
    EXPECT_TRUE(check(new_token, both).ok());
    EXPECT_EQ(check(old_token, {other_secret}).why, reason::token_bad_signature);
}

TEST(access_token, client_bound) {
    const auto q = sign(secret, "live", "cam1", expires, addr("192.0.2.7"));
    EXPECT_TRUE(check(q).ok());
    EXPECT_TRUE(check(q, {secret}, "live", "cam1", "::ffff:192.0.2.7").ok());
    const auto other = check(q, {secret}, "live", "cam1", "192.0.2.8");
    EXPECT_EQ(other.why, reason::token_bad_signature);
    EXPECT_EQ(other.detail, "bound to another client address");
    // Dropping the client parameter does not unbind it: the signature covers it.
    const auto unbound = q.substr(0, q.find("&client="));
    EXPECT_EQ(check(unbound, {secret}, "live", "cam1", "192.0.2.8").why,
              reason::token_bad_signature);
    // Rebinding it to the caller's own address does not either.
    EXPECT_EQ(check(unbound + "&client=192.0.2.8", {secret}, "live", "cam1", "192.0.2.8").why,
              reason::token_bad_signature);
    const auto v6 = sign(secret, "live", "cam1", expires, addr("2001:db8::1"));
    EXPECT_TRUE(check(v6, {secret}, "live", "cam1", "2001:db8::1").ok());
    EXPECT_EQ(check(v6, {secret}, "live", "cam1", "2001:db8::2").why, reason::token_bad_signature);
}

TEST(access_token, missing) {
    EXPECT_EQ(check("").why, reason::token_missing);
    EXPECT_EQ(check("expires=1700000000").why, reason::token_missing);
    EXPECT_EQ(check("key=abc").why, reason::token_missing);
}

TEST(access_token, malformed) {
    const auto q = sign(secret, "live", "cam1", expires, std::nullopt);
    const auto sig = q.substr(q.find("sig=") + 4);
    const std::string good_expires = "expires=1700000000";
    for (const std::string& bad : {
             "sig=" + sig,                                         // missing expires
             good_expires + "&sig=" + sig.substr(1),               // 63 digits
             good_expires + "&sig=" + sig + "0",                   // 65 digits
             good_expires + "&sig=",                               // empty
             good_expires + "&sig=" + std::string(64, 'g'),        // not hex
             good_expires + "&sig=" + sig + "&sig=" + sig,         // twice
             good_expires + "&" + good_expires + "&sig=" + sig,    // twice
             q + "&client=192.0.2.7&client=192.0.2.7",             // twice
             q + "&client=example.com",                            // not an address
             q + "&client=",                                       //
             "expires=&sig=" + sig,                                // empty
             "expires=-1&sig=" + sig,                              // sign
             "expires=+1700000000&sig=" + sig,                     //
             "expires=1700000000.0&sig=" + sig,                    //
             "expires=0x65&sig=" + sig,                            //
             "expires=%201700000000&sig=" + sig,                   // space, decoded
             "expires=99999999999999999999&sig=" + sig,            // 20 digits
             "expires=9223372036854775808&sig=" + sig,             // 2^63
             "expires=" + std::string(5000, '9') + "&sig=" + sig,  // huge
         }) {
        const auto v = check(bad);
        EXPECT_EQ(v.why, reason::token_malformed) << bad << " -> " << v.detail;
    }
    // The largest expiry is read (and its signature then checked).
    EXPECT_EQ(check("expires=9223372036854775807&sig=" + sig).why, reason::token_bad_signature);
    // The value is signed, not its spelling: leading zeros name the same time.
    EXPECT_EQ(check("expires=01700000000&sig=" + sig).why, reason::token_ok);
}

TEST(access_token, the_first_source_with_a_sig_holds_the_whole_token) {
    const auto token = args_of(sign(secret, "live", "cam1", expires, std::nullopt));
    const auto none = args_of("foo=1");
    const auto addr7 = addr("192.0.2.7");
    const std::vector<std::string> secrets = {secret};
    // In the stream name's query or in the connect URL's.
    const query_args stream_first[] = {token, none};
    EXPECT_TRUE(verify_token(secrets, "live", "cam1", stream_first, addr7, before).ok());
    const query_args connect_only[] = {none, token};
    EXPECT_TRUE(verify_token(secrets, "live", "cam1", connect_only, addr7, before).ok());
    // A sig in the stream name's query is the token even when the connect URL has another.
    const auto bad = args_of("expires=1700000000&sig=" + std::string(64, '0'));
    const query_args bad_first[] = {bad, token};
    EXPECT_EQ(verify_token(secrets, "live", "cam1", bad_first, addr7, before).why,
              reason::token_bad_signature);
    // expires from one query and sig from the other are not a token.
    const auto sig_only = args_of("sig=" + token[1].second);
    const auto expires_only = args_of("expires=1700000000");
    const query_args split[] = {expires_only, sig_only};
    EXPECT_EQ(verify_token(secrets, "live", "cam1", split, addr7, before).why,
              reason::token_malformed);
    EXPECT_EQ(verify_token(secrets, "live", "cam1", {}, addr7, before).why, reason::token_missing);
}

// --- secret files --------------------------------------------------------------------------------

class secret_files : public ::testing::Test {
protected:
    std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                                 ("rtmpgate-secret-test-" + std::to_string(::getpid()));
    void SetUp() override { std::filesystem::create_directories(dir_); }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& content) {
        const auto path = (dir_ / name).string();
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
    std::string error_of(const std::vector<std::string>& files) {
        try {
            read_secret_files(files, "routes[1].access.secret_files");
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "(accepted)";
    }
};

TEST_F(secret_files, first_line_without_its_end) {
    const auto a = write("a", "0123456789abcdef\nsecond line\n");
    const auto b = write("b", "fedcba9876543210xyz\r\n");
    const auto c = write("c", "no line end at all");
    const auto secrets = read_secret_files({a, b, c}, "access.secret_files");
    EXPECT_EQ(secrets, (std::vector<std::string>{"0123456789abcdef", "fedcba9876543210xyz",
                                                 "no line end at all"}));
    EXPECT_TRUE(read_secret_files({}, "access.secret_files").empty());
}

TEST_F(secret_files, errors_name_the_key_and_index) {
    const auto good = write("good", "0123456789abcdef\n");
    const auto short_one = write("short", "0123456789abcde\n");
    EXPECT_TRUE(error_of({good, short_one}).starts_with("routes[1].access.secret_files[1]: "))
        << error_of({good, short_one});
    EXPECT_NE(error_of({short_one}).find("15 octets; at least 16"), std::string::npos);
    EXPECT_NE(error_of({write("empty", "")}).find("0 octets"), std::string::npos);
    EXPECT_NE(error_of({write("blank", "\n0123456789abcdef\n")}).find("0 octets"),
              std::string::npos);
    const auto missing = (dir_ / "missing").string();
    EXPECT_EQ(error_of({missing}), "routes[1].access.secret_files[0]: " + missing +
                                       ": cannot read: No such file or "
                                       "directory");
    EXPECT_NE(error_of({write("long", std::string(20000, 'x'))}).find("longer than"),
              std::string::npos);
    EXPECT_NE(error_of({dir_.string()}).find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace rtmpgate::gateway::access
