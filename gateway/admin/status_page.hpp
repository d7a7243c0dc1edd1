// The admin's GET /: an HTML page that shows /streams (admin/streams_json.hpp) as a table,
// fetches it again every 2 s, and links each stream's player page on the http listener (the
// https one when there is no http), /play/<app>/<name>, on the host the page was reached by
// when the listener is on a wildcard address. Self-contained: no script or style from elsewhere,
// and everything from /streams is written as text, never as markup.
#pragma once

#include <string_view>

namespace rtmpgate::gateway::admin {

extern const std::string_view status_page_html;

}  // namespace rtmpgate::gateway::admin
