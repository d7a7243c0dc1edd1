// rtmpgate: arguments, configuration, run. Nothing else.
#include <openssl/opensslv.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/access/gate.hpp"
#include "gateway/access/token.hpp"
#include "gateway/app/server.hpp"
#include "gateway/backend/client_tls.hpp"
#include "gateway/config/config.hpp"
#include "gateway/config/config_scalars.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/tls_context.hpp"

namespace {

constexpr const char* usage =
    "usage: rtmpgate --config FILE        run the gateway\n"
    "       rtmpgate --check-config FILE  validate FILE and exit (0 when valid)\n"
    "       rtmpgate sign --secret-file FILE --app APP --stream NAME --expires WHEN\n"
    "                     [--client IP] [--url rtmp://HOST:PORT]\n"
    "                                     print a URL with a signed token (access.*.token);\n"
    "                                     WHEN: a duration from now (30s, 10m, 1h, 7d) or\n"
    "                                     @UNIXTIME; --url default rtmp://127.0.0.1:1935\n"
    "       rtmpgate --version\n"
    "       rtmpgate --help\n"
    "\n"
    "RTMP, RTMPT (RTMP over HTTP), RTMPS and RTMPT over HTTPS into an in-process live\n"
    "server or a backend RTMP server, chosen per application. See config/rtmpgate.yaml.\n";

int fail(const std::string& message) {
    std::cerr << "rtmpgate: " << message << "\n";
    return 2;
}

// `text` as the expiry time of a token: "@1700000000" as it is, a duration ("45s", "10m", "1h",
// "7d") from `now`.
std::optional<std::int64_t> parse_expires(std::string_view text, std::int64_t now) {
    using namespace rtmpgate::gateway;
    if (text.starts_with("@")) {
        const auto value = parse_unsigned(text.substr(1));
        if (!value || *value > 253402300799) return std::nullopt;  // up to 9999-12-31
        return static_cast<std::int64_t>(*value);
    }
    std::uint64_t seconds = 0;
    if (text.ends_with("d") && !text.ends_with("ms")) {
        const auto days = parse_unsigned(text.substr(0, text.size() - 1));
        if (!days || *days > 36500) return std::nullopt;
        seconds = *days * 86400;
    } else {
        const auto duration = parse_duration(text);
        if (!duration || duration->count() > 36500LL * 86400 * 1000) return std::nullopt;
        seconds = static_cast<std::uint64_t>((duration->count() + 999) / 1000);  // rounded up
    }
    if (seconds == 0) return std::nullopt;
    return now + static_cast<std::int64_t>(seconds);
}

// Names that go into a URL's path as they are: no query, no space or control character.
bool url_name(std::string_view text, bool slash_allowed) {
    if (text.empty()) return false;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7F || c == '?' || c == '#' || (c == '/' && !slash_allowed))
            return false;
    }
    return true;
}

// rtmpgate sign: `argv` holds the `argc` words after "sign".
int sign_command(int argc, char** argv) {
    using namespace rtmpgate::gateway;
    std::string secret_file, app, stream, expires_text, client_text, url = "rtmp://127.0.0.1:1935";
    for (int i = 0; i < argc; i += 2) {
        const std::string_view option = argv[i];
        if (i + 1 >= argc) return fail("sign: " + std::string(option) + " needs a value");
        std::string* slot = option == "--secret-file" ? &secret_file
                            : option == "--app"       ? &app
                            : option == "--stream"    ? &stream
                            : option == "--expires"   ? &expires_text
                            : option == "--client"    ? &client_text
                            : option == "--url"       ? &url
                                                      : nullptr;
        if (!slot) return fail("sign: unknown option " + std::string(option) + "\n" + usage);
        *slot = argv[i + 1];
    }
    if (secret_file.empty() || app.empty() || stream.empty() || expires_text.empty())
        return fail(std::string("sign: needs --secret-file, --app, --stream and --expires\n") +
                    usage);
    if (!url_name(app, false)) return fail("sign: --app: no '/', '?', '#', space or control");
    if (!url_name(stream, true)) return fail("sign: --stream: no '?', '#', space or control");
    const bool rtmp_url = url.starts_with("rtmp://") || url.starts_with("rtmps://") ||
                          url.starts_with("rtmpt://") || url.starts_with("rtmpts://");
    if (!rtmp_url || url.find_first_of("?# ") != std::string::npos)
        return fail("sign: --url: expected rtmp://, rtmps://, rtmpt:// or rtmpts://HOST[:PORT]");
    while (url.ends_with("/")) url.pop_back();

    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto expires = parse_expires(expires_text, now);
    if (!expires) {
        return fail(
            "sign: --expires: expected a duration such as 30s, 10m, 1h or 7d, or "
            "@UNIXTIME (got \"" +
            expires_text + "\")");
    }
    std::optional<asio::ip::address> client;
    if (!client_text.empty()) {
        boost::system::error_code ec;
        client = asio::ip::make_address(client_text, ec);
        if (ec) return fail("sign: --client: not an IP address: " + client_text);
    }
    const auto secrets = access::read_secret_files({secret_file}, "--secret-file");
    std::cout << url << "/" << app << "/" << stream << "?"
              << access::sign(secrets.front(), app, stream, *expires, client) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rtmpgate::gateway;
    if (argc == 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
        std::cout << usage;
        return 0;
    }
    if (argc == 2 && !std::strcmp(argv[1], "--version")) {
        std::cout << "rtmpgate " << RTMPGATE_VERSION << " (" << OPENSSL_VERSION_TEXT << ")\n";
        return 0;
    }
    if (argc >= 2 && !std::strcmp(argv[1], "sign")) {
        try {
            return sign_command(argc - 2, argv + 2);
        } catch (const std::exception& e) {
            return fail(std::string("sign: ") + e.what());
        }
    }
    const bool check = argc == 3 && !std::strcmp(argv[1], "--check-config");
    if (!check && !(argc == 3 && !std::strcmp(argv[1], "--config"))) {
        std::cerr << usage;
        return 2;
    }
    try {
        config c = load_config(argv[2]);
        if (check) {
            // Reads every certificate and key and checks they match, as start-up would.
            if (!c.tls.certificate.empty()) tls_context validated(c.tls);
            backend::client_tls_contexts().prepare(c.routes);
            // Reads every secret file, as the access gate does at start-up, so that a missing
            // or short secret fails here and not on the first publish.
            access::read_secret_files(c.access.secret_files, "access.secret_files");
            for (std::size_t i = 0; i < c.routes.size(); ++i) {
                access::read_secret_files(c.routes[i].access.secret_files,
                                          "routes[" + std::to_string(i) + "].access.secret_files");
            }
            // Checks every hook URL, as start-up does.
            boost::asio::io_context io;
            access::gate checked(c, io.get_executor());
            std::cout << argv[2] << ": ok\n";
            return 0;
        }
        log::level level = log::level::info;
        log::parse_level(c.log_level, level);
        log::set_level(level);
        server s(std::move(c));
        s.bind();
        s.run();
        return 0;
    } catch (const config_error& e) {
        return fail(e.what());
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
