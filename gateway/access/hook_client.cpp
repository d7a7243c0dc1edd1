#include "gateway/access/hook_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace rtmpgate::gateway::access {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using clock_type = asio::steady_timer::clock_type;

// An answer's body is at most this long (the header says so); its header at most header_limit.
constexpr std::size_t body_limit = 64 * 1024;
constexpr std::uint32_t header_limit = 16 * 1024;
// How long a connection may wait in the pool for its next request. Hook servers close idle
// connections themselves after a while (nginx: 75 s, Node.js: 5 s); 30 s keeps few sockets open
// for a gateway that calls hooks rarely, and reuse within a burst of publishes is what matters.
// A connection older than this is closed when it would be reused, and one sweep timer per client
// closes the rest.
constexpr std::chrono::seconds idle_lifetime{30};

using http_request = http::request<http::string_body>;

// One connection to a hook server. It is used by one request at a time: it is either in the pool
// or checked out by a request. Its resolver, socket and deadline timer live on a strand of their
// own, and the request's I/O runs there too, so that the deadline closing the socket never
// races with the I/O (the caller's strand may be any, and differs from one reuse to the next).
struct connection {
    explicit connection(const asio::io_context::executor_type& io)
        : strand(asio::make_strand(io)), resolver(strand), socket(strand), timer(strand) {}

    asio::any_io_executor strand;
    tcp::resolver resolver;
    tcp::socket socket;  // moved into `tls` once connected, for https
    std::optional<ssl::stream<tcp::socket>> tls;
    asio::steady_timer timer;
    // What the server sent after an answer stays here; a connection with leftovers is not reused.
    beast::flat_buffer buffer{body_limit + header_limit};
    bool connected = false;
    bool timed_out = false;  // the deadline closed the socket
    bool aborted = false;    // hook_client::close() closed it
    // Identifies the deadline of the current request, so that the expiry of an earlier one,
    // queued just as its request finished, does not close the connection under the next.
    std::uint64_t generation = 0;
    clock_type::time_point idle_since{};

    tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }
    // On the strand: fails whatever is pending.
    void stop() {
        resolver.cancel();
        error_code ignored;
        lowest().close(ignored);
    }
};

// What one attempt on one connection gave.
struct attempt_result {
    hook_answer answer;
    bool keep_alive = false;  // the connection may serve the next request
    bool retry = false;       // it failed before any octet of an answer: a fresh one may do
};

// The io_context under `executor`. Strands are made on it, not on `executor` itself: a strand of
// an any_io_executor does not fit in an any_io_executor's small buffer, and the shared one it
// would get counts references with a fence ThreadSanitizer cannot follow (-Wtsan).
asio::io_context::executor_type io_of(const asio::any_io_executor& executor) {
    if (const auto* io = executor.target<asio::io_context::executor_type>()) return *io;
    if (const auto* strand = executor.target<asio::strand<asio::io_context::executor_type>>())
        return strand->get_inner_executor();
    throw std::invalid_argument(
        "hook_client: the executor must be an io_context's, or a strand of one");
}

hook_answer failed(hook_answer::outcome o, std::string why) {
    hook_answer a;
    a.result = o;
    a.error = std::move(why);
    return a;
}

