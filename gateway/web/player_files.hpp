// The player page's files (config `player:`), read once at start-up and served from memory:
// GET /play/<app>/<stream> is player.html as it is (the page reads app and stream from its own
// location), GET /play/mpegts.js is mpegts.js's browser build.
#pragma once

#include <cstddef>
#include <string>

#include "gateway/config/config.hpp"

namespace rtmpgate::gateway::web {

struct player_files {
    bool enabled = false;
    std::string page;       // player.html
    std::string mpegts_js;  // node_modules/mpegts.js/dist/mpegts.js
};

// The largest file read: mpegts.js's build is about 1 MiB.
inline constexpr std::size_t max_player_file_bytes = 8 << 20;

// Reads the files of `player`. When `player.enabled` is true, a file that cannot be read (or is
// larger than max_player_file_bytes) throws std::runtime_error naming player.dir and the file;
// when it is absent, the result is disabled and `why_off` says which file was missing.
player_files load_player_files(const config::player_t& player, std::string& why_off);

}  // namespace rtmpgate::gateway::web
