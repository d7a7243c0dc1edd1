// loadgen: a cheap load generator of raw RTMP and RTMPT clients, for tests/bench/compare.
//
// One thread, one epoll set, non-blocking sockets, loopback only. The protocol library gives the
// handshake (a Flash Player 9 style C1 with a digest, as ffmpeg sends), the command messages and
// the chunk codec; players that only count do not decode what follows their play command, so a
// player costs about one recv() per batch of bytes the server sends.
//
// Usage: loadgen [options]
//   --rtmp-port P         the server's RTMP port (RTMP players and connections)
//   --http-port P         the server's HTTP port (RTMPT players and sessions, HTTP pollers)
//   --app NAME            application of connect (default live)
//   --stream NAME         stream the players play (default fan)
//   --rtmp-players N      RTMP players: handshake, connect, createStream, play, then count octets
//   --rtmpt-players N     RTMPT players that behave as ffmpeg's rtmphttp.c (below); count octets
//   --rtmp-idle N         RTMP connections that fall silent once connect's _result has arrived
//   --rtmpt-idle N        RTMPT sessions that stop polling once connect's _result has arrived
//   --rtmpt-pollers N     RTMPT sessions that reach connect's _result, play nothing and go on
//                         polling /idle as ffmpeg does (a held poll when the server holds them)
//   --http-pollers N      keep-alive HTTP connections that POST ffmpeg's /idle requests to a plain
//                         HTTP server (the reference for --rtmpt-pollers: a static reply)
//   --delay               one more RTMP and one more RTMPT player of the stream that decode every
//                         chunk and note when each audio and video message arrived, by (type,
//                         timestamp); prints the median and 90th percentile of RTMPT arrival
//                         minus RTMP arrival over the messages both got
//   --seconds S           run this long once every client is set up; 0 (default): until SIGINT
//                         or SIGTERM
//   --setup-timeout S     every client must be set up within this (default 60); those that are
//                         not are counted as failed and the run goes on with the others
//   --deadline S          hard bound on the whole run (default setup-timeout + seconds + 600)
//   --parallel N          clients being set up at once (default 64)
//   --ack-window N        players send an Acknowledgement after each N octets received, as
//                         ffmpeg does for the server's window (default 2500000; 0: never)
//   --rcvlowat N          SO_RCVLOWAT of counting RTMP players once they have sent play (default
//                         65536; 0: leave it): they wake once per N octets, not once per message,
//                         which makes them several times cheaper. What the server does is the
//                         same either way: on loopback its writes land in the receive queue
//                         whenever the player reads it. At the end each socket is drained.
//
// RTMPT, as ffmpeg's libavformat/rtmphttp.c: one keep-alive HTTP connection per session, Nagle
// on, each POST's headers and body written by two send() calls with ffmpeg's headers; POST
// /open/1 with one zero octet; then /send/<id>/<seq> carrying what the RTMP layer wrote since the
// last request, or, when there is nothing to send, /idle/<id>/<seq> with one zero octet, after a
// 50 ms pause when the previous reply brought no octet beyond its first (the poll interval, which
// ffmpeg reads and ignores). A player reads all the time, so the next request leaves as soon as
// a reply is complete.
//
// Output (stdout, one `key=value` record a line, for the script to parse):
//   ready clients=N failed=M setup_s=X           once every client is set up (or has failed)
//   <kind> n=N ok=N failed=N closed=N octets_min=N octets_max=N octets_total=N requests=N
//                                                per kind at the end; requests: HTTP requests
//                                                completed after ready
//   delay matched=N median_ms=X p90_ms=X rtmp_messages=N rtmpt_messages=N
//   loadgen_cpu user_s=X sys_s=X wall_s=X run_s=X
//                                                this process's own CPU (getrusage), its whole
//                                                run, and the part after ready
// The first failure of each kind goes to stderr. Exit status 0 when every client was set up.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/chunk_decoder.hpp"
#include "protocol/chunk_encoder.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"
#include "protocol/handshake.hpp"

