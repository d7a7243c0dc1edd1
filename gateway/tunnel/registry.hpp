// Every open RTMPT session by id. Ids come from a CSPRNG (OpenSSL RAND_bytes), 24 characters of
// [A-Za-z0-9], prefixed "<node>-" when a node id is configured so that a load balancer can send a
// session's requests back to this instance.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/tunnel/rtmpt_session.hpp"

namespace rtmpgate::gateway::tunnel {

class registry {
public:
    registry(session_limits limits, std::size_t max_sessions, std::string node_id);

    // A new session on `strand`; nullptr when max_sessions are open (/open answers 503). The
    // registry forgets the session when it expires (rtmpt_session::start_expiry) or is removed,
    // whichever comes first; it must outlive the run of the sessions' io_context.
    std::shared_ptr<rtmpt_session> create(asio::any_io_executor strand);
    std::shared_ptr<rtmpt_session> find(std::string_view id) const;
    void remove(const std::string& id);
    std::size_t size() const;

    std::string make_id() const;

private:
    const session_limits limits_;
    const std::size_t max_sessions_;
    const std::string node_id_;
    mutable std::mutex mutex_;
    // Lets find() look up a string_view without building a std::string.
    struct id_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view id) const noexcept {
            return std::hash<std::string_view>{}(id);
        }
    };
    std::unordered_map<std::string, std::shared_ptr<rtmpt_session>, id_hash, std::equal_to<>>
        sessions_;
};

}  // namespace rtmpgate::gateway::tunnel
