#include "gateway/engine/session.hpp"

#include <algorithm>
#include <mutex>
#include <utility>

#include "gateway/engine/publish_input.hpp"
#include "gateway/net/log.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::engine {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;

namespace {

// "key?token=x" -> "key": like nginx-rtmp, the query string is for authentication hooks, not
// part of the stream's identity.
std::string without_query(std::string_view name) {
    return std::string(name.substr(0, name.find('?')));
}

// A session built without its connection's transport (unit tests) plays as plain RTMP.
publisher_info with_transport(publisher_info peer) {
    if (peer.transport.empty()) peer.transport = "rtmp";
    return peer;
}

}  // namespace

// The stream's handle on a player: hops from the publisher's strand to the player's. What the
// stream hands over waits in an inbox, in order, and one post carries everything that arrived
// before the player's strand takes it: a post per player per burst of the publisher, not per
// message (at 200 players the posts, their handler allocations and strand hand-offs were a
// fifth of the engine's instructions). The inbox holds what the posted handlers held before:
// it is emptied into the connection's bounded queue each time the player's strand runs.
class session::player final : public subscriber, public std::enable_shared_from_this<player> {
public:
    player(std::weak_ptr<session> owner, asio::any_io_executor strand,
           std::uint32_t message_stream_id, std::string transport)
        : owner_(std::move(owner)),
          strand_(std::move(strand)),
          message_stream_id_(message_stream_id),
          transport_(std::move(transport)) {}

    void deliver(const message& m, media_class c) override { push(m, c, event::media); }
    // The publisher's start and stop go through the inbox too, so that they stay in order with
    // the media around them.
    void on_publish_start() override { push({}, media_class::essential, event::publish_start); }
    void on_publish_stop() override { push({}, media_class::essential, event::publish_stop); }
    void on_drop() override { push({}, media_class::essential, event::drop); }
    std::string_view transport() const noexcept override { return transport_; }

private:
    enum class event : std::uint8_t { media, publish_start, publish_stop, drop };
    static constexpr std::size_t kept_entries = 16;
    struct entry {
        message m;
        media_class c;
        event e;
    };

    void push(const message& m, media_class c, event e) {
        {
            std::lock_guard lock(mutex_);
            inbox_.push_back({m, c, e});
            if (inbox_.size() > 1) return;  // a post is on its way and will take this too
        }
        asio::post(strand_, [self = shared_from_this()] { self->drain(); });
    }

    // On the player's strand.
    void drain() {
        {
            std::lock_guard lock(mutex_);
            taken_.swap(inbox_);
        }
        if (auto s = owner_.lock()) {
            for (auto& x : taken_) {
                switch (x.e) {
                    case event::media:
                        s->deliver(message_stream_id_, std::move(x.m), x.c);
                        break;
                    case event::publish_start:
                        s->publish_started(message_stream_id_);
                        break;
                    case event::publish_stop:
                        s->publish_stopped(message_stream_id_);
                        break;
                    case event::drop:
                        s->drop_by_admin();
                        break;
                }
            }
            if (s->out_) s->out_->flush();
        }
        // Keeps its capacity for the next swap, unless a burst far above the usual (a player's
        // strand that lagged) made it large.
        if (taken_.capacity() > kept_entries)
            std::vector<entry>().swap(taken_);
        else
            taken_.clear();
    }

    std::weak_ptr<session> owner_;
    asio::any_io_executor strand_;
    std::uint32_t message_stream_id_;
    const std::string transport_;  // the connection's: rtmp, rtmps, rtmpt or rtmpts
    std::mutex mutex_;             // guards inbox_ (a leaf: nothing else is locked under it)
    std::vector<entry> inbox_;     // filled by the stream, under the stream's lock
    std::vector<entry> taken_;     // the player's strand's, being handed to the session
};

session::session(output& out, asio::any_io_executor strand, stream_registry& streams,
                 session_settings settings, std::string log_id, publisher_info peer)
    : out_(&out),
      strand_(std::move(strand)),
      streams_(streams),
      publisher_(streams.new_publisher()),
      settings_(settings),
      log_id_(std::move(log_id)),
      peer_(with_transport(std::move(peer))) {}

session::~session() { stop(); }