namespace {

namespace proto = rtmpgate::protocol;
using bytes = std::vector<std::uint8_t>;

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct options {
    int rtmp_port = 0;
    int http_port = 0;
    std::string app = "live";
    std::string stream = "fan";
    int rtmp_players = 0;
    int rtmpt_players = 0;
    int rtmp_idle = 0;
    int rtmpt_idle = 0;
    int rtmpt_pollers = 0;
    int http_pollers = 0;
    bool delay = false;
    double seconds = 0;
    double setup_timeout = 60;
    double deadline = -1;
    int parallel = 64;
    std::uint64_t ack_window = 2'500'000;
    int rcvlowat = 65536;
};

// What a client is for; one line of the report each.
enum class kind : std::uint8_t {
    rtmp_players,
    rtmpt_players,
    rtmp_idle,
    rtmpt_idle,
    rtmpt_pollers,
    http_pollers,
    delay_rtmp,
    delay_rtmpt,
};
constexpr std::array kind_names = {"rtmp_players",  "rtmpt_players", "rtmp_idle",  "rtmpt_idle",
                                   "rtmpt_pollers", "http_pollers",  "delay_rtmp", "delay_rtmpt"};

// Where a dialog stops: playing (and counting), or silent or polling after connect's _result.
enum class goal : std::uint8_t { play, connect };

// First arrival of each media message, by (type, timestamp).
using arrival_log = std::unordered_map<std::uint64_t, std::int64_t>;

// The RTMP client's side of one connection, whatever carries it: fed the server's octets,
// appends what to send. It speaks until its goal is reached, then only counts octets (and
// acknowledges them), unless it keeps decoding to log arrivals.
class rtmp_dialog {
public:
    rtmp_dialog(const options& o, goal g, arrival_log* log) : options_(o), goal_(g), log_(log) {}

    void start(bytes& out) { handshake_.start(out); }

    void feed(std::span<const std::uint8_t> in, bytes& out, std::int64_t now) {
        octets_ += in.size();
        if (stage_ == stage::handshake) {
            proto::error_code ec;
            auto used = handshake_.feed(in, out, ec);
            if (handshake_.done()) {
                stage_ = stage::connecting;
                send_connect(out);
                in = in.subspan(used);
            } else if (ec != proto::error::need_more) {
                return fail("handshake: " + ec.message());
            } else {
                return;
            }
        }
        if (decoding() && !in.empty()) decode(in, out, now);
        if (stage_ == stage::playing && options_.ack_window != 0 &&
            octets_ - acknowledged_ >= options_.ack_window) {
            // As ffmpeg's bytes-read report: the octets received so far, modulo 2^32.
            acknowledged_ = octets_;
            encoder_.encode(proto::make_acknowledgement(static_cast<std::uint32_t>(octets_)), out);
        }
    }

    bool ready() const { return stage_ == stage::playing || stage_ == stage::connected; }
    bool failed() const { return stage_ == stage::failed; }
    const std::string& error() const { return error_; }
    std::uint64_t octets() const { return octets_; }

private:
    enum class stage : std::uint8_t { handshake, connecting, creating, playing, connected, failed };

    bool decoding() const {
        return stage_ == stage::connecting || stage_ == stage::creating ||
               (stage_ == stage::playing && log_ != nullptr);
    }

    void fail(std::string why) {
        if (stage_ != stage::failed) error_ = std::move(why);
        stage_ = stage::failed;
    }

    void send_connect(bytes& out) {
        using proto::amf_value;
        // The command object ffmpeg sends for a player (rtmpproto.c gen_connect).
        auto object = amf_value::make_object({
            {"app", amf_value::make_string(options_.app)},
            {"flashVer", amf_value::make_string("LNX 9,0,124,2")},
            {"tcUrl", amf_value::make_string("rtmp://127.0.0.1/" + options_.app)},
            {"fpad", amf_value::make_boolean(false)},
            {"capabilities", amf_value::make_number(15)},
            {"audioCodecs", amf_value::make_number(4071)},
            {"videoCodecs", amf_value::make_number(252)},
            {"videoFunction", amf_value::make_number(1)},
        });
        encoder_.encode(proto::make_command(proto::chunk_stream::command, 0, "connect", 1, object),
                        out);
    }