// Writes `request` and reads the answer on an established connection.
template <class Stream>
asio::awaitable<attempt_result> exchange(Stream& stream, connection& c,
                                         const http_request& request) {
    attempt_result r;
    auto [wec, written] = co_await http::async_write(stream, request, use_nothrow);
    if (wec) {
        r.answer = failed(hook_answer::outcome::unreachable, "write: " + wec.message());
        r.retry = true;
        co_return r;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    parser.header_limit(header_limit);
    auto [rec, read] = co_await http::async_read(stream, c.buffer, parser, use_nothrow);
    if (rec) {
        const bool nothing = !parser.got_some() && c.buffer.size() == 0;
        if (rec == http::error::body_limit) {
            r.answer = failed(hook_answer::outcome::bad_answer, "answer body over 64 KiB");
        } else if (rec == http::error::header_limit) {
            r.answer = failed(hook_answer::outcome::bad_answer, "answer header over 16 KiB");
        } else if (rec.category() == http::make_error_code(http::error::bad_version).category() &&
                   rec != http::error::end_of_stream && rec != http::error::partial_message) {
            r.answer = failed(hook_answer::outcome::bad_answer, "not HTTP: " + rec.message());
        } else {
            r.answer = failed(
                hook_answer::outcome::unreachable,
                nothing ? "closed without answering: " + rec.message() : "read: " + rec.message());
            r.retry = nothing;
        }
        co_return r;
    }
    auto response = parser.release();
    r.answer.result = hook_answer::outcome::answered;
    r.answer.status = response.result_int();
    r.answer.body = std::move(response.body());
    // Octets after the answer would be read as the next one's start: such a server is not
    // reused.
    r.keep_alive = response.keep_alive() && c.buffer.size() == 0;
    co_return r;
}

std::string host_header(const hook_url& url) {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    if (url.port != (url.tls ? 443 : 80)) host += ":" + std::to_string(url.port);
    return host;
}

}  // namespace

struct hook_client::impl : std::enable_shared_from_this<impl> {
    impl(const asio::any_io_executor& ex, const hook_settings& s)
        : io(io_of(ex)),
          settings(s),
          tls(ssl::context::tls_client),
          sweep_strand(asio::make_strand(io)),
          sweep_timer(sweep_strand) {
        SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
        if (!settings.verify) {
            tls.set_verify_mode(ssl::verify_none);
            return;
        }
        tls.set_verify_mode(ssl::verify_peer);
        error_code ec;
        if (settings.ca_file.empty())
            tls.set_default_verify_paths(ec);
        else
            tls.load_verify_file(settings.ca_file, ec);
        if (ec)
            throw std::runtime_error(
                "cannot load trusted CAs from '" +
                (settings.ca_file.empty() ? std::string("the system store") : settings.ca_file) +
                "': " + ec.message());
    }

    using server_key = std::tuple<bool, std::string, std::uint16_t>;
    using url_key = std::tuple<bool, std::string, std::uint16_t, std::string>;

    const asio::io_context::executor_type io;
    const hook_settings settings;
    ssl::context tls;

    std::mutex mutex;  // guards everything below
    bool closed = false;
    std::map<url_key, std::size_t> in_flight;
    // Idle connections per server, the oldest first.
    std::map<server_key, std::deque<std::shared_ptr<connection>>> idle;
    // Connections checked out by requests, for close().
    std::map<connection*, std::weak_ptr<connection>> busy;
    asio::any_io_executor sweep_strand;
    asio::steady_timer sweep_timer;  // armed while a connection is idle
    bool sweep_armed = false;

    // Under the mutex: an idle connection to `key` young enough to reuse, or null.
    std::shared_ptr<connection> take_idle(const server_key& key, clock_type::time_point now) {
        auto it = idle.find(key);
        if (it == idle.end()) return nullptr;
        auto& pool = it->second;
        std::shared_ptr<connection> c;
        // The newest is the likeliest to be still open; the others age out.
        while (!pool.empty() && !c) {
            if (now - pool.back()->idle_since < idle_lifetime) c = std::move(pool.back());
            pool.pop_back();
        }
        if (pool.empty()) idle.erase(it);
        return c;
    }

    // Under the mutex: closes idle connections past their lifetime; gives the next expiry.
    std::optional<clock_type::time_point> sweep(clock_type::time_point now) {
        std::optional<clock_type::time_point> next;
        for (auto it = idle.begin(); it != idle.end();) {
            auto& pool = it->second;
            while (!pool.empty() && now - pool.front()->idle_since >= idle_lifetime)
                pool.pop_front();
            if (pool.empty()) {
                it = idle.erase(it);
                continue;
            }
            const auto expiry = pool.front()->idle_since + idle_lifetime;
            if (!next || expiry < *next) next = expiry;
            ++it;
        }
        return next;
    }

