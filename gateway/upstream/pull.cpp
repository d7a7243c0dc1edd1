#include "gateway/upstream/pull.hpp"

#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "gateway/backend/dial.hpp"
#include "gateway/engine/publish_input.hpp"
#include "gateway/net/connection_set.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/upstream/play_client.hpp"

namespace rtmpgate::gateway::upstream {

using protocol::message;
using namespace asio::experimental::awaitable_operators;
using std::chrono::steady_clock;

namespace {
class pull;
}

// What the manager, its pulls and their leases share: the manager may go before the last lease
// of a viewer that is still ending.
struct pulls::state {
    state(server_context& c, asio::io_context& i) : context(c), io(i) {}

    struct entry {
        // The pull viewers join; none once it ends. Its run and its leases keep it.
        std::weak_ptr<pull> current;
        steady_clock::time_point not_before;  // when a new pull may start playing
    };

    server_context& context;
    asio::io_context& io;
    mutable std::mutex mutex;  // guards what follows, and each pull's leases_ and ending_
    std::unordered_map<std::string, entry> entries;
    std::uint64_t last_id = 0;
};

namespace {

// One upstream play of one stream, on a strand of its own.
class pull final : public closable, public std::enable_shared_from_this<pull> {
public:
    pull(std::shared_ptr<pulls::state> owner, backend_target target, std::string app,
         std::string name, std::string key, std::uint64_t id, steady_clock::time_point not_before)
        : owner_(std::move(owner)),
          context_(owner_->context),
          strand_(asio::make_strand(owner_->io)),
          target_(std::move(target)),
          app_(std::move(app)),
          name_(std::move(name)),
          key_(std::move(key)),
          log_id_("pull " + std::to_string(id)),
          not_before_(not_before),
          stop_timer_(strand_, asio::steady_timer::time_point::max()),
          linger_timer_(strand_) {}

    void start() {
        ++context_.stats.pulls_open;
        asio::co_spawn(strand_, run(), [self = shared_from_this()](std::exception_ptr) {});
    }

    // closable: the gateway is shutting down.
    void shutdown() override {
        asio::post(strand_, [self = shared_from_this()] { self->stop("shutdown", false); });
    }

    // Under owner_->mutex: the leases (by address) and what each is told should the pull end
    // before its stream starts.
    std::vector<std::pair<const void*, pulls::not_started_fn>> leases_;
    bool ending_ = false;  // viewers no longer join it

    // A lease was released, leaving none (called under owner_->mutex, so it only posts).
    void released() {
        asio::post(strand_, [self = shared_from_this()] { self->start_linger(); });
    }

private:
    // On the strand from here on.