    void decode(std::span<const std::uint8_t> in, bytes& out, std::int64_t now) {
        proto::error_code ec;
        messages_.clear();
        decoder_.feed(in, messages_, ec);
        if (ec && ec != proto::error::need_more) return fail("chunk stream: " + ec.message());
        for (const auto& m : messages_) {
            if (stage_ == stage::playing) {
                if (m.message_type_id == 8 || m.message_type_id == 9) {
                    auto key = std::uint64_t{m.message_type_id} << 32 | m.timestamp;
                    log_->try_emplace(key, now);
                }
                continue;
            }
            if (m.type() == proto::message_type::command_amf0) on_command(m, out);
            if (!decoding()) break;  // the rest is counted, not decoded
        }
    }

    void on_command(const proto::message& m, bytes& out) {
        using proto::amf_value;
        auto c = proto::parse_command(m);
        if (!c) return fail("unreadable command");
        if (c->name == "_error")
            return fail("_error to transaction " + std::to_string(c->transaction_id));
        if (c->name != "_result") return;  // onBWDone, onStatus and the like
        if (stage_ == stage::connecting && c->transaction_id == 1) {
            if (goal_ == goal::connect) {
                stage_ = stage::connected;
                return;
            }
            stage_ = stage::creating;
            encoder_.encode(proto::make_command(proto::chunk_stream::command, 0, "createStream", 2,
                                                amf_value::make_null()),
                            out);
        } else if (stage_ == stage::creating && c->transaction_id == 2) {
            if (c->arguments.empty() || c->arguments[0].kind != proto::amf_kind::number)
                return fail("createStream _result without a stream id");
            auto stream_id = static_cast<std::uint32_t>(c->arguments[0].number);
            // play(name, -2000) on chunk stream 8 and a 3 s buffer, as ffmpeg sends them.
            std::array args = {amf_value::make_string(options_.stream),
                               amf_value::make_number(-2000)};
            encoder_.encode(
                proto::make_command(8, stream_id, "play", 3, amf_value::make_null(), args), out);
            encoder_.encode(proto::make_user_control(proto::user_control_event::set_buffer_length,
                                                     stream_id, 3000),
                            out);
            stage_ = stage::playing;
        }
    }

    const options& options_;
    goal goal_;
    arrival_log* log_;
    stage stage_ = stage::handshake;
    std::string error_;
    proto::handshake_client handshake_{true};
    proto::chunk_decoder decoder_;
    proto::chunk_encoder encoder_;
    std::vector<proto::message> messages_;
    std::uint64_t octets_ = 0;
    std::uint64_t acknowledged_ = 0;
};

class load;

// One TCP connection of the load: sets itself up, then lives until the end of the run.
class client {
public:
    client(load& l, kind k, int port) : load_(l), kind_(k), port_(port) {}
    virtual ~client() {
        if (fd_ >= 0) ::close(fd_);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void start();
    void on_events(std::uint32_t events);
    virtual void on_timer() {}
    void give_up() { fail("not set up within --setup-timeout"); }
    // Reads what the socket holds (what SO_RCVLOWAT kept back), without waiting.
    virtual void drain() {}

    kind what() const { return kind_; }
    bool ready() const { return ready_; }
    bool failed() const { return failed_; }
    bool closed() const { return closed_; }
    const std::string& error() const { return error_; }
    virtual std::uint64_t octets() const = 0;
    std::uint64_t requests = 0;  // HTTP requests completed after the load was ready

protected:
    virtual void on_connected() = 0;
    virtual void on_data(std::span<const std::uint8_t> in) = 0;
    void send(std::span<const std::uint8_t> data);
    void become_ready();
    void fail(std::string why);
    int fd() const { return fd_; }

    load& load_;
    kind kind_;

private:
    void flush();
    void watch(bool out);

    int port_;
    int fd_ = -1;
    bool connecting_ = true;
    bool ready_ = false;
    bool failed_ = false;
    bool closed_ = false;  // failed after it was ready (the server closed it)
    bool watching_out_ = false;
    std::string error_;
    bytes pending_;  // what a send() could not write at once
};

// The whole load: the clients, the event loop, the phases.
class load {
public:
    explicit load(options o) : options_(std::move(o)) {}
    int run();

