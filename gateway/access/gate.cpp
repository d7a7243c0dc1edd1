#include "gateway/access/gate.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "gateway/access/hook_body.hpp"
#include "gateway/access/rules.hpp"
#include "gateway/access/token.hpp"
#include "gateway/net/log.hpp"

namespace rtmpgate::gateway::access {

namespace {

constexpr std::size_t action_count = static_cast<std::size_t>(action::count);
constexpr std::size_t reason_count = static_cast<std::size_t>(reason::count);

// Upper bounds of the hook latency histogram, in seconds (Prometheus `le`).
constexpr std::array<double, 11> hook_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                 0.5,   1,    2.5,   5,    10};

const action_policy& policy_of(const policy& p, action what) {
    return what == action::publish ? p.publish : p.play;
}

const std::string& decide_hook(const hook_settings& h, action what) {
    switch (what) {
        case action::connect:
            return h.on_connect;
        case action::publish:
            return h.on_publish;
        default:
            return h.on_play;
    }
}

const std::string& done_hook(const hook_settings& h, action what) {
    return what == action::publish ? h.on_publish_done : h.on_play_done;
}

bool is_2xx(unsigned status) { return status >= 200 && status < 300; }

}  // namespace

const char* action_name(action a) noexcept {
    switch (a) {
        case action::connect:
            return "connect";
        case action::publish:
            return "publish";
        case action::play:
            return "play";
        case action::count:
            break;
    }
    return "?";
}

const char* reason_name(reason r) noexcept {
    static constexpr std::array<const char*, reason_count> names = {
        "open",          "rule",
        "rule_default",  "token_ok",
        "token_missing", "token_malformed",
        "token_expired", "token_bad_signature",
        "hook_allowed",  "hook_refused",
        "hook_timeout",  "hook_unreachable",
        "hook_busy",     "hook_bad_reply",
    };
    const auto i = static_cast<std::size_t>(r);
    return i < names.size() ? names[i] : "?";
}

bool decides(const policy& p, action what) {
    if (!decide_hook(p.hooks, what).empty()) return true;
    if (what == action::connect) return false;
    const auto& a = policy_of(p, what);
    return a.token || !a.rules.empty() || !a.default_allow;
}

std::string open_publish_warning(std::string_view listener, const tcp::endpoint& bound,
                                 std::span<const route> routes) {
    if (unmapped(bound.address()).is_loopback()) return {};
    std::string open;
    for (const auto& r : routes)
        if (r.access.open_publish()) open += (open.empty() ? "\"" : ", \"") + r.app + "\"";
    if (open.empty()) return {};
    std::ostringstream where;
    where << bound;
    return "listener " + std::string(listener) + " on " + where.str() +
           " lets anyone publish to the routes of app " + open +
           " (no access.publish rule, token or hook; see config/examples/locked-down.yaml)";
}

bool notifies(const policy& p, action what) {
    return what != action::connect && !done_hook(p.hooks, what).empty();
}

// What one route needs at run time: its secrets, read once, its hook URLs, parsed once, and the
// client its hooks are called with (one per route: each route has its own hook settings).
struct route_state {
    std::vector<std::string> secrets;
    std::optional<hook_url> hooks[5];  // connect, publish, play, publish_done, play_done
    std::unique_ptr<hook_client> client;
};

struct gate::impl {
    impl(const config& c, asio::any_io_executor ex) : cfg(c), executor(std::move(ex)) {}

    const config& cfg;
    asio::any_io_executor executor;
    std::vector<route_state> routes;  // indexed as cfg.routes

    // rtmpgate_access_decisions_total{action, decision, reason}
    std::array<std::array<std::array<std::atomic<std::uint64_t>, reason_count>, 2>, action_count>
        decisions{};
    // rtmpgate_hook_duration_seconds: counts per bucket (the last is +Inf), sum in microseconds.
    std::array<std::atomic<std::uint64_t>, hook_buckets.size() + 1> hook_histogram{};
    std::atomic<std::uint64_t> hook_sum_us{0};
    std::atomic<std::uint64_t> hook_count{0};
    std::atomic<unsigned> notifying{0};  // done notifications in flight

    // `via` is one of cfg.routes (what config::find_route gave), never a copy.
    route_state& state(const route& via) {
        return routes.at(static_cast<std::size_t>(&via - cfg.routes.data()));
    }

