// hook_client against real HTTP and HTTPS servers on 127.0.0.1 (Beast's server side, on a thread
// of their own), with the dev certificates of certs/make-dev-cert.
#include "gateway/access/hook_client.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace rtmpgate::gateway::access {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using outcome = hook_answer::outcome;

// Dev certificate sets made once per run: `a` for localhost, 127.0.0.1 and ::1; `b` the same
// from another CA; `c` for "only.example" alone.
struct dev_certs {
    std::filesystem::path root, a, b, c;
    bool made = false;
    dev_certs() {
        char pattern[] = "/tmp/hook-client-test-XXXXXX";
        if (!mkdtemp(pattern)) return;
        root = pattern;
        a = root / "a";
        b = root / "b";
        c = root / "c";
        const std::string script = std::string(RTMPGATE_SOURCE_DIR) + "/certs/make-dev-cert";
        made =
            std::system((script + " --out " + a.string() + " > /dev/null").c_str()) == 0 &&
            std::system((script + " --out " + b.string() + " > /dev/null").c_str()) == 0 &&
            std::system(
                (script + " --out " + c.string() + " --name only.example > /dev/null").c_str()) ==
                0;
    }
    ~dev_certs() {
        std::error_code ignored;
        if (!root.empty()) std::filesystem::remove_all(root, ignored);
    }
};

const dev_certs& certs() {
    static const dev_certs c;
    return c;
}

// A hook server: answers every request on a connection as `mode` says, counting connections and
// requests.
class hook_server {
public:
    enum mode : int { answer, hang, answer_then_close, huge_body };

    // `tls`: HTTPS with the server certificate of `cert_dir` (default: certs().a).
    explicit hook_server(bool tls = false, std::filesystem::path cert_dir = {})
        : tls_(ssl::context::tls_server) {
        if (tls) {
            if (cert_dir.empty()) cert_dir = certs().a;
            tls_.use_certificate_chain_file((cert_dir / "server.crt").string());
            tls_.use_private_key_file((cert_dir / "server.key").string(), ssl::context::pem);
        }
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(tls), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~hook_server() {
        ioc_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }
    std::string last_body() {
        std::lock_guard lock(mutex_);
        return last_body_;
    }
    std::string last_content_type() {
        std::lock_guard lock(mutex_);
        return last_content_type_;
    }

    std::atomic<int> behaviour{answer};
    std::atomic<unsigned> status{200};
    std::atomic<int> connections{0}, requests{0}, handshakes{0};

private:
    asio::awaitable<void> accept_loop(bool tls) {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
            if (ec) co_return;
            ++connections;
            if (tls)
                asio::co_spawn(ioc_, serve_tls(std::move(socket)), asio::detached);
            else
                asio::co_spawn(ioc_, serve_plain(std::move(socket)), asio::detached);
        }
    }
    asio::awaitable<void> serve_plain(tcp::socket socket) { co_await serve(socket); }
    asio::awaitable<void> serve_tls(tcp::socket socket) {
        ssl::stream<tcp::socket> stream(std::move(socket), tls_);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow);
        if (ec) co_return;
        ++handshakes;
        co_await serve(stream);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> request;
            auto [ec, n] = co_await http::async_read(stream, buffer, request, use_nothrow);
            if (ec) co_return;
            {
                std::lock_guard lock(mutex_);
                last_body_ = request.body();
                last_content_type_ = std::string(request[http::field::content_type]);
            }
            ++requests;
            const int m = behaviour;
            if (m == hang) {
                asio::steady_timer t(ioc_, 10s);  // ioc_.stop() ends it sooner
                co_await t.async_wait(use_nothrow);
                co_return;
            }
            http::response<http::string_body> response;
            response.version(11);
            response.result(status.load());
            response.body() = m == huge_body ? std::string(100 * 1024, 'x')
                                             : std::string("{\"stream\":\"renamed\"}");
            response.keep_alive(request.keep_alive());
            response.prepare_payload();
            auto [wec, w] = co_await http::async_write(stream, response, use_nothrow);
            if (wec || m == answer_then_close || !request.keep_alive()) co_return;
        }
    }

    asio::io_context ioc_;
    ssl::context tls_;
    tcp::acceptor acceptor_{ioc_, {asio::ip::make_address("127.0.0.1"), 0}};
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::string last_body_, last_content_type_;
};