    // Under the mutex.
    void arm_sweep(clock_type::time_point at) {
        sweep_armed = true;
        sweep_timer.expires_at(at);
        sweep_timer.async_wait([weak = weak_from_this()](error_code ec) {
            if (ec) return;
            auto self = weak.lock();
            if (!self) return;
            std::lock_guard lock(self->mutex);
            self->sweep_armed = false;
            if (self->closed) return;
            if (auto next = self->sweep(clock_type::now())) self->arm_sweep(*next);
        });
    }

    // A request is over with `c`: back to the pool when it may serve another.
    void give_back(std::shared_ptr<connection> c, const server_key& key, bool reusable) {
        std::lock_guard lock(mutex);
        busy.erase(c.get());
        if (!reusable || closed) return;
        auto& pool = idle[key];
        if (pool.size() >= settings.max_idle_connections) {
            if (pool.empty()) idle.erase(key);
            return;
        }
        c->idle_since = clock_type::now();
        pool.push_back(std::move(c));
        if (!sweep_armed) arm_sweep(clock_type::now() + idle_lifetime);
    }

    // One attempt, on c's strand, until `deadline`.
    static asio::awaitable<attempt_result> attempt(std::shared_ptr<impl> self,
                                                   std::shared_ptr<connection> c, hook_url url,
                                                   std::shared_ptr<const http_request> request,
                                                   clock_type::time_point deadline) {
        attempt_result r;
        if (c->aborted) {
            r.answer = failed(hook_answer::outcome::unreachable, "hook client closed");
            co_return r;
        }
        c->timed_out = false;
        const auto generation = ++c->generation;
        c->timer.expires_at(deadline);
        c->timer.async_wait([c, generation](error_code ec) {
            if (ec || c->generation != generation) return;
            c->timed_out = true;
            c->stop();
        });
        r = co_await run(*self, *c, url, *request);
        ++c->generation;
        c->timer.cancel();
        if (c->aborted) {
            r = {};
            r.answer = failed(hook_answer::outcome::unreachable, "hook client closed");
        } else if (c->timed_out) {
            r = {};
            r.answer = failed(
                hook_answer::outcome::timeout,
                "no answer within " + std::to_string(self->settings.timeout.count()) + " ms");
        }
        co_return r;
    }

    static asio::awaitable<attempt_result> run(impl& self, connection& c, const hook_url& url,
                                               const http_request& request) {
        attempt_result r;
        if (!c.connected) {
            auto [rec, endpoints] =
                co_await c.resolver.async_resolve(url.host, std::to_string(url.port), use_nothrow);
            if (rec) {
                r.answer = failed(hook_answer::outcome::unreachable,
                                  "resolving " + url.host + ": " + rec.message());
                co_return r;
            }
            auto [cec, ep] = co_await asio::async_connect(c.socket, endpoints, use_nothrow);
            if (cec) {
                r.answer = failed(hook_answer::outcome::unreachable, "connect: " + cec.message());
                co_return r;
            }
            error_code ignored;
            c.socket.set_option(tcp::no_delay(true), ignored);
            if (url.tls) {
                c.tls.emplace(std::move(c.socket), self.tls);
                // RFC 6066 3: SNI carries DNS names only; an address is verified against the
                // certificate's IP entries without one.
                error_code not_an_address;
                asio::ip::make_address(url.host, not_an_address);
                if (not_an_address)
                    SSL_set_tlsext_host_name(c.tls->native_handle(), url.host.c_str());
                if (self.settings.verify)
                    c.tls->set_verify_callback(ssl::host_name_verification(url.host));
                auto [hec] = co_await c.tls->async_handshake(ssl::stream_base::client, use_nothrow);
                if (hec) {
                    r.answer = failed(hook_answer::outcome::unreachable,
                                      "TLS handshake: " + hec.message());
                    co_return r;
                }
            }
            c.connected = true;
        }
        if (c.tls)
            r = co_await exchange(*c.tls, c, request);
        else
            r = co_await exchange(c.socket, c, request);
        co_return r;
    }
};