    void count(const request& r, const decision& d) {
        decisions[static_cast<std::size_t>(r.what)][d.allowed ? 1 : 0]
                 [static_cast<std::size_t>(d.why)]
                     .fetch_add(1, std::memory_order_relaxed);
        if (d.hook_called) {
            const double seconds = static_cast<double>(d.hook_time.count()) / 1e6;
            std::size_t b = 0;
            while (b < hook_buckets.size() && seconds > hook_buckets[b]) ++b;
            hook_histogram[b].fetch_add(1, std::memory_order_relaxed);
            hook_sum_us.fetch_add(static_cast<std::uint64_t>(d.hook_time.count()),
                                  std::memory_order_relaxed);
            hook_count.fetch_add(1, std::memory_order_relaxed);
        }
    }
};

gate::gate(const config& cfg, asio::any_io_executor executor)
    : impl_(std::make_unique<impl>(cfg, std::move(executor))) {
    impl_->routes.resize(cfg.routes.size());
    for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
        const auto& p = cfg.routes[i].access;
        auto& st = impl_->routes[i];
        const auto key = "routes[" + std::to_string(i) + "].access";
        if (p.publish.token || p.play.token)
            st.secrets = read_secret_files(p.secret_files, key + ".secret_files");
        const std::string* urls[5] = {&p.hooks.on_connect, &p.hooks.on_publish, &p.hooks.on_play,
                                      &p.hooks.on_publish_done, &p.hooks.on_play_done};
        static constexpr const char* names[5] = {"on_connect", "on_publish", "on_play",
                                                 "on_publish_done", "on_play_done"};
        bool any = false;
        for (int h = 0; h < 5; ++h) {
            if (urls[h]->empty()) continue;
            st.hooks[h] = hook_url::parse(*urls[h]);
            if (!st.hooks[h])
                throw std::runtime_error(key + ".hooks." + names[h] + ": not an http:// or " +
                                         "https:// URL");
            any = true;
        }
        if (any) st.client = std::make_unique<hook_client>(impl_->executor, p.hooks);
    }
}

gate::~gate() = default;

void gate::close() {
    for (auto& st : impl_->routes)
        if (st.client) st.client->close();
}

asio::awaitable<decision> gate::decide(const request& r, const route& via) {
    auto& st = impl_->state(via);
    const auto& p = via.access;
    decision d;
    if (r.what != action::connect) {
        const auto& a = policy_of(p, r.what);
        const auto verdict = evaluate_rules(a, r.client.address());
        d.allowed = verdict.allowed;
        d.why = verdict.matched                      ? reason::rule
                : a.rules.empty() && a.default_allow ? reason::open
                                                     : reason::rule_default;
        if (verdict.matched) d.detail = "address rule " + std::to_string(*verdict.matched);
        if (!verdict.matched && !d.allowed) d.detail = "no address rule allows this client";
        if (d.allowed && a.token) {
            const auto split = std::min(r.stream_args, r.args.size());
            const query_args sources[] = {
                query_args(r.args.begin(), r.args.begin() + static_cast<std::ptrdiff_t>(split)),
                query_args(r.args.begin() + static_cast<std::ptrdiff_t>(split), r.args.end())};
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            auto token = verify_token(st.secrets, r.app, r.stream, sources, r.client.address(),
                                      static_cast<std::int64_t>(now));
            d.why = token.why;
            d.allowed = token.ok();
            d.detail = std::move(token.detail);
        }
    }
    const auto& url = st.hooks[static_cast<std::size_t>(r.what)];
    if (d.allowed && url && st.client) {
        d.hook_called = true;
        auto answer = co_await st.client->post(
            *url, make_hook_body(r, action_name(r.what), impl_->cfg.rtmpt.node_id));
        d.hook_time = answer.took;
        const bool fail_open = p.hooks.allow_on_failure;
        using outcome = hook_answer::outcome;
        switch (answer.result) {
            case outcome::answered:
                if (!is_2xx(answer.status)) {
                    d.allowed = false;
                    d.why = reason::hook_refused;
                    d.detail = "hook answered " + std::to_string(answer.status);
                } else if (auto reply = parse_hook_reply(answer.body); !reply) {
                    d.allowed = false;
                    d.why = reason::hook_bad_reply;
                    d.detail = "hook reply: " + reply.error();
                } else {
                    d.why = reason::hook_allowed;
                    d.rename = reply->rename;
                    d.backend = reply->backend;
                }
                break;
            case outcome::timeout:
                d.allowed = fail_open;
                d.why = reason::hook_timeout;
                d.detail =
                    "hook did not answer within " + std::to_string(p.hooks.timeout.count()) + " ms";
                break;
            case outcome::busy:
                d.allowed = fail_open;
                d.why = reason::hook_busy;
                d.detail =
                    "hook has " + std::to_string(p.hooks.max_concurrent) + " requests in flight";
                break;
            case outcome::bad_answer:
                d.allowed = fail_open;
                d.why = reason::hook_bad_reply;
                d.detail = "hook answer: " + answer.error;
                break;
            case outcome::unreachable:
                d.allowed = fail_open;
                d.why = reason::hook_unreachable;
                d.detail = "hook unreachable: " + answer.error;
                break;
        }
    }
    impl_->count(r, d);
    std::string hook_ms;
    if (d.hook_called) {
        std::ostringstream ms;
        ms << " hook_ms=" << std::fixed << std::setprecision(1)
           << static_cast<double>(d.hook_time.count()) / 1000.0;
        hook_ms = ms.str();
    }
    std::string backend;
    if (d.backend)
        backend = std::string(" backend=") + (d.backend->tls ? "rtmps://" : "rtmp://") +
                  d.backend->host + ":" + std::to_string(d.backend->port);
    log::info(r.connection_id, ": access ", action_name(r.what), " app=", log::quoted(r.app),
              " stream=", log::quoted(r.stream), " client=", r.client, " transport=", r.transport,
              " route=", log::quoted(r.route), " decision=", d.allowed ? "allow" : "refuse",
              " reason=", reason_name(d.why), " detail=", log::quoted(d.detail), hook_ms,
              " renamed=", log::quoted(d.rename), backend);
    co_return d;
}