hook_url url_of(const hook_server& server, bool tls = false, std::string host = "127.0.0.1") {
    hook_url u;
    u.tls = tls;
    u.host = std::move(host);
    u.port = server.port();
    u.target = "/hook?x=1";
    return u;
}

hook_settings settings_with(milliseconds timeout = 3000ms, std::string ca_file = "") {
    hook_settings s;
    s.timeout = timeout;
    s.ca_file = std::move(ca_file);
    return s;
}

// Runs one post to its end on `ioc` (bounded: 10 s).
hook_answer call(asio::io_context& ioc, hook_client& client, const hook_url& url,
                 std::string body = "{\"action\":\"publish\"}") {
    std::optional<hook_answer> out;
    asio::co_spawn(ioc, client.post(url, std::move(body)),
                   [&](std::exception_ptr e, hook_answer a) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(a);
                   });
    ioc.restart();
    const auto until = clock_type::now() + 10s;
    while (!out && clock_type::now() < until) ioc.run_one_for(50ms);
    EXPECT_TRUE(out) << "the post did not complete within 10 s";
    return out.value_or(hook_answer{});
}

TEST(hook_client, posts_json_and_gives_status_and_body) {
    hook_server server;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    const auto url = url_of(server);
    const auto a = call(ioc, client, url, "{\"action\":\"play\"}");
    EXPECT_EQ(a.result, outcome::answered) << a.error;
    EXPECT_EQ(a.status, 200u);
    EXPECT_EQ(a.body, "{\"stream\":\"renamed\"}");
    EXPECT_GT(a.took.count(), 0);
    EXPECT_EQ(server.last_body(), "{\"action\":\"play\"}");
    EXPECT_EQ(server.last_content_type(), "application/json");
}

TEST(hook_client, a_refusal_is_an_answer_with_its_status) {
    hook_server server;
    server.status = 403;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    const auto url = url_of(server);
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::answered) << a.error;
    EXPECT_EQ(a.status, 403u);
}

TEST(hook_client, a_server_that_never_answers_times_out_on_time) {
    hook_server server;
    server.behaviour = hook_server::hang;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with(300ms));
    const auto url = url_of(server);
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::timeout) << a.error;
    EXPECT_GE(a.took, 290ms);
    EXPECT_LT(a.took, 1000ms);  // slack for the sanitizers
    EXPECT_EQ(server.requests, 1);
}

TEST(hook_client, a_refused_connection_is_unreachable_at_once) {
    std::uint16_t port = 0;
    {
        asio::io_context scratch;
        tcp::acceptor probe(scratch, {asio::ip::make_address("127.0.0.1"), 0});
        port = probe.local_endpoint().port();
    }
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with(3000ms));
    hook_url url;
    url.host = "127.0.0.1";
    url.port = port;
    url.target = "/";
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::unreachable);
    EXPECT_NE(a.error.find("connect"), std::string::npos) << a.error;
    EXPECT_LT(a.took, 500ms);
}