void session::start(const protocol::connect_command& connect) {
    app_ = without_query(connect.app);
    object_encoding_ = connect.object_encoding;
    out_->send(protocol::make_window_ack_size(settings_.window_ack_size));
    out_->send(protocol::make_set_peer_bandwidth(settings_.peer_bandwidth,
                                                 protocol::peer_bandwidth_limit::dynamic));
    out_->send(protocol::make_set_chunk_size(settings_.chunk_size));
    out_->send(protocol::make_connect_result(connect.transaction_id, object_encoding_));
}

void session::stop() {
    for (auto& b : bindings_) release(b);
    bindings_.clear();
    out_ = nullptr;
}

const char* session::role() const noexcept {
    switch (last_role_) {
        case binding::kind::publishing:
            return "publisher";
        case binding::kind::playing:
            return "player";
        case binding::kind::none:
            break;
    }
    return "none";
}

std::string session::stream_name() const { return last_stream_name_; }

bool session::serves(std::uint32_t message_stream_id) {
    auto* b = find(message_stream_id);
    return b && b->role != binding::kind::none;
}

std::shared_ptr<stream> session::published_on(std::uint32_t message_stream_id) {
    auto* b = find(message_stream_id);
    if (!b || b->role != binding::kind::publishing) return nullptr;
    return b->target;
}

session::binding* session::find(std::uint32_t message_stream_id) {
    for (auto& b : bindings_)
        if (b.message_stream_id == message_stream_id) return &b;
    return nullptr;
}

error_code session::on_message(const message& m) {
    if (!out_) return {};
    switch (m.type()) {
        case message_type::command_amf0:
        case message_type::command_amf3: {
            auto c = protocol::parse_command(m);
            if (!c) return c.error();
            return on_command(*c, m.message_stream_id);
        }
        default:
            break;
    }
    auto* b = find(m.message_stream_id);
    if (b && b->role == binding::kind::publishing) return on_publisher_media(*b, m);
    return {};
}

error_code session::on_publisher_media(binding& b, const message& m) {
    return publish_input(*b.target, m);
}

error_code session::on_command(const protocol::command& c, std::uint32_t message_stream_id) {
    const auto& name = c.name;
    if (name == "createStream") {
        on_create_stream(c);
    } else if (name == "publish") {
        return on_publish(c, message_stream_id);
    } else if (name == "play" || name == "play2") {
        return on_play(c, message_stream_id);
    } else if (name == "deleteStream") {
        if (auto d = protocol::parse_delete_stream(c)) on_close_stream(d->stream_id);
    } else if (name == "closeStream") {
        on_close_stream(message_stream_id);
    } else if (name == "pause" || name == "pauseRaw") {
        auto p = protocol::parse_pause(c);
        auto* b = find(message_stream_id);
        if (!p || !b || b->role != binding::kind::playing) return {};
        b->paused = p->pause;
        b->wait_keyframe = !p->pause;  // resume where a decoder can start
        out_->send(protocol::make_on_status(
            b->message_stream_id, "status",
            p->pause ? "NetStream.Pause.Notify" : "NetStream.Unpause.Notify",
            p->pause ? "Paused." : "Unpaused."));
    } else if (name == "receiveAudio" || name == "receiveVideo") {
        auto r = protocol::parse_receive_media(c);
        auto* b = find(message_stream_id);
        if (!r || !b) return {};
        if (name == "receiveAudio") {
            b->receive_audio = r->enable;
        } else {
            // Video that comes back starts where a decoder can: the next keyframe.
            if (r->enable && !b->receive_video) b->wait_keyframe = true;
            b->receive_video = r->enable;
        }
    } else if (name == "getStreamLength") {
        // A live stream has no length; ffmpeg asks before playing and accepts 0.
        const amf_value length[] = {amf_value::make_number(0)};
        out_->send(protocol::make_result(c.transaction_id, length));
    }
    // releaseStream, FCPublish, FCUnpublish, FCSubscribe, _checkbw and the like need no answer:
    // ffmpeg, librtmp and OBS carry on without one, as they do with nginx-rtmp.
    return {};
}