hook_client::hook_client(asio::any_io_executor executor, const hook_settings& settings)
    : impl_(std::make_shared<impl>(std::move(executor), settings)) {}

hook_client::~hook_client() { close(); }

asio::awaitable<hook_answer> hook_client::post(const hook_url& url, std::string json) {
    const auto start = clock_type::now();
    const auto deadline = start + impl_->settings.timeout;
    auto self = impl_;
    const impl::server_key server{url.tls, url.host, url.port};
    const impl::url_key key{url.tls, url.host, url.port, url.target};
    auto finish = [start](hook_answer a) {
        a.took = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start);
        return a;
    };

    std::shared_ptr<connection> c;
    bool reused = false;
    {
        std::lock_guard lock(self->mutex);
        if (self->closed)
            co_return finish(failed(hook_answer::outcome::unreachable, "hook client closed"));
        auto& n = self->in_flight[key];
        if (n >= self->settings.max_concurrent) {
            if (n == 0) self->in_flight.erase(key);
            co_return finish(failed(hook_answer::outcome::busy,
                                    std::to_string(n) + " requests already in flight"));
        }
        ++n;
        c = self->take_idle(server, start);
        reused = c != nullptr;
        if (!c) c = std::make_shared<connection>(self->io);
        self->busy.emplace(c.get(), c);
    }
    // Gives the request's slot back however the coroutine ends (an exception, a cancellation).
    struct slot_guard {
        impl& owner;
        const impl::url_key& key;
        ~slot_guard() {
            std::lock_guard lock(owner.mutex);
            auto it = owner.in_flight.find(key);
            if (it != owner.in_flight.end() && --it->second == 0) owner.in_flight.erase(it);
        }
    } slot{*self, key};

    auto request = std::make_shared<http_request>(http::verb::post, url.target, 11);
    request->set(http::field::host, host_header(url));
    request->set(http::field::user_agent, "rtmpgate/" RTMPGATE_VERSION);
    request->set(http::field::content_type, "application/json");
    request->keep_alive(true);
    request->body() = std::move(json);
    request->prepare_payload();

    auto r = co_await asio::co_spawn(c->strand, impl::attempt(self, c, url, request, deadline),
                                     asio::use_awaitable);
    if (r.retry && reused) {
        // The server closed the kept-alive connection (its idle timeout) before this request
        // reached it: once more on a fresh one, within the same deadline.
        self->give_back(std::move(c), server, false);
        {
            std::lock_guard lock(self->mutex);
            if (self->closed)
                co_return finish(failed(hook_answer::outcome::unreachable, "hook client closed"));
            c = std::make_shared<connection>(self->io);
            self->busy.emplace(c.get(), c);
        }
        r = co_await asio::co_spawn(c->strand, impl::attempt(self, c, url, request, deadline),
                                    asio::use_awaitable);
    }
    self->give_back(std::move(c), server, r.keep_alive);
    co_return finish(std::move(r.answer));
}

void hook_client::close() {
    std::vector<std::shared_ptr<connection>> in_use;
    std::map<impl::server_key, std::deque<std::shared_ptr<connection>>> idle;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->closed = true;
        idle.swap(impl_->idle);
        for (auto& [p, weak] : impl_->busy)
            if (auto c = weak.lock()) in_use.push_back(std::move(c));
        if (impl_->sweep_armed) impl_->sweep_timer.cancel();
    }
    for (auto& c : in_use)
        asio::post(c->strand, [c] {
            c->aborted = true;
            c->stop();
        });
}

}  // namespace rtmpgate::gateway::access