TEST(hook_client, beyond_max_concurrent_is_busy_at_once_and_close_fails_those_in_flight) {
    hook_server server;
    server.behaviour = hook_server::hang;
    asio::io_context ioc;
    auto s = settings_with(5000ms);
    s.max_concurrent = 2;
    hook_client client(ioc.get_executor(), s);
    const auto url = url_of(server);
    std::vector<hook_answer> done;
    for (int i = 0; i < 2; ++i)
        asio::co_spawn(ioc, client.post(url, "{}"),
                       [&](std::exception_ptr, hook_answer a) { done.push_back(std::move(a)); });
    const auto until = clock_type::now() + 5s;
    while (server.requests < 2 && clock_type::now() < until) ioc.run_one_for(10ms);
    ASSERT_EQ(server.requests, 2);

    const auto third = call(ioc, client, url);
    EXPECT_EQ(third.result, outcome::busy) << third.error;
    EXPECT_LT(third.took, 100ms);  // no I/O: only the sanitizers slow it
    EXPECT_EQ(server.requests, 2);

    const auto closing = clock_type::now();
    client.close();
    while (done.size() < 2 && clock_type::now() < closing + 5s) ioc.run_one_for(10ms);
    EXPECT_LT(clock_type::now() - closing, 1s);
    ASSERT_EQ(done.size(), 2u);
    for (const auto& a : done) {
        EXPECT_EQ(a.result, outcome::unreachable);
        EXPECT_EQ(a.error, "hook client closed");
    }
    EXPECT_EQ(call(ioc, client, url).result, outcome::unreachable);
}

TEST(hook_client, kept_alive_connections_are_reused) {
    hook_server server;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    const auto url = url_of(server);
    for (int i = 0; i < 5; ++i) {
        const auto a = call(ioc, client, url);
        EXPECT_EQ(a.result, outcome::answered) << a.error;
        EXPECT_EQ(a.status, 200u);
    }
    EXPECT_EQ(server.requests, 5);
    EXPECT_EQ(server.connections, 1);
}

TEST(hook_client, no_connection_is_kept_when_max_idle_connections_is_0) {
    hook_server server;
    asio::io_context ioc;
    auto s = settings_with();
    s.max_idle_connections = 0;
    hook_client client(ioc.get_executor(), s);
    const auto url = url_of(server);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(call(ioc, client, url).status, 200u);
    EXPECT_EQ(server.connections, 3);
}

TEST(hook_client, a_kept_alive_connection_the_server_closed_is_replaced) {
    hook_server server;
    server.behaviour = hook_server::answer_then_close;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    const auto url = url_of(server);
    for (int i = 0; i < 3; ++i) {
        const auto a = call(ioc, client, url);
        EXPECT_EQ(a.result, outcome::answered) << a.error;
        EXPECT_EQ(a.status, 200u);
    }
    EXPECT_EQ(server.requests, 3);
    EXPECT_EQ(server.connections, 3);
}

TEST(hook_client, a_body_over_64_kib_is_a_bad_answer) {
    hook_server server;
    server.behaviour = hook_server::huge_body;
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    const auto url = url_of(server);
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::bad_answer);
    EXPECT_NE(a.error.find("64 KiB"), std::string::npos) << a.error;
    // The next request does not reuse that connection, and is answered.
    server.behaviour = hook_server::answer;
    EXPECT_EQ(call(ioc, client, url).status, 200u);
    EXPECT_EQ(server.connections, 2);
}

TEST(hook_client, something_not_http_is_a_bad_answer) {
    asio::io_context server_ioc;
    tcp::acceptor acceptor(server_ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::thread server([&] {
        error_code ec;
        auto socket = acceptor.accept(ec);
        if (ec) return;
        char request[512];
        socket.read_some(asio::buffer(request), ec);
        const std::string garbage = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
        asio::write(socket, asio::buffer(garbage), ec);
        std::this_thread::sleep_for(200ms);
    });
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with());
    hook_url url;
    url.host = "127.0.0.1";
    url.port = acceptor.local_endpoint().port();
    url.target = "/";
    const auto a = call(ioc, client, url);
    server.join();
    EXPECT_EQ(a.result, outcome::bad_answer) << a.error;
}