void session::on_create_stream(const protocol::command& c) {
    if (bindings_.size() >= max_streams_per_connection) {
        out_->send(protocol::make_error(c.transaction_id, "NetConnection.Call.Failed",
                                        "Too many streams."));
        return;
    }
    binding b;
    b.message_stream_id = next_stream_id_++;
    const amf_value id[] = {amf_value::make_number(b.message_stream_id)};
    bindings_.push_back(std::move(b));
    out_->send(protocol::make_result(c.transaction_id, id));
}

error_code session::on_publish(const protocol::command& c, std::uint32_t message_stream_id) {
    auto p = protocol::parse_publish(c);
    if (!p) return p.error();
    if (!name_fits("publish", p->name, message_stream_id, "NetStream.Publish.BadName")) return {};
    auto* b = find(message_stream_id);
    const auto name = renamed_.empty() ? without_query(p->name) : std::exchange(renamed_, {});
    if (!b || b->role != binding::kind::none || name.empty()) {
        out_->send(protocol::make_on_status(message_stream_id, "error", "NetStream.Publish.BadName",
                                            "Invalid stream for publishing."));
        return {};
    }
    // The stream calls this from the admin's strand: it hops to this session's.
    auto on_drop = [self = weak_from_this(), strand = strand_] {
        asio::post(strand, [self] {
            if (auto s = self.lock()) s->drop_by_admin();
        });
    };
    auto target = streams_.publish(app_ + "/" + name, publisher_, std::move(on_drop), peer_);
    if (!target) {
        log::info(log_id_, ": publish ", log::quoted(app_ + "/" + name),
                  " refused: already publishing");
        out_->refused(refusal::stream_busy);
        out_->send(protocol::make_on_status(message_stream_id, "error", "NetStream.Publish.BadName",
                                            name + " is already being published."));
        return {};
    }
    b->role = binding::kind::publishing;
    b->target = std::move(target);
    last_role_ = b->role;
    last_stream_name_ = app_ + "/" + name;
    out_->send(
        protocol::make_user_control(protocol::user_control_event::stream_begin, message_stream_id));
    out_->send(protocol::make_on_status(message_stream_id, "status", "NetStream.Publish.Start",
                                        name + " is now published."));
    log::info(log_id_, ": publishing ", log::quoted(last_stream_name_));
    // After the log line, so that a push's own lines come after it.
    if (auto* o = streams_.observer()) o->published(b->target, app_, name, log_id_, strand_);
    return {};
}

error_code session::on_play(const protocol::command& c, std::uint32_t message_stream_id) {
    std::string requested;
    if (c.name == "play2") {
        auto p = protocol::parse_play2(c);
        if (!p) return p.error();
        requested = p->stream_name;
    } else {
        auto p = protocol::parse_play(c);
        if (!p) return p.error();
        requested = p->name;
    }
    if (!name_fits(c.name, requested, message_stream_id, "NetStream.Play.Failed")) return {};
    const auto name = renamed_.empty() ? without_query(requested) : std::exchange(renamed_, {});
    auto* b = find(message_stream_id);
    if (!b) {
        // Some clients play on a stream id they never created; serve it as if they had.
        bindings_.emplace_back();
        bindings_.back().message_stream_id = message_stream_id;
        b = &bindings_.back();
    }
    if (b->role != binding::kind::none || name.empty()) {
        out_->send(protocol::make_on_status(message_stream_id, "error", "NetStream.Play.Failed",
                                            "Invalid stream for playing."));
        return {};
    }
    b->role = binding::kind::playing;
    b->subscriber =
        std::make_shared<player>(weak_from_this(), strand_, message_stream_id, peer_.transport);
    last_role_ = b->role;
    last_stream_name_ = app_ + "/" + name;
    std::vector<message> initial;
    bool playing = false;
    b->target = streams_.subscribe(last_stream_name_, b->subscriber, initial, playing);
    if (playing) {
        send_play_start(*b, std::move(initial));
    } else {
        log::info(log_id_, ": waiting for ", log::quoted(last_stream_name_), " to be published");
    }
    return {};
}

bool session::name_fits(std::string_view command, std::string_view name,
                        std::uint32_t message_stream_id, const char* code) {
    if (name.size() <= settings_.max_name_length) return true;
    const auto limit = std::to_string(settings_.max_name_length);
    out_->send(protocol::make_on_status(message_stream_id, "error", code,
                                        "Stream name longer than " + limit + " bytes."));
    out_->close_refused(refusal::stream_name_too_long,
                        std::string(command) + ": stream name of " + std::to_string(name.size()) +
                            " bytes, over limits.max_name_length (" + limit + ")");
    stop();  // nothing more is served; the connection closes once the onStatus is out
    return false;
}

