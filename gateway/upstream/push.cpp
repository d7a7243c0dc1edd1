#include "gateway/upstream/push.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "gateway/backend/dial.hpp"
#include "gateway/net/connection_set.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "gateway/rtmp/output_queue.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/upstream/rtmp_client.hpp"
#include "protocol/amf0.hpp"
#include "protocol/command.hpp"

namespace rtmpgate::gateway::upstream {

using protocol::message;
using protocol::message_type;
using namespace asio::experimental::awaitable_operators;

namespace {

// Payload octets taken from the queue for one write.
constexpr std::size_t batch_bytes = 64 << 10;

// The metadata a player gets ("onMetaData", {...}) as a publisher sends it: "@setDataFrame"
// first, which nginx-rtmp, SRS and the ingest services take as "keep this for late players".
message as_published_metadata(message m) {
    if (m.type() != message_type::data_amf0 || !protocol::is_on_metadata(m)) return m;
    std::vector<std::uint8_t> bytes;
    protocol::amf0::encode(protocol::amf_value::make_string("@setDataFrame"), bytes);
    const auto old = m.payload.span();
    bytes.insert(bytes.end(), old.begin(), old.end());
    m.payload = protocol::shared_bytes(bytes);
    return m;
}

// The strand a push runs on: a new one on the publisher's io_context, so that writing to the
// server never holds up the publisher's connection.
asio::any_io_executor own_strand(const asio::any_io_executor& publisher_strand) {
    using io_strand = asio::strand<asio::io_context::executor_type>;
    if (const auto* s = publisher_strand.target<io_strand>())
        return asio::make_strand(s->get_inner_executor());
    if (const auto* io = publisher_strand.target<asio::io_context::executor_type>())
        return asio::make_strand(*io);
    // A strand of a type-erased executor would do, but its reference counting fences are what
    // ThreadSanitizer cannot follow (-Wtsan); every connection's strand is an io_context's.
    throw std::invalid_argument("push: the publisher's executor is not an io_context's");
}

class push final : public engine::subscriber,
                   public closable,
                   public std::enable_shared_from_this<push> {
public:
    push(server_context& context, asio::any_io_executor strand, std::shared_ptr<engine::stream> s,
         backend_target target, std::string app, std::string name, std::string log_id)
        : context_(context),
          strand_(std::move(strand)),
          stream_(std::move(s)),
          target_(std::move(target)),
          app_(std::move(app)),
          name_(std::move(name)),
          log_id_(std::move(log_id)),
          queue_(context.cfg.engine.player_queue_bytes),
          wake_(strand_) {}

    // On the publisher's strand: subscribes (gets what a new player gets first) and starts.
    void start() {
        std::vector<message> initial;
        const bool published = stream_->subscribe(shared_from_this(), initial);
        {
            std::lock_guard lock(mutex_);
            for (auto& m : initial) {
                const auto c = engine::classify(m);
                queue_.push(std::move(m), c);
            }
            if (!published) stopped_ = true;  // nothing to push: ends at once
        }
        // shutdown() cancels it through stop_; run() catches what it throws.
        asio::co_spawn(strand_, run(),
                       asio::bind_cancellation_slot(
                           stop_.slot(), [self = shared_from_this()](std::exception_ptr) {}));
    }

    // engine::subscriber, under the stream's lock.
    void deliver(const message& m, engine::media_class c) override {
        std::lock_guard lock(mutex_);
        if (stopped_ || ended_) return;
        queue_.push(m, c);
        wake();
    }
    // One push per publish: a publisher that comes after this one's stop gets its own.
    void on_publish_start() override {}
    void on_publish_stop() override {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        wake();
    }
    // The stream was dropped from the admin listener: the push ends as at its publisher's stop
    // (which follows, as the dropped publisher leaves).
    void on_drop() override { on_publish_stop(); }
    // No viewer: /metrics counts no push among rtmpgate_viewers.
    std::string_view transport() const noexcept override { return engine::push_transport; }

    void shutdown() override {
        asio::post(strand_, [self = shared_from_this()] {
            self->closing_ = true;
            self->stop_.emit(asio::cancellation_type::terminal);
            if (self->client_) self->client_->close();
            self->wake_.cancel();
        });
    }

private:
    // "rtmp://host:port/app/name" for the log (app and name escaped by the log).
    std::string where() const { return backend::target_text(target_) + "/" + app_ + "/" + name_; }

    // Caller holds mutex_.
    void wake() {
        if (!writer_waiting_) return;
        writer_waiting_ = false;
        asio::post(strand_, [self = shared_from_this()] { self->wake_.cancel(); });
    }

    asio::awaitable<void> run() {
        registration_ = context_.connections.add(weak_from_this());
        std::string reason;
        bool failed = true;
        try {
            co_await relay(reason, failed);
        } catch (const std::exception& e) {
            if (!closing_) reason = std::string("error: ") + e.what();
        }
        if (closing_) {
            reason = "shutdown";
            failed = false;
        }
        {
            std::lock_guard lock(mutex_);
            ended_ = true;
        }
        if (client_) client_->close();
        stream_->unsubscribe(this);
        context_.streams.release(stream_->key());
        context_.connections.remove(registration_);
        std::uint64_t dropped = 0;
        {
            std::lock_guard lock(mutex_);
            dropped = queue_.dropped_messages();
        }
        context_.stats.media_dropped_messages += dropped;
        if (failed) ++context_.stats.push_failures;
        if (failed)
            log::warn(log_id_, ": push ", log::quoted(stream_->key()), " to ", where(),
                      " failed: ", reason);
        else
            log::info(log_id_, ": push ", log::quoted(stream_->key()), " to ", where(),
                      " ended: ", reason, " (", sent_, " messages, ", dropped, " dropped)");
    }

    // Everything between subscribing and leaving: sets `reason`, and `failed` unless the push
    // ended because its publisher did.
    asio::awaitable<void> relay(std::string& reason, bool& failed) {
        const auto& cfg = context_.cfg.backend;
        {
            // Started late (after an access decision that took its time): nothing to push.
            std::lock_guard lock(mutex_);
            if (stopped_ && queue_.empty()) {
                failed = false;
                reason = "publisher stopped before the push began";
                co_return;
            }
        }
        auto opened = co_await backend::open_backend(target_, {}, context_);
        if (!opened) {
            reason = opened.error();
            co_return;
        }
        const auto tc_url = backend::target_text(target_) + "/" + app_;
        client_.emplace(std::move(*opened), protocol::chunk_decoder_limits{},
                        publish_sequence::params{app_, tc_url, name_, 4096});
        auto handshake = [this]() -> asio::awaitable<std::string> {
            auto early = co_await backend::handshake_backend(client_->stream());
            if (!early) co_return early.error();
            co_return co_await client_->publish(std::move(*early));
        };
        auto published =
            co_await with_deadline(handshake(), cfg.handshake_timeout, deadline_error::handshake);
        if (!published) {
            reason = backend::failure("publish", published.error(), context_.stats);
            co_return;
        }
        if (!published->empty()) {
            reason = *published;
            co_return;
        }
        ++context_.stats.pushes;
        log::info(log_id_, ": push ", log::quoted(stream_->key()), " to ", where(), ": publishing");
        auto replies = [this](std::vector<message>& answers) {
            std::lock_guard lock(mutex_);
            for (auto& m : answers) queue_.push(std::move(m), engine::media_class::essential);
            wake();
        };
        auto ended = co_await (client_->read(replies) || write_loop());
        if (ended.index() == 0) {
            reason = std::get<0>(ended);
            co_return;
        }
        reason = std::get<1>(ended);
        if (!reason.empty()) co_return;
        // The publisher stopped and everything it sent is written: say so, as a publisher does.
        std::vector<message> bye;
        client_->sequence().finish(bye);
        auto written = co_await with_deadline(client_->write(bye), cfg.write_timeout,
                                              deadline_error::backend_write);
        const error_code ec = written ? *written : written.error();
        failed = false;
        reason = "publisher stopped";
        if (ec) reason += " (unpublish not written: " + ec.message() + ")";
    }

    // Writes what the stream gives until the publisher has stopped and all of it is written
    // (gives ""), or a write fails, or the queue overflowed (gives why).
    asio::awaitable<std::string> write_loop() {
        const auto cancelled = co_await asio::this_coro::cancellation_state;
        std::vector<message> batch;
        std::vector<std::uint8_t> bytes;
        const auto id = client_->sequence().message_stream_id();
        for (;;) {
            bool finished = false, overflowed = false;
            batch.clear();
            {
                std::lock_guard lock(mutex_);
                if (!queue_.empty()) queue_.pop_batch(batch_bytes, batch);
                overflowed = queue_.overflowed();
                finished = stopped_ && queue_.empty() && batch.empty();
                if (batch.empty() && !finished && !overflowed) writer_waiting_ = true;
            }
            if (overflowed) co_return "the backend does not take the stream fast enough";
            if (finished) co_return std::string();
            if (batch.empty()) {
                wake_.expires_at(asio::steady_timer::time_point::max());
                co_await wake_.async_wait(use_nothrow);
                if (closing_) co_return "shutdown";
                // The reader ended first (operator|| cancels the writer): wait no more.
                if (cancelled.cancelled() != asio::cancellation_type::none) co_return "stopped";
                continue;
            }
            bytes.clear();
            for (auto& m : batch) {
                const auto type = m.type();
                if (type == message_type::audio || type == message_type::video ||
                    type == message_type::data_amf0 || type == message_type::data_amf3) {
                    m = as_published_metadata(std::move(m));
                    m.message_stream_id = id;
                    m.chunk_stream_id = type == message_type::audio ? protocol::chunk_stream::audio
                                        : type == message_type::video
                                            ? protocol::chunk_stream::video
                                            : protocol::chunk_stream::stream_command;
                    ++sent_;
                }
                client_->encoder().encode(m, bytes);
            }
            const asio::const_buffer out[] = {asio::buffer(bytes)};
            auto [ec, n] = co_await with_deadline(client_->stream().write(out),
                                                  context_.cfg.backend.write_timeout,
                                                  deadline_error::backend_write);
            if (ec) co_return backend::failure("write", ec, context_.stats);
        }
    }

    server_context& context_;
    asio::any_io_executor strand_;
    std::shared_ptr<engine::stream> stream_;
    const backend_target target_;
    const std::string app_, name_, log_id_;
    std::uint64_t registration_ = 0;

    std::mutex mutex_;  // guards the members below up to wake_ (a leaf lock)
    rtmp::output_queue queue_;
    bool stopped_ = false;         // the publisher stopped: write what is queued, then end
    bool ended_ = false;           // the push is over: take nothing more
    bool writer_waiting_ = false;  // the writer waits on wake_

    // The strand's.
    asio::steady_timer wake_;
    asio::cancellation_signal stop_;
    std::optional<rtmp_client> client_;
    bool closing_ = false;
    std::uint64_t sent_ = 0;  // media and data messages written
};

}  // namespace

void start_push(server_context& context, const asio::any_io_executor& publisher_strand,
                std::shared_ptr<engine::stream> s, backend_target target, std::string app,
                std::string stream_name, std::string log_id) {
    auto p = std::make_shared<push>(context, own_strand(publisher_strand), std::move(s),
                                    std::move(target), std::move(app), std::move(stream_name),
                                    std::move(log_id));
    p->start();
}

void route_pushes::published(const std::shared_ptr<engine::stream>& s, const std::string& app,
                             const std::string& name, const std::string& log_id,
                             const asio::any_io_executor& strand) {
    const route* r = context_.cfg.find_route(app);
    if (!r) return;
    for (const auto& t : r->push)
        start_push(context_, strand, s, t.backend, t.app, t.name.empty() ? name : t.name, log_id);
}

}  // namespace rtmpgate::gateway::upstream
