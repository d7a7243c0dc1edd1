#include "gateway/front/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "gateway/net/cidr.hpp"
#include "gateway/net/deadline.hpp"
#include "gateway/net/log.hpp"
#include "protocol/proxy_protocol.hpp"

namespace rtmpgate::gateway::front {

namespace {

using protocol::proxy_detection;

// The client a finished header declares, or the socket's peer for LOCAL / UNKNOWN.
client_address declared_client(const protocol::proxy_header& h, const client_address& peer) {
    const auto& s = h.source;
    if (h.command == protocol::proxy_command::local || h.family == protocol::proxy_family::none)
        return peer;
    asio::ip::address address;
    if (h.family == protocol::proxy_family::tcp4) {
        asio::ip::address_v4::bytes_type b{};
        std::copy_n(s.octets.begin(), b.size(), b.begin());
        address = asio::ip::address_v4(b);
    } else {
        address = unmapped(asio::ip::address_v6(s.octets));
    }
    return client_address(tcp::endpoint(address, s.port), peer.endpoint());
}

// Takes exactly `n` octets that a peek has shown to be there off `socket` into `out`.
error_code consume(tcp::socket& socket, std::size_t n, std::vector<std::uint8_t>& out) {
    const auto start = out.size();
    out.resize(start + n);
    std::size_t done = 0;
    error_code ec;
    while (done < n && !ec)
        done += socket.receive(asio::buffer(out.data() + start + done, n - done), 0, ec);
    return ec;
}

// Closes with one line and one count.
void refuse(server_context& context, const client_address& peer, refusal why,
            std::string_view what) {
    context.stats.refusals.add(why);
    ++context.stats.connections_failed;
    log::info("proxy ", peer, ": refused: ", what);
}

}  // namespace

asio::awaitable<std::optional<proxied_client>> read_proxy_header(tcp::socket& socket,
                                                                 const client_address& peer,
                                                                 bool tls_follows,
                                                                 server_context& context) {
    const bool trusted = contains_any(context.cfg.trusted_proxies, peer.address());
    const auto due =
        asio::steady_timer::clock_type::now() + context.cfg.proxy_protocol.header_timeout;
    protocol::proxy_header_parser parser;
    std::vector<std::uint8_t> consumed;  // octets taken off the socket so far
    // Peeked octets land here: at most what one v1 line may take, or a piece of a v2 block.
    std::array<std::uint8_t, 512> window{};
    error_code ec;
    socket.non_blocking(true, ec);  // a peek or a consume never waits: the wait below does
    if (ec) co_return std::nullopt;

    for (;;) {
        auto [wait_ec] =
            co_await with_deadline(socket.async_wait(tcp::socket::wait_read, use_nothrow), due,
                                   deadline_error::proxy_header);
        if (wait_ec) {
            // A silent client from anywhere (a browser's preconnect) is no event worth a line.
            if (context.stats.count_timeout(wait_ec))
                log::at(trusted ? log::level::info : log::level::debug, "proxy ", peer,
                        ": closed: ", wait_ec.message());
            co_return std::nullopt;
        }
        const auto n = socket.receive(asio::buffer(window), tcp::socket::message_peek, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) co_return std::nullopt;  // closed (eof) or reset before deciding: nothing to serve
        const std::span<const std::uint8_t> peeked(window.data(), n);

        if (!trusted) {
            // Whether it begins like a header: a header is refused, anything else is served.
            std::vector<std::uint8_t> start(consumed);
            start.insert(start.end(), peeked.begin(), peeked.end());
            const auto detected = protocol::detect_proxy_header(start);
            if (detected == proxy_detection::v1 || detected == proxy_detection::v2) {
                refuse(context, peer, refusal::proxy_header_untrusted,
                       "a PROXY header from an address not in trusted_proxies");
                co_return std::nullopt;
            }
            if (detected == proxy_detection::absent) {
                if (!consumed.empty() && tls_follows) {
                    ++context.stats.connections_failed;
                    log::info("proxy ", peer, ": refused: not TLS");
                    co_return std::nullopt;
                }
                break;
            }
            // A prefix of a signature: taken off the socket, so the next wait waits for more.
            ec = consume(socket, n, consumed);
            if (ec) co_return std::nullopt;
            continue;
        }

        error_code pec;
        const auto used = parser.feed(peeked, pec);
        if (pec == protocol::error::proxy_no_signature) {
            refuse(context, peer, refusal::proxy_header_missing,
                   "no PROXY header from a trusted proxy");
            co_return std::nullopt;
        }
        // need_more takes every octet it is given (the parser stops only at the header's end): a
        // parser that did not would have this loop peek the same octets until the deadline.
        if (pec == protocol::error::need_more && used != n)
            pec = protocol::error::proxy_v1_malformed;
        if (pec && pec != protocol::error::need_more) {
            refuse(context, peer, refusal::proxy_header_invalid, pec.message());
            co_return std::nullopt;
        }
        ec = consume(socket, used, consumed);
        if (ec) co_return std::nullopt;
        if (parser.done()) {
            ++context.stats.proxy_headers;
            auto client = declared_client(parser.header(), peer);
            log::debug("proxy ", peer, ": v", int(parser.header().version), " header: client ",
                       client.to_string());
            socket.non_blocking(false, ec);
            co_return proxied_client{std::move(client), {}};
        }
        // need_more has taken every octet peeked: the next wait waits for new ones.
    }
    socket.non_blocking(false, ec);
    co_return proxied_client{peer, std::move(consumed)};
}

}  // namespace rtmpgate::gateway::front