    const options& settings() const { return options_; }
    int epoll_fd() const { return epoll_; }
    bool running() const { return running_; }
    std::int64_t now() const { return now_; }
    std::span<std::uint8_t> read_buffer() { return buffer_; }
    void client_settled();
    void sleep(client& c, std::int64_t ns) { timers_.emplace_back(now_ + ns, &c); }
    arrival_log rtmp_arrivals, rtmpt_arrivals;

private:
    void add(kind k, int count);
    void start_more();
    void begin_run();
    void report();

    options options_;
    int epoll_ = -1;
    std::vector<std::unique_ptr<client>> clients_;
    std::size_t next_ = 0;  // clients_[next_] is the next to start
    int in_setup_ = 0;
    int settled_ = 0;
    bool running_ = false;  // every client is set up: the measured part
    std::int64_t now_ = now_ns();
    std::int64_t started_ = now_;
    std::int64_t ready_at_ = 0;
    // Every sleep is 50 ms, so the queue is in deadline order.
    std::deque<std::pair<std::int64_t, client*>> timers_;
    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(256 << 10);
};

void client::start() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = this;
    watching_out_ = true;
    if (epoll_ctl(load_.epoll_fd(), EPOLL_CTL_ADD, fd_, &ev) != 0)
        return fail(std::string("epoll_ctl: ") + std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
        return fail(std::string("connect: ") + std::strerror(errno));
}

void client::on_events(std::uint32_t events) {
    if (failed_) return;
    if (connecting_) {
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail(std::string("connect: ") + std::strerror(err));
        connecting_ = false;
        watch(false);
        on_connected();
        return;
    }
    if ((events & EPOLLOUT) != 0) flush();
    if (failed_ || (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) return;
    auto buffer = load_.read_buffer();
    auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) return on_data(buffer.first(static_cast<std::size_t>(n)));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    fail(n == 0 ? "closed by the server" : std::string("recv: ") + std::strerror(errno));
}

void client::send(std::span<const std::uint8_t> data) {
    if (failed_ || data.empty()) return;
    if (!pending_.empty()) {
        pending_.insert(pending_.end(), data.begin(), data.end());
        return;
    }
    auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN) return fail(std::string("send: ") + std::strerror(errno));
        n = 0;
    }
    if (static_cast<std::size_t>(n) < data.size()) {
        pending_.assign(data.begin() + n, data.end());
        watch(true);
    }
}

void client::flush() {
    while (!pending_.empty()) {
        auto n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) return;
            return fail(std::string("send: ") + std::strerror(errno));
        }
        pending_.erase(pending_.begin(), pending_.begin() + n);
    }
    watch(false);
}

void client::watch(bool out) {
    if (out == watching_out_) return;
    epoll_event ev{};
    ev.events = out ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.ptr = this;
    epoll_ctl(load_.epoll_fd(), EPOLL_CTL_MOD, fd_, &ev);
    watching_out_ = out;
}

void client::become_ready() {
    if (ready_ || failed_) return;
    ready_ = true;
    load_.client_settled();
}

void client::fail(std::string why) {
    if (failed_) return;
    failed_ = true;
    closed_ = ready_;
    error_ = std::move(why);
    if (fd_ >= 0) {
        ::close(fd_);  // also leaves the epoll set
        fd_ = -1;
    }
    if (!ready_) load_.client_settled();
}

// RTMP over its own TCP connection.
class rtmp_client final : public client {
public:
    rtmp_client(load& l, kind k, goal g, arrival_log* log)
        : client(l, k, l.settings().rtmp_port), dialog_(l.settings(), g, log) {}
    std::uint64_t octets() const override { return dialog_.octets(); }

private:
    void on_connected() override {
        dialog_.start(out_);
        flush_dialog();
    }
    void on_data(std::span<const std::uint8_t> in) override {
        dialog_.feed(in, out_, load_.now());
        flush_dialog();
        if (dialog_.failed()) return fail(dialog_.error());
        if (dialog_.ready() && !ready()) {
            become_ready();
            int lowat = load_.settings().rcvlowat;
            if (kind_ == kind::rtmp_players && lowat > 0)
                setsockopt(fd(), SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
        }
    }
    void drain() override {
        auto buffer = load_.read_buffer();
        for (int i = 0; i < 256 && !failed(); ++i) {
            auto n = ::recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n <= 0) return;
            on_data(buffer.first(static_cast<std::size_t>(n)));
        }
    }
    void flush_dialog() {
        send(out_);
        out_.clear();
    }