void session::send_play_start(binding& b, std::vector<message> initial) {
    const auto id = b.message_stream_id;
    out_->send(protocol::make_user_control(protocol::user_control_event::stream_begin, id));
    out_->send(
        protocol::make_on_status(id, "status", "NetStream.Play.Reset", "Playing and resetting."));
    out_->send(protocol::make_on_status(id, "status", "NetStream.Play.Start", "Started playing."));
    // Flash players need this to read the stream's bytes; others ignore it.
    const amf_value allow[] = {amf_value::make_boolean(true), amf_value::make_boolean(true)};
    out_->send(protocol::make_data(protocol::chunk_stream::stream_command, id, "|RtmpSampleAccess",
                                   allow));
    b.wait_keyframe = false;
    for (auto& m : initial) {
        const auto c = classify(m);
        deliver(id, std::move(m), c);
    }
    out_->flush();
    log::info(log_id_, ": playing ", log::quoted(last_stream_name_));
}

void session::deliver(std::uint32_t message_stream_id, message m, media_class c) {
    auto* b = find(message_stream_id);
    if (!out_ || !b || b->role != binding::kind::playing) return;
    // A paused player still gets metadata and sequence headers: it resumes with the current ones.
    if (b->paused && c != media_class::essential) return;
    const bool video = m.type() == message_type::video;
    const bool audio = m.type() == message_type::audio;
    if ((video && !b->receive_video) || (audio && !b->receive_audio)) return;
    // Video resumes on a keyframe; audio never waits for one (an audio-only stream has none).
    if (b->wait_keyframe && video && c != media_class::essential) {
        if (c != media_class::keyframe) return;
        b->wait_keyframe = false;
    }
    m.message_stream_id = message_stream_id;
    m.chunk_stream_id = video   ? protocol::chunk_stream::video
                        : audio ? protocol::chunk_stream::audio
                                : protocol::chunk_stream::stream_command;
    out_->send_media(std::move(m), c);
}

void session::publish_started(std::uint32_t message_stream_id) {
    auto* b = find(message_stream_id);
    if (out_ && b && b->role == binding::kind::playing) send_play_start(*b, {});
}

void session::publish_stopped(std::uint32_t message_stream_id) {
    auto* b = find(message_stream_id);
    if (!out_ || !b || b->role != binding::kind::playing) return;
    // ffmpeg ends its input on UnpublishNotify; librtmp closes on it too.
    out_->send(protocol::make_on_status(message_stream_id, "status",
                                        "NetStream.Play.UnpublishNotify",
                                        last_stream_name_ + " is now unpublished."));
    out_->send(
        protocol::make_user_control(protocol::user_control_event::stream_eof, message_stream_id));
}

void session::drop_by_admin() {
    if (!out_) return;  // already ending (a player dropped on several streams hears it once)
    // The close line names the stream (stream=...).
    out_->close_refused(refusal::dropped_by_admin, "dropped by the admin");
    // Leaves every stream now, so that the name may be published again at once; nothing more
    // is served, and the connection closes once what is queued for it is out.
    stop();
}

void session::on_close_stream(std::uint32_t message_stream_id) {
    auto* b = find(message_stream_id);
    if (!b) return;
    if (b->role == binding::kind::publishing && out_)
        out_->send(protocol::make_on_status(message_stream_id, "status",
                                            "NetStream.Unpublish.Success",
                                            last_stream_name_ + " is now unpublished."));
    release(*b);
    std::erase_if(bindings_,
                  [&](const binding& x) { return x.message_stream_id == message_stream_id; });
}

void session::release(binding& b) {
    if (!b.target) return;
    if (b.role == binding::kind::publishing) b.target->detach_publisher(publisher_);
    if (b.role == binding::kind::playing) b.target->unsubscribe(b.subscriber.get());
    streams_.release(b.target->key());
    b.target.reset();
    b.subscriber.reset();
    b.role = binding::kind::none;
}

}  // namespace rtmpgate::gateway::engine
