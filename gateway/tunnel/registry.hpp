// Every open RTMPT session by id, and each session's life: open() makes it and starts the RTMP
// connection that serves it; the session closes when that connection ends, when its client sends
// /close, or when it expires. It is forgotten, always through remove(), at the client's /close,
// or once it is closed and its client has taken its last output (or has not come for it in
// time). The http front only looks sessions up and hands them requests. Ids come from a CSPRNG
// (OpenSSL RAND_bytes), 24 characters of [A-Za-z0-9], prefixed "<node>-" when a node id is
// configured so that a load balancer can send a session's requests back to this instance.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gateway/net/client_address.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/tunnel/rtmpt_session.hpp"

namespace rtmpgate::gateway::tunnel {

class registry {
public:
    // `server`: where the sessions' RTMP connections register and the rtmpt_sessions gauge.
    registry(server_context& server, session_limits limits, std::size_t max_sessions,
             std::string node_id);

    // A new session on `strand`, with its RTMP connection started there (rtmp::run_connection,
    // `client`, the session's client address for good, and `transport`), counted in rtmpt_sessions
    // until that connection ends; nullptr when max_sessions are open (/open answers 503).
    // `place`: the client address's place of rtmpt.max_sessions_per_address, held until the
    // session is forgotten.
    std::shared_ptr<rtmpt_session> open(asio::any_io_executor strand, client_address client,
                                        const char* transport, address_limits::place place = {});
    std::shared_ptr<rtmpt_session> find(std::string_view id) const;
    // The client's /close: closes `s` (its RTMP connection reads the end of its input) and
    // forgets it at once. On the session's strand.
    void close(rtmpt_session& s, const char* reason);
    std::size_t size() const;

    std::string make_id() const;

private:
    // A new session on `strand`, forgotten when it expires (rtmpt_session::start_expiry) or is
    // removed, whichever comes first; the registry must outlive the run of the io_context.
    std::shared_ptr<rtmpt_session> create(asio::any_io_executor strand,
                                          address_limits::place place);
    // The session's RTMP connection has ended (on the session's strand).
    void rtmp_ended(rtmpt_session& s);
    // Forgets a session: the one way out of the registry.
    void remove(const std::string& id);

    server_context& server_;
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
    struct entry {
        std::shared_ptr<rtmpt_session> session;
        address_limits::place place;  // given back as the entry is erased
    };
    std::unordered_map<std::string, entry, id_hash, std::equal_to<>> sessions_;
};

}  // namespace rtmpgate::gateway::tunnel