void gate::ended(const request& r, const route& via) {
    auto& st = impl_->state(via);
    const auto index = r.what == action::publish ? 3 : 4;
    if (!st.hooks[index] || !st.client) return;
    const auto what = r.what == action::publish ? "publish_done" : "play_done";
    auto body = make_hook_body(r, what, impl_->cfg.rtmpt.node_id);
    // Not waited for: the connection is gone. Bounded by the hook client's deadline and its
    // requests in flight (beyond them the notification is dropped, and logged).
    ++impl_->notifying;
    asio::co_spawn(
        impl_->executor,
        [client = st.client.get(), url = *st.hooks[index], body = std::move(body),
         id = r.connection_id, what, &notifying = impl_->notifying]() -> asio::awaitable<void> {
            auto answer = co_await client->post(url, body);
            --notifying;
            if (answer.result != hook_answer::outcome::answered || !is_2xx(answer.status))
                log::warn(id, ": ", what, " hook failed: ",
                          answer.result == hook_answer::outcome::answered
                              ? "answered " + std::to_string(answer.status)
                              : answer.error);
        },
        asio::detached);
}

asio::awaitable<void> gate::finish_notifications() {
    auto longest = std::chrono::milliseconds(0);
    for (const auto& r : impl_->cfg.routes) longest = std::max(longest, r.access.hooks.timeout);
    const auto until = std::chrono::steady_clock::now() + longest + std::chrono::milliseconds(100);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (impl_->notifying.load() != 0 && std::chrono::steady_clock::now() < until) {
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(use_nothrow);
    }
}

void gate::write_metrics(std::string& text) const {
    std::ostringstream out;
    out << "# HELP rtmpgate_access_decisions_total Access decisions on connect, publish and play.\n"
           "# TYPE rtmpgate_access_decisions_total counter\n";
    for (std::size_t a = 0; a < action_count; ++a)
        for (int allowed = 1; allowed >= 0; --allowed)
            for (std::size_t w = 0; w < reason_count; ++w) {
                const auto n = impl_->decisions[a][static_cast<std::size_t>(allowed)][w].load(
                    std::memory_order_relaxed);
                if (n == 0) continue;
                out << "rtmpgate_access_decisions_total{action=\""
                    << action_name(static_cast<action>(a)) << "\",decision=\""
                    << (allowed ? "allow" : "refuse") << "\",reason=\""
                    << reason_name(static_cast<reason>(w)) << "\"} " << n << '\n';
            }
    out << "# HELP rtmpgate_hook_duration_seconds Time the decide hooks took to answer.\n"
           "# TYPE rtmpgate_hook_duration_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= hook_buckets.size(); ++b) {
        cumulative += impl_->hook_histogram[b].load(std::memory_order_relaxed);
        out << "rtmpgate_hook_duration_seconds_bucket{le=\"";
        if (b < hook_buckets.size())
            out << hook_buckets[b];
        else
            out << "+Inf";
        out << "\"} " << cumulative << '\n';
    }
    out << "rtmpgate_hook_duration_seconds_sum "
        << static_cast<double>(impl_->hook_sum_us.load(std::memory_order_relaxed)) / 1e6 << '\n'
        << "rtmpgate_hook_duration_seconds_count "
        << impl_->hook_count.load(std::memory_order_relaxed) << '\n';
    text += out.str();
}

}  // namespace rtmpgate::gateway::access
