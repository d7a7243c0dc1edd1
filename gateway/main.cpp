// rtmpgate: arguments, configuration, run. Nothing else.
#include <openssl/opensslv.h>

#include <cstring>
#include <iostream>
#include <string>

#include "gateway/app/server.hpp"
#include "gateway/backend/client_tls.hpp"
#include "gateway/config/config.hpp"
#include "gateway/net/log.hpp"
#include "gateway/net/tls_context.hpp"

namespace {

constexpr const char* usage =
    "usage: rtmpgate --config FILE        run the gateway\n"
    "       rtmpgate --check-config FILE  validate FILE and exit (0 when valid)\n"
    "       rtmpgate --version\n"
    "       rtmpgate --help\n"
    "\n"
    "RTMP, RTMPT (RTMP over HTTP), RTMPS and RTMPT over HTTPS into an in-process live\n"
    "server or a backend RTMP server, chosen per application. See config/rtmpgate.yaml.\n";

int fail(const std::string& message) {
    std::cerr << "rtmpgate: " << message << "\n";
    return 2;
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