    rtmp_dialog dialog_;
    bytes out_;
};

// An HTTP client that POSTs as ffmpeg's http.c does, one request at a time on one keep-alive
// connection, and reads each reply by its Content-Length. Subclasses say what to ask next.
class http_client : public client {
public:
    using client::client;

protected:
    // Writes the request: headers, then the body with a second send() (ffmpeg's pattern).
    void post(std::string_view path, std::span<const std::uint8_t> body) {
        head_.clear();
        head_.append("POST ").append(path).append(" HTTP/1.1\r\n");
        head_.append("Accept: */*\r\nConnection: keep-alive\r\nHost: 127.0.0.1:");
        head_.append(std::to_string(load_.settings().http_port)).append("\r\n");
        head_.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
        head_.append("Icy-MetaData: 1\r\nCache-Control: no-cache\r\n");
        head_.append("Content-type: application/x-fcs\r\nUser-Agent: Shockwave Flash\r\n\r\n");
        reply_head_.clear();
        in_body_ = false;
        send({reinterpret_cast<const std::uint8_t*>(head_.data()), head_.size()});
        send(body);
    }

    // The reply's body octets as they arrive; `first` is true for its first call.
    virtual void on_body(std::span<const std::uint8_t> part, bool first) = 0;
    // The reply is complete.
    virtual void on_reply() = 0;

private:
    void on_data(std::span<const std::uint8_t> in) override {
        while (!in.empty() && !failed()) {
            if (!in_body_) {
                auto old = reply_head_.size();
                reply_head_.append(reinterpret_cast<const char*>(in.data()), in.size());
                auto end = reply_head_.find("\r\n\r\n", old < 3 ? 0 : old - 3);
                if (end == std::string::npos) {
                    if (reply_head_.size() > 16384) fail("reply header too long");
                    return;
                }
                in = in.subspan(end + 4 - old);
                reply_head_.resize(end + 4);
                if (!read_head()) return;
                first_ = true;
                in_body_ = true;
                if (body_left_ == 0) {
                    finish();
                    continue;
                }
            }
            auto take = std::min<std::size_t>(in.size(), body_left_);
            body_left_ -= take;
            on_body(in.first(take), first_);
            first_ = false;
            in = in.subspan(take);
            if (body_left_ == 0) finish();
        }
    }

    bool read_head() {
        if (reply_head_.compare(0, 9, "HTTP/1.1 ") != 0 &&
            reply_head_.compare(0, 9, "HTTP/1.0 ") != 0) {
            fail("not an HTTP reply");
            return false;
        }
        if (reply_head_.compare(9, 3, "200") != 0) {
            fail("HTTP " + reply_head_.substr(9, 3));
            return false;
        }
        std::string lower(reply_head_);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto at = lower.find("\r\ncontent-length:");
        body_left_ =
            at == std::string::npos ? 0 : std::strtoull(lower.c_str() + at + 17, nullptr, 10);
        return true;
    }

    void finish() {
        in_body_ = false;
        reply_head_.clear();
        if (load_.running()) ++requests;
        on_reply();
    }

    std::string head_;
    std::string reply_head_;
    bool in_body_ = false;
    bool first_ = false;
    std::uint64_t body_left_ = 0;
};

constexpr std::int64_t ffmpeg_idle_pause = 50'000'000;  // rtmphttp.c: av_usleep(50000)
constexpr std::array<std::uint8_t, 1> one_zero = {0};

// An RTMPT session as ffmpeg's rtmphttp.c drives it.
class rtmpt_client final : public http_client {
public:
    rtmpt_client(load& l, kind k, goal g, bool poll_after_connect, arrival_log* log)
        : http_client(l, k, l.settings().http_port),
          dialog_(l.settings(), g, log),
          poll_after_connect_(poll_after_connect) {}
    std::uint64_t octets() const override { return dialog_.octets(); }

    void on_timer() override {
        if (!failed()) request("idle", one_zero);
    }

private:
    void on_connected() override {
        opening_ = true;
        post("/open/1", one_zero);
    }

