// What the http and https listeners serve to browsers, beside RTMPT (front/http_front.cpp hands
// over every GET, HEAD or OPTIONS request that is no RTMPT command):
//
//   GET /<app>/<stream>.flv           HTTP-FLV: chunked video/x-flv, the stream live
//   the same with a WebSocket upgrade WebSocket-FLV: the same octets in binary messages
//   GET /play/<app>/<stream>          the player page (player_files.hpp)
//   GET /play/mpegts.js               the player's script
//   OPTIONS <any of them>             a CORS preflight (http_flv.allowed_origins)
//
// An FLV response starts with the FLV header, onMetaData, the sequence headers and the stream's
// current GOP from its keyframe (what stream::subscribe gives), then follows the stream live until
// its publisher leaves, the viewer is dropped or falls too far behind, or the gateway stops.
// Unknown streams and other paths are 404, a bad WebSocket upgrade 400, a play the route's access
// settings refuse 403 (the token comes in the URL's query). Beast stays inside web_front.cpp.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/vector_body.hpp>
#include <cstdint>
#include <string_view>

#include "gateway/net/asio.hpp"
#include "gateway/net/client_address.hpp"
#include "gateway/rtmp/server_context.hpp"
#include "gateway/web/player_files.hpp"

namespace rtmpgate::gateway::web {

using request = boost::beast::http::request<boost::beast::http::vector_body<std::uint8_t>>;

struct web_context {
    server_context& server;
    const player_files& player;
};

// True for the methods served here when the target is no RTMPT command.
bool serves_method(std::string_view method) noexcept;

// Serves `req`, read from `stream`. True when the connection may carry another request (a page,
// a refusal); false when it is to close (after an FLV stream, or a failed write).
asio::awaitable<bool> serve(tcp::socket& stream, request& req, const client_address& client,
                            web_context& context);
asio::awaitable<bool> serve(asio::ssl::stream<tcp::socket>& stream, request& req,
                            const client_address& client, web_context& context);

}  // namespace rtmpgate::gateway::web
