#include "gateway/tunnel/registry.hpp"

#include <openssl/rand.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <stdexcept>

#include "gateway/rtmp/run_connection.hpp"
#include "gateway/tunnel/tunnel_stream.hpp"
#include "protocol/rtmpt.hpp"

namespace rtmpgate::gateway::tunnel {

namespace {

constexpr std::size_t id_length = 24;  // ~143 bits; ffmpeg reads at most 63 bytes of the id
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

registry::registry(server_context& server, session_limits limits, std::size_t max_sessions,
                   std::string node_id)
    : server_(server), limits_(limits), max_sessions_(max_sessions), node_id_(std::move(node_id)) {
    make_id();  // a node id that cannot prefix a session id fails here, at start-up
}

std::string registry::make_id() const {
    std::string random;
    std::array<unsigned char, 64> octets{};
    while (random.size() < id_length) {
        if (RAND_bytes(octets.data(), static_cast<int>(octets.size())) != 1)
            throw std::runtime_error("RAND_bytes failed");
        for (unsigned char r : octets) {
            // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
            if (r < 248 && random.size() < id_length) random += alphabet[r % alphabet.size()];
        }
    }
    // The configuration checks rtmpt.node_id ([A-Za-z0-9], 16 at most); the constructor's call
    // makes any other node id fail at start-up.
    auto id = protocol::format_rtmpt_session_id(node_id_, random);
    if (!id)
        throw std::invalid_argument("rtmpt.node_id '" + node_id_ + "' cannot prefix a session id");
    return std::move(*id);
}

std::shared_ptr<rtmpt_session> registry::create(asio::any_io_executor strand,
                                                address_limits::place place) {
    auto id = make_id();
    std::lock_guard lock(mutex_);
    if (sessions_.size() >= max_sessions_) return nullptr;
    auto s = std::make_shared<rtmpt_session>(id, std::move(strand), limits_);
    s->start_expiry([this](const std::string& expired) { remove(expired); });
    sessions_.emplace(std::move(id), entry{s, std::move(place)});
    return s;
}

std::shared_ptr<rtmpt_session> registry::open(asio::any_io_executor strand, client_address client,
                                              const char* transport, address_limits::place place) {
    auto s = create(std::move(strand), std::move(place));
    if (!s) return nullptr;
    ++server_.stats.rtmpt_sessions;
    // The connection is in server_.connections while it runs, which is how shutdown ends it; its
    // end comes back here, on the session's strand.
    asio::co_spawn(
        s->strand(),
        rtmp::run_connection(std::make_unique<tunnel_stream>(s, std::move(client), transport),
                             server_),
        asio::bind_executor(s->strand(), [this, s](const std::exception_ptr&) { rtmp_ended(*s); }));
    return s;
}

void registry::rtmp_ended(rtmpt_session& s) {
    s.close("rtmp side ended");
    // Last words for the client (an _error for a failed connect) wait for its next poll; its
    // expiry timer forgets the session after that.
    if (!s.has_output()) remove(s.id());
    --server_.stats.rtmpt_sessions;
}

void registry::close(rtmpt_session& s, const char* reason) {
    s.close(reason);
    remove(s.id());
}

std::shared_ptr<rtmpt_session> registry::find(std::string_view id) const {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.session;
}

void registry::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

std::size_t registry::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

}  // namespace rtmpgate::gateway::tunnel