    void on_body(std::span<const std::uint8_t> part, bool first) override {
        if (opening_) {
            session_id_.append(reinterpret_cast<const char*>(part.data()), part.size());
            return;
        }
        if (first) part = part.subspan(1);  // the poll interval
        reply_octets_ += part.size();
        if (!part.empty()) dialog_.feed(part, out_, load_.now());
    }

    void on_reply() override {
        if (opening_) {
            opening_ = false;
            while (!session_id_.empty() &&
                   std::isspace(static_cast<unsigned char>(session_id_.back())))
                session_id_.pop_back();
            if (session_id_.empty()) return fail("/open gave no session id");
            dialog_.start(out_);
        }
        if (dialog_.failed()) return fail(dialog_.error());
        if (dialog_.ready()) {
            become_ready();
            if (!poll_after_connect_ && out_.empty()) return;  // silent from here
        }
        if (!out_.empty()) {
            request("send", out_);
            out_.clear();
        } else if (reply_octets_ == 0) {
            load_.sleep(*this, ffmpeg_idle_pause);
        } else {
            request("idle", one_zero);
        }
    }

    void request(std::string_view command, std::span<const std::uint8_t> body) {
        path_.assign("/").append(command).append("/").append(session_id_).append("/");
        path_.append(std::to_string(seq_++));
        reply_octets_ = 0;
        post(path_, body);
    }

    rtmp_dialog dialog_;
    bool poll_after_connect_;
    bool opening_ = false;
    std::string session_id_;
    std::string path_;
    std::uint64_t seq_ = 0;
    std::uint64_t reply_octets_ = 0;
    bytes out_;
};

// The reference for RTMPT pollers: /idle requests to a plain HTTP server's static reply, with
// ffmpeg's pause after a reply of no more than its first octet.
class http_poller final : public http_client {
public:
    http_poller(load& l, int index) : http_client(l, kind::http_pollers, l.settings().http_port) {
        id_ = "poller" + std::to_string(index);
    }
    std::uint64_t octets() const override { return octets_; }
    void on_timer() override {
        if (!failed()) poll();
    }

private:
    void on_connected() override {
        become_ready();
        poll();
    }
    void on_body(std::span<const std::uint8_t> part, bool first) override {
        octets_ += part.size();
        reply_octets_ += part.size() - (first ? 1 : 0);
    }
    void on_reply() override {
        if (reply_octets_ == 0) {
            load_.sleep(*this, ffmpeg_idle_pause);
        } else {
            poll();
        }
    }
    void poll() {
        reply_octets_ = 0;
        post("/idle/" + id_ + "/" + std::to_string(seq_++), one_zero);
    }

    std::string id_;
    std::uint64_t seq_ = 0;
    std::uint64_t octets_ = 0;
    std::uint64_t reply_octets_ = 0;
};

void load::add(kind k, int count) {
    for (int i = 0; i < count; ++i) {
        switch (k) {
            case kind::rtmp_players:
                clients_.push_back(std::make_unique<rtmp_client>(*this, k, goal::play, nullptr));
                break;
            case kind::rtmp_idle:
                clients_.push_back(std::make_unique<rtmp_client>(*this, k, goal::connect, nullptr));
                break;
            case kind::delay_rtmp:
                clients_.push_back(
                    std::make_unique<rtmp_client>(*this, k, goal::play, &rtmp_arrivals));
                break;
            case kind::rtmpt_players:
                clients_.push_back(
                    std::make_unique<rtmpt_client>(*this, k, goal::play, true, nullptr));
                break;
            case kind::rtmpt_idle:
                clients_.push_back(
                    std::make_unique<rtmpt_client>(*this, k, goal::connect, false, nullptr));
                break;
            case kind::rtmpt_pollers:
                clients_.push_back(
                    std::make_unique<rtmpt_client>(*this, k, goal::connect, true, nullptr));
                break;
            case kind::delay_rtmpt:
                clients_.push_back(
                    std::make_unique<rtmpt_client>(*this, k, goal::play, true, &rtmpt_arrivals));
                break;
            case kind::http_pollers:
                clients_.push_back(std::make_unique<http_poller>(*this, i));
                break;
        }
    }
}