    void start_linger() {
        if (stopped_) return;
        // A new wait replaces one in progress (which completes aborted).
        linger_timer_.expires_after(pulls::linger);
        linger_timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) self->linger_over();
        });
    }

    void linger_over() {
        {
            // The next viewer of the key starts a new pull, at once.
            std::lock_guard lock(owner_->mutex);
            if (!leases_.empty() || ending_) return;
            ending_ = true;
            const auto it = owner_->entries.find(key_);
            if (it != owner_->entries.end() && it->second.current.lock().get() == this)
                it->second.current.reset();
        }
        stop("no viewers left", false);
    }

    void stop(std::string why, bool failed) {
        if (stopped_) return;
        stopped_ = true;
        stop_reason_ = std::move(why);
        stop_failed_ = failed;
        // Completes the wait in progress and every later one at once.
        stop_timer_.expires_at(asio::steady_timer::time_point::min());
        linger_timer_.cancel();
    }

    // Completes when stop() is called (or at once if it was).
    asio::awaitable<void> stopped() { co_await stop_timer_.async_wait(use_nothrow); }

    // `op`'s result, or nullopt when the pull was stopped first (`op` is then cancelled).
    template <typename T>
    asio::awaitable<std::optional<T>> unless_stopped(asio::awaitable<T> op) {
        auto first = co_await (std::move(op) || stopped());
        if (first.index() == 1) co_return std::nullopt;
        co_return std::move(std::get<0>(first));
    }

    std::string where() const { return backend::target_text(target_); }

    asio::awaitable<void> run() {
        const auto registration = context_.connections.add(weak_from_this());
        std::string reason;
        bool failed = true;
        try {
            reason = co_await play(failed);
        } catch (const std::exception& e) {
            reason = std::string("error: ") + e.what();
        }
        if (stopped_) {
            reason = stop_reason_;
            failed = stop_failed_;
        }
        std::vector<pulls::not_started_fn> to_tell;
        {
            // Still the key's pull unless its last viewer left (linger_over): the key is held
            // back for the retry pause.
            std::lock_guard lock(owner_->mutex);
            ending_ = true;
            const auto it = owner_->entries.find(key_);
            if (it != owner_->entries.end() && it->second.current.lock().get() == this) {
                it->second.current.reset();
                it->second.not_before = steady_clock::now() + pulls::retry_pause;
            }
            // Not when stopped: a shutdown ends the viewers itself, and a pull that lingered has
            // none.
            if (!stream_ && !stopped_)
                for (const auto& [holder, told] : leases_)
                    if (told) to_tell.push_back(told);
        }
        // Viewers of a stream that started hear of its end from the stream (on_publish_stop);
        // those still waiting for it, from here.
        for (const auto& told : to_tell) told({reason, !backend_answered_});
        // After ending_: a viewer that hears of the stop and comes back gets a new pull.
        if (stream_) {
            stream_->detach_publisher(publisher_);
            context_.streams.release(key_);
            stream_.reset();
        }
        if (client_) client_->close();
        linger_timer_.cancel();
        context_.connections.remove(registration);
        --context_.stats.pulls_open;
        if (failed) {
            ++context_.stats.pull_failures;
            log::warn(log_id_, ": ", log::quoted(key_), " from ", where(), " failed: ", reason,
                      " (", messages_, " messages)");
        } else {
            log::info(log_id_, ": ", log::quoted(key_), " from ", where(), " ended: ", reason, " (",
                      messages_, " messages)");
        }
    }

    // Everything from the retry pause to the play's end: gives why it ended, and sets `failed`
    // unless the backend ended the stream.
    asio::awaitable<std::string> play(bool& failed) {
        const auto& cfg = context_.cfg;
        if (not_before_ > steady_clock::now()) {
            asio::steady_timer pause(strand_, not_before_);
            if (!co_await unless_stopped(pause.async_wait(use_nothrow))) co_return "";
        }
        ++context_.stats.pulls;
        log::info(log_id_, ": ", log::quoted(key_), " from ", where(), ": starting");
        auto opened = co_await unless_stopped(backend::open_backend(target_, {}, context_));
        if (!opened) co_return "";
        if (!*opened) co_return opened->error();
        client_.emplace(std::move(**opened), protocol::chunk_decoder_limits{},
                        play_sequence::params{app_, where() + "/" + app_, name_},
                        &context_.partial_messages);
        auto early = co_await unless_stopped(
            with_deadline(handshake(), cfg.backend.handshake_timeout, deadline_error::handshake));
        if (!early) co_return "";
        if (!*early) co_return backend::failure("handshake", early->error(), context_.stats);
        if (!early->value()) co_return early->value().error();
        // The play's start has a deadline of its own: a backend that takes the handshake and
        // then says nothing (nginx-rtmp with play_restart, before its stream is published)
        // holds no pull for longer.
        auto started = co_await unless_stopped(
            with_deadline(client_->play(std::move(*early->value())), cfg.backend.handshake_timeout,
                          deadline_error::handshake));
        if (!started) co_return "";
        // Once the play was sent, what ends the pull before the stream's first message is the
        // backend's answer about the stream: an error status, a close (nginx-rtmp's on_play or
        // deny play), no start before the deadline, or a start and then nothing (nginx-rtmp's
        // play of a stream nobody publishes). Before the play, a failure is the backend's own.
        backend_answered_ = client_->sequence().message_stream_id() != 0;
        if (!*started) {
            if (context_.stats.count_timeout(started->error()))
                co_return "play did not start within " +
                    std::to_string(cfg.backend.handshake_timeout.count()) + "ms";
            co_return "play: " + started->error().message();
        }
        if (!started->value().empty()) co_return started->value();
        auto ended = co_await unless_stopped(
            client_->read([this](const message& m) { return on_media(m); }, cfg.limits.idle_timeout,
                          cfg.backend.write_timeout, context_.stats));
        if (!ended) {
            // Stopped: say goodbye as a player does, unless the gateway is going down.
            if (stop_reason_ != "shutdown") {
                std::vector<message> bye;
                client_->sequence().finish(bye);
                co_await with_deadline(client_->write(bye), cfg.backend.write_timeout,
                                       deadline_error::backend_write);
            }
            co_return "";
        }
        if (client_->sequence().current() == play_sequence::state::ended) {
            failed = false;
            co_return "the backend ended the stream (" + *ended + ")";
        }
        co_return *ended;
    }

    // The RTMP handshake: what the backend sent after S2, or why it failed.
    asio::awaitable<backend::step<std::vector<std::uint8_t>>> handshake() {
        return backend::handshake_backend(client_->stream());
    }

    // A message of the stream, on the strand.
    std::string on_media(const message& m) {
        if (!stream_) {
            // Another pull of the key that is ending may still hold it for a moment: this one
            // takes it with a later message.
            publisher_ = context_.streams.new_publisher();
            auto drop = [weak = weak_from_this(), strand = strand_] {
                asio::post(strand, [weak] {
                    if (auto self = weak.lock()) self->stop("dropped by the admin", false);
                });
            };
            // The admin's /streams shows the backend as the publisher.
            stream_ = context_.streams.publish(key_, publisher_, std::move(drop),
                                               engine::publisher_info{"pull", where()});
            if (!stream_) return {};
        }
        if (auto ec = engine::publish_input(*stream_, m))
            return "unreadable message from the backend: " + ec.message();
        ++messages_;
        return {};
    }

    const std::shared_ptr<pulls::state> owner_;
    server_context& context_;
    const asio::any_io_executor strand_;
    const backend_target target_;
    const std::string app_, name_, key_, log_id_;
    const steady_clock::time_point not_before_;

    asio::steady_timer stop_timer_;
    asio::steady_timer linger_timer_;
    bool stopped_ = false;
    std::string stop_reason_;
    bool stop_failed_ = false;
    bool backend_answered_ = false;  // the play was sent: an end is the backend's answer to it
    std::optional<play_client> client_;
    std::shared_ptr<engine::stream> stream_;  // once attached as its publisher
    engine::publisher_id publisher_;
    std::uint64_t messages_ = 0;
};

