#include "gateway/web/player_files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

namespace rtmpgate::gateway::web {

namespace {

// The file's octets, or nullopt with `error` set.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    std::string text;
    char buffer[64 * 1024];
    for (;;) {
        const auto n = std::fread(buffer, 1, sizeof buffer, file.get());
        text.append(buffer, n);
        if (text.size() > max_player_file_bytes) {
            error = "larger than 8MiB";
            return std::nullopt;
        }
        if (n < sizeof buffer) break;
    }
    if (std::ferror(file.get())) {  // a directory opens, then fails to read
        error = std::strerror(errno);
        return std::nullopt;
    }
    return text;
}

}  // namespace

player_files load_player_files(const config::player_t& player, std::string& why_off) {
    player_files files;
    if (player.enabled == false) {
        why_off = "player.enabled is false";
        return files;
    }
    const std::string page_path = player.dir + "/player.html";
    const std::string script_path = player.dir + "/node_modules/mpegts.js/dist/mpegts.js";
    std::string error;
    auto page = read_file(page_path, error);
    std::optional<std::string> script;
    const std::string* failed = &page_path;
    if (page) {
        script = read_file(script_path, error);
        failed = &script_path;
    }
    if (!page || !script) {
        if (player.enabled == true)
            throw std::runtime_error("player.dir: cannot read " + *failed + ": " + error +
                                     " (scripts/install-deps installs mpegts.js)");
        why_off = "cannot read " + *failed + ": " + error;
        return files;
    }
    files.enabled = true;
    files.page = std::move(*page);
    files.mpegts_js = std::move(*script);
    return files;
}

}  // namespace rtmpgate::gateway::web