void load::client_settled() {
    --in_setup_;
    ++settled_;
}

void load::start_more() {
    while (next_ < clients_.size() && in_setup_ < options_.parallel) {
        ++in_setup_;
        clients_[next_++]->start();  // may settle at once (a failed socket())
    }
}

void load::begin_run() {
    running_ = true;
    ready_at_ = now_;
    int failed = 0;
    for (auto& c : clients_) {
        if (!c->ready() && !c->failed()) {
            c->give_up();  // not set up in time: counted as failed; its socket closes
        }
        failed += c->ready() ? 0 : 1;
    }
    std::printf("ready clients=%zu failed=%d setup_s=%.3f\n", clients_.size(), failed,
                static_cast<double>(now_ - started_) / 1e9);
    std::fflush(stdout);
}

void load::report() {
    for (std::size_t k = 0; k < kind_names.size(); ++k) {
        std::uint64_t lo = UINT64_MAX, hi = 0, total = 0, requests = 0;
        int n = 0, ok = 0, failed = 0, closed = 0;
        const client* first_failure = nullptr;
        for (const auto& c : clients_) {
            if (static_cast<std::size_t>(c->what()) != k) continue;
            ++n;
            if (c->ready()) ++ok;
            if (c->failed() && !c->closed()) ++failed;
            if (c->closed()) ++closed;
            if (c->failed() && first_failure == nullptr) first_failure = c.get();
            lo = std::min(lo, c->octets());
            hi = std::max(hi, c->octets());
            total += c->octets();
            requests += c->requests;
        }
        if (n == 0) continue;
        std::printf(
            "%s n=%d ok=%d failed=%d closed=%d octets_min=%llu octets_max=%llu "
            "octets_total=%llu requests=%llu\n",
            kind_names[k], n, ok, failed, closed, static_cast<unsigned long long>(lo),
            static_cast<unsigned long long>(hi), static_cast<unsigned long long>(total),
            static_cast<unsigned long long>(requests));
        if (first_failure != nullptr)
            std::fprintf(stderr, "%s: %s\n", kind_names[k], first_failure->error().c_str());
    }
    if (options_.delay) {
        std::vector<double> diffs;
        for (const auto& [key, at] : rtmpt_arrivals) {
            auto other = rtmp_arrivals.find(key);
            if (other != rtmp_arrivals.end())
                diffs.push_back(static_cast<double>(at - other->second) / 1e6);
        }
        std::sort(diffs.begin(), diffs.end());
        auto pick = [&](double q) {
            return diffs.empty() ? 0.0 : diffs[static_cast<std::size_t>(q * (diffs.size() - 1))];
        };
        std::printf(
            "delay matched=%zu median_ms=%.3f p90_ms=%.3f rtmp_messages=%zu "
            "rtmpt_messages=%zu\n",
            diffs.size(), pick(0.5), pick(0.9), rtmp_arrivals.size(), rtmpt_arrivals.size());
    }
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    std::printf("loadgen_cpu user_s=%.3f sys_s=%.3f wall_s=%.3f run_s=%.3f\n",
                seconds(self.ru_utime), seconds(self.ru_stime),
                static_cast<double>(now_ - started_) / 1e9,
                static_cast<double>(now_ - ready_at_) / 1e9);
    std::fflush(stdout);
}

