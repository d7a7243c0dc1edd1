// The HTTP(S) client of the access hooks (access/policy.hpp: hooks.*): POSTs a JSON body to a
// hook URL and gives back the status and body of the answer, or why there is none. Built on
// Beast's HTTP client and the gateway's TLS client setup; no HTTP parsing of its own.
//
// Bounded everywhere: each request has a deadline (hooks.timeout, from the call to the whole
// answer: resolving, connecting, TLS, writing, reading); at most hooks.max_concurrent requests
// are in flight per URL (more fail at once as `busy`, so that a hook server that hangs cannot
// hold more than that many clients); an answer's body is at most 64 KiB. Connections are kept
// alive after an answer that allows it, at most hooks.max_idle_connections per URL, and reused
// by the next request to the same URL (a reused connection that turns out closed is replaced
// once, within the same deadline).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/access/policy.hpp"
#include "gateway/net/asio.hpp"

namespace rtmpgate::gateway::access {

// "http://host[:port]/path?query" or "https://..."; the host a name or an address ([v6]).
struct hook_url {
    bool tls = false;
    std::string host;         // brackets removed
    std::uint16_t port = 80;  // 80 for http, 443 for https unless given
    std::string target;       // "/path?query"; "/" when the URL has no path

    // nullopt unless `text` is such a URL (no user info, no fragment, a port in 1..65535).
    static std::optional<hook_url> parse(std::string_view text);
    std::string to_string() const;
};

struct hook_answer {
    enum class outcome : std::uint8_t {
        answered,     // status and body hold the answer
        timeout,      // no whole answer within the timeout
        unreachable,  // could not resolve, connect or complete TLS; or the connection broke
        busy,         // max_concurrent requests to this URL were already in flight
        bad_answer,   // not HTTP, or a body over 64 KiB
    } result = outcome::unreachable;
    unsigned status = 0;
    std::string body;
    std::string error;  // when not answered: why, for the log ("connect: Connection refused")
    std::chrono::microseconds took{0};
};

class hook_client {
public:
    // `settings`: timeout, max_concurrent, max_idle_connections, verify, ca_file. Throws
    // std::runtime_error when ca_file cannot be read.
    hook_client(asio::any_io_executor executor, const hook_settings& settings);
    ~hook_client();
    hook_client(const hook_client&) = delete;
    hook_client& operator=(const hook_client&) = delete;

    // POSTs `json` (Content-Type: application/json) to `url`. May be called from any thread or
    // strand at once; completes on the caller's executor. Never throws for I/O.
    asio::awaitable<hook_answer> post(const hook_url& url, std::string json);

    // Closes the idle connections and fails requests in flight (shutdown).
    void close();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace rtmpgate::gateway::access
