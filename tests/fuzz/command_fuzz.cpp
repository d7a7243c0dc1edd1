// Commands and data messages: the first byte picks the message type (20, 17, 18 or 15), the rest
// is the payload. Every typed parser runs on what parse_command accepts; a command rebuilt with
// make_command parses back the same; a stripped @setDataFrame parses as the values it carried.
#include <array>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocol/command.hpp"
#include "tests/fuzz/amf_same.hpp"

using namespace rtmpgate::protocol;

namespace {

constexpr std::array<message_type, 4> types = {message_type::command_amf0,
                                               message_type::command_amf3, message_type::data_amf0,
                                               message_type::data_amf3};

void check(bool condition) {
    if (!condition) std::abort();
}

void fuzz_command(const message& m) {
    auto c = parse_command(m);
    if (!c) return;
    (void)parse_connect(*c);
    (void)parse_create_stream(*c);
    (void)parse_publish(*c);
    (void)parse_play(*c);
    (void)parse_play2(*c);
    (void)parse_delete_stream(*c);
    (void)parse_close_stream(*c);
    (void)parse_stream_name_command(*c);
    (void)parse_pause(*c);
    (void)parse_receive_media(*c);
    (void)parse_get_stream_length(*c);

    auto again = parse_command(
        make_command(3, 0, c->name, c->transaction_id, c->command_object, c->arguments));
    check(again.has_value());
    check(again->name == c->name);
    check(again->transaction_id == c->transaction_id ||
          (again->transaction_id != again->transaction_id &&
           c->transaction_id != c->transaction_id));  // NaN
    check(fuzz::same(again->command_object, c->command_object));
    check(again->arguments.size() == c->arguments.size());
    for (std::size_t i = 0; i < c->arguments.size(); ++i)
        check(fuzz::same(again->arguments[i], c->arguments[i]));
}

void fuzz_data(const message& m) {
    auto d = parse_data(m);
    auto stripped = strip_set_data_frame(m);
    if (!d) return;
    // parse_data accepted a body starting with a string; strip fails only on an AVM+ name.
    if (!stripped) return;
    if (d->name != "@setDataFrame") {
        check(stripped->data() == m.payload.data());
        return;
    }
    message inner = m;
    inner.payload = *stripped;
    auto after = parse_data(inner);
    if (d->values.empty() || !d->values.front().is(amf_kind::string)) {
        check(!after);
        return;
    }
    check(after.has_value());
    check(after->name == d->values.front().string);
    check(after->values.size() + 1 == d->values.size());
    for (std::size_t i = 0; i < after->values.size(); ++i)
        check(fuzz::same(after->values[i], d->values[i + 1]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    message m;
    m.message_type_id = static_cast<std::uint8_t>(types[data[0] % types.size()]);
    m.payload = shared_bytes(std::vector<std::uint8_t>(data + 1, data + size));
    if (m.type() == message_type::command_amf0 || m.type() == message_type::command_amf3)
        fuzz_command(m);
    else
        fuzz_data(m);
    return 0;
}