int load::run() {
    // One descriptor per client, and spares: take the hard limit.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    int signals = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (signals < 0 || epoll_ < 0) {
        std::perror("loadgen: epoll/signalfd");
        return 2;
    }
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.ptr = nullptr;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, signals, &sev);

    if (options_.delay) {
        add(kind::delay_rtmp, 1);
        add(kind::delay_rtmpt, 1);
    }
    add(kind::rtmp_players, options_.rtmp_players);
    add(kind::rtmpt_players, options_.rtmpt_players);
    add(kind::rtmp_idle, options_.rtmp_idle);
    add(kind::rtmpt_idle, options_.rtmpt_idle);
    add(kind::rtmpt_pollers, options_.rtmpt_pollers);
    add(kind::http_pollers, options_.http_pollers);

    auto seconds_ns = [](double s) { return static_cast<std::int64_t>(s * 1e9); };
    const auto setup_end = started_ + seconds_ns(options_.setup_timeout);
    const auto hard_end =
        started_ + seconds_ns(options_.deadline >= 0
                                  ? options_.deadline
                                  : options_.setup_timeout + options_.seconds + 600);
    std::int64_t run_end = 0;
    std::vector<epoll_event> events(1024);
    bool stop = false;
    start_more();
    while (!stop) {
        now_ = now_ns();
        if (!running_) {
            start_more();
            if (settled_ == static_cast<int>(clients_.size()) || now_ >= setup_end) {
                begin_run();
                run_end = options_.seconds > 0 ? now_ + seconds_ns(options_.seconds) : 0;
            }
        }
        if (running_ && run_end != 0 && now_ >= run_end) break;
        if (now_ >= hard_end) {
            std::fprintf(stderr, "loadgen: hard deadline reached\n");
            break;
        }
        auto wake = std::min(hard_end, running_ ? (run_end != 0 ? run_end : hard_end) : setup_end);
        if (!timers_.empty()) wake = std::min(wake, timers_.front().first);
        auto wait_ms = static_cast<int>(
            std::clamp<std::int64_t>((wake - now_ + 999'999) / 1'000'000, 0, 1000));
        int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), wait_ms);
        if (n < 0 && errno != EINTR) {
            std::perror("loadgen: epoll_wait");
            break;
        }
        now_ = now_ns();
        for (int i = 0; i < n; ++i) {
            if (events[i].data.ptr == nullptr) {
                stop = true;  // SIGINT or SIGTERM
                continue;
            }
            static_cast<client*>(events[i].data.ptr)->on_events(events[i].events);
        }
        while (!timers_.empty() && timers_.front().first <= now_) {
            auto* c = timers_.front().second;
            timers_.pop_front();
            c->on_timer();
        }
    }
    if (!running_) begin_run();
    now_ = now_ns();
    for (auto& c : clients_) c->drain();
    report();
    bool all =
        std::all_of(clients_.begin(), clients_.end(), [](const auto& c) { return c->ready(); });
    clients_.clear();
    ::close(epoll_);
    ::close(signals);
    return all ? 0 : 1;
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "loadgen: %s (see the header of tests/bench/loadgen.cpp)\n", why);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--delay") {
            o.delay = true;
            continue;
        }
        if (i + 1 >= argc) usage("missing value");
        const char* v = argv[++i];
        auto number = [&] {
            char* end = nullptr;
            double d = std::strtod(v, &end);
            if (end == v || *end != '\0' || d < 0) usage("bad number");
            return d;
        };
        auto count = [&] { return static_cast<int>(number()); };
        if (a == "--rtmp-port")
            o.rtmp_port = count();
        else if (a == "--http-port")
            o.http_port = count();
        else if (a == "--app")
            o.app = v;
        else if (a == "--stream")
            o.stream = v;
        else if (a == "--rtmp-players")
            o.rtmp_players = count();
        else if (a == "--rtmpt-players")
            o.rtmpt_players = count();
        else if (a == "--rtmp-idle")
            o.rtmp_idle = count();
        else if (a == "--rtmpt-idle")
            o.rtmpt_idle = count();
        else if (a == "--rtmpt-pollers")
            o.rtmpt_pollers = count();
        else if (a == "--http-pollers")
            o.http_pollers = count();
        else if (a == "--seconds")
            o.seconds = number();
        else if (a == "--setup-timeout")
            o.setup_timeout = number();
        else if (a == "--deadline")
            o.deadline = number();
        else if (a == "--parallel")
            o.parallel = std::max(1, count());
        else if (a == "--ack-window")
            o.ack_window = static_cast<std::uint64_t>(number());
        else if (a == "--rcvlowat")
            o.rcvlowat = count();
        else
            usage("unknown option");
    }
    bool rtmp = o.rtmp_players + o.rtmp_idle > 0 || o.delay;
    bool http = o.rtmpt_players + o.rtmpt_idle + o.rtmpt_pollers + o.http_pollers > 0 || o.delay;
    if (rtmp && o.rtmp_port == 0) usage("--rtmp-port is needed");
    if (http && o.http_port == 0) usage("--http-port is needed");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    load l(parse(argc, argv));
    return l.run();
}
