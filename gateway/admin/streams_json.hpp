// The admin's GET /streams: every engine stream as JSON, for tools and for the status page
// (admin/status_page.hpp) that polls it.
//
//   {"listeners": {"http": {"host": "0.0.0.0", "port": 80} | null, "https": ... | null},
//    "player_page": true,   (false when player.enabled is false: the page links no player)
//    "streams": [{"key": "live/a", "app": "live", "name": "a",
//                 "route": {"index": 0, "app": "*", "to": "engine"} | null,
//                 "published": true,
//                 "publisher": {"transport": "rtmp", "address": "192.0.2.7:50312"} | null,
//                 "since": "2026-12-03T01:02:03Z" | null, "uptime_seconds": 12.5,
//                 "codecs": {"video": "H.264" | null, "audio": "AAC" | null},
//                 "bytes_in": 123456, "bytes_out": 234567,
//                 "bitrate_in": 1200000.0, "bitrate_out": 2400000.0,
//                 "players": {"rtmp": 1, "ws-flv": 2}, "viewers": 3, "pushes": 0}, ...]}
//
// Sorted by key. A stream's key is "<app>/<name>", parted at its first '/' as the drop path
// parts it. Listener ports are the bound ones (a configured port may be 0). Bitrates are bits
// per second over the interval between this request and the previous one at least a second
// before it (engine::stream::info); bytes_out counts what is handed to every subscriber,
// pushes included. "players" counts the viewers (playing, or waiting when not published) by
// transport, "viewers" sums them; pushes are counted apart. Text from clients is made valid
// UTF-8.
#pragma once

#include <string>

#include "gateway/rtmp/server_context.hpp"

namespace rtmpgate::gateway::admin {

std::string render_streams_json(const server_context& context);

}  // namespace rtmpgate::gateway::admin