TEST(hook_client, https_with_the_dev_ca_verifies_name_and_address) {
    ASSERT_TRUE(certs().made);
    hook_server server(true);
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with(3000ms, (certs().a / "ca.crt").string()));
    const auto by_name = url_of(server, true, "localhost");
    const auto by_address = url_of(server, true, "127.0.0.1");
    for (int i = 0; i < 3; ++i) {
        const auto a = call(ioc, client, by_name);
        EXPECT_EQ(a.result, outcome::answered) << a.error;
        EXPECT_EQ(a.status, 200u);
    }
    const auto b = call(ioc, client, by_address);
    EXPECT_EQ(b.result, outcome::answered) << b.error;
    // One connection per server name: localhost's reused twice.
    EXPECT_EQ(server.handshakes, 2);
}

TEST(hook_client, https_with_another_ca_fails_the_handshake) {
    ASSERT_TRUE(certs().made);
    hook_server server(true);
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with(3000ms, (certs().b / "ca.crt").string()));
    const auto url = url_of(server, true, "localhost");
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::unreachable);
    EXPECT_NE(a.error.find("TLS handshake"), std::string::npos) << a.error;
    EXPECT_EQ(server.requests, 0);
}

TEST(hook_client, https_to_a_name_the_certificate_does_not_hold_fails) {
    ASSERT_TRUE(certs().made);
    // A certificate for only.example, from a CA the client trusts, presented at 127.0.0.1.
    hook_server server(true, certs().c);
    asio::io_context ioc;
    hook_client client(ioc.get_executor(), settings_with(3000ms, (certs().c / "ca.crt").string()));
    const auto url = url_of(server, true, "127.0.0.1");
    const auto a = call(ioc, client, url);
    EXPECT_EQ(a.result, outcome::unreachable) << a.error;
    EXPECT_NE(a.error.find("TLS handshake"), std::string::npos) << a.error;
    EXPECT_EQ(server.requests, 0);
    // With verify off it goes through.
    auto s = settings_with(3000ms);
    s.verify = false;
    hook_client lax(ioc.get_executor(), s);
    EXPECT_EQ(call(ioc, lax, url).status, 200u);
}

TEST(hook_client, an_unreadable_ca_file_throws) {
    asio::io_context ioc;
    EXPECT_THROW(hook_client(ioc.get_executor(), settings_with(3000ms, "/nonexistent/ca.crt")),
                 std::runtime_error);
}

asio::awaitable<void> post_many(hook_client& client, const hook_url& url, int count,
                                std::atomic<int>& answered) {
    for (int j = 0; j < count; ++j) {
        auto a = co_await client.post(url, "{}");
        if (a.result == outcome::answered && a.status == 200) ++answered;
    }
}

TEST(hook_client, posts_from_four_threads_at_once) {
    for (const bool tls : {false, true}) {
        SCOPED_TRACE(tls ? "https" : "http");
        ASSERT_TRUE(certs().made);
        hook_server server(tls);
        asio::io_context ioc;
        auto s = settings_with(5000ms, (certs().a / "ca.crt").string());
        s.max_idle_connections = 2;
        hook_client client(ioc.get_executor(), s);
        const auto url = url_of(server, tls);
        constexpr int callers = 4, each = 20;
        std::atomic<int> answered{0}, finished{0};
        for (int i = 0; i < callers; ++i) {
            asio::co_spawn(asio::make_strand(ioc), post_many(client, url, each, answered),
                           [&](std::exception_ptr) { ++finished; });
        }
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i)
            threads.emplace_back([&] {
                const auto until = clock_type::now() + 20s;
                while (finished < callers && clock_type::now() < until) ioc.run_one_for(50ms);
            });
        for (auto& t : threads) t.join();
        EXPECT_EQ(finished, callers);
        EXPECT_EQ(answered, callers * each);
        EXPECT_EQ(server.requests, callers * each);
        // At most one connection per caller at a time, plus replacements of the pool's extras.
        EXPECT_LE(server.connections, callers * each / 2);
        client.close();
    }
}

}  // namespace
}  // namespace rtmpgate::gateway::access
