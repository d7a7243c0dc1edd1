// What the target of a browser's request names (web_front.hpp lists the paths). No I/O.
#pragma once

#include <string>
#include <string_view>

namespace rtmpgate::gateway::web {

struct web_target {
    enum class kind { none, flv, page, script } what = kind::none;
    // flv and page: the path's segments, percent-decoded.
    std::string app;
    std::string stream;
    std::string_view query;  // after the '?', as sent (a view into the target)
};

// "/<app>/<stream>.flv" -> flv; "/play/mpegts.js" -> script; "/play/<app>/<stream>" -> page;
// anything else (an absolute-form or empty target, more or fewer segments, an empty segment, an
// escape that is not %XX, a segment that decodes to '/', NUL or another control character) ->
// none. A stream named "x.flv" is played as /<app>/x.flv.flv.
web_target parse_web_target(std::string_view target);

}  // namespace rtmpgate::gateway::web