// What hold() gives: releasing the last one starts the pull's linger.
class lease {
public:
    // Under owner->mutex.
    lease(std::shared_ptr<pulls::state> owner, std::shared_ptr<pull> p, pulls::not_started_fn told)
        : owner_(std::move(owner)), pull_(std::move(p)) {
        pull_->leases_.emplace_back(this, std::move(told));
    }
    ~lease() {
        std::lock_guard lock(owner_->mutex);
        std::erase_if(pull_->leases_, [this](const auto& l) { return l.first == this; });
        if (pull_->leases_.empty() && !pull_->ending_) pull_->released();
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;

private:
    std::shared_ptr<pulls::state> owner_;
    std::shared_ptr<pull> pull_;
};

}  // namespace

pulls::pulls(server_context& context, asio::io_context& io)
    : state_(std::make_shared<state>(context, io)) {}

pulls::~pulls() = default;

std::shared_ptr<void> pulls::hold(const route& via, const std::string& app, const std::string& name,
                                  not_started_fn told) {
    if (via.to_engine) return nullptr;
    auto key = app + "/" + name;
    std::shared_ptr<pull> p;
    std::shared_ptr<lease> held;
    bool fresh = false;
    {
        std::lock_guard lock(state_->mutex);
        const auto now = steady_clock::now();
        // Keys whose pull ended and whose pause is over need remembering no more.
        std::erase_if(state_->entries, [&](const auto& e) {
            return e.second.current.expired() && e.second.not_before <= now;
        });
        auto& e = state_->entries[key];
        p = e.current.lock();
        if (!p) {
            p = std::make_shared<pull>(state_, via.backend, app, name, key, ++state_->last_id,
                                       e.not_before);
            e.current = p;
            fresh = true;
        }
        held = std::make_shared<lease>(state_, p, std::move(told));
    }
    if (fresh) p->start();
    return held;
}

std::chrono::milliseconds pulls::start_wait(const route& via) const {
    const auto& b = state_->context.cfg.backend;
    // The TLS handshake (rtmps://), the RTMP handshake and the play's start: each has its own.
    return retry_pause + b.connect_timeout + (via.backend.tls ? 3 : 2) * b.handshake_timeout;
}

std::size_t pulls::size() const {
    std::lock_guard lock(state_->mutex);
    std::size_t n = 0;
    for (const auto& [key, e] : state_->entries)
        if (!e.current.expired()) ++n;
    return n;
}

}  // namespace rtmpgate::gateway::upstream
