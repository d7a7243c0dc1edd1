#include "gateway/backend/command_guard.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocol/chunk_encoder.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::backend {
namespace {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;

using bytes = std::vector<std::uint8_t>;

message media(std::uint32_t chunk_stream_id, message_type type, std::uint32_t timestamp,
              std::size_t size) {
    message m;
    m.chunk_stream_id = chunk_stream_id;
    m.message_type_id = static_cast<std::uint8_t>(type);
    m.message_stream_id = 1;
    m.timestamp = timestamp;
    m.payload = protocol::shared_bytes(bytes(size, 0x5A));
    return m;
}

message connect() {
    auto object = amf_value::make_object();
    object.set("app", amf_value::make_string("live"));
    object.set("tcUrl", amf_value::make_string("rtmp://127.0.0.1/live"));
    return protocol::make_command(3, 0, "connect", 1, object);
}

message create_stream() {
    return protocol::make_command(3, 0, "createStream", 2, amf_value::make_null());
}

message publish(std::string name, std::uint32_t chunk_stream_id = 8, double transaction = 5,
                std::string command = "publish") {
    const amf_value args[] = {amf_value::make_string(name), amf_value::make_string("live")};
    return protocol::make_command(chunk_stream_id, 1, command, transaction, amf_value::make_null(),
                                  args);
}

message play(std::string name, std::uint32_t message_stream_id = 1) {
    const amf_value args[] = {amf_value::make_string(name), amf_value::make_number(-2000)};
    return protocol::make_command(8, message_stream_id, "play", 4, amf_value::make_null(), args);
}

// The same command as AMF3 (type 17): a format octet, then the AMF0 body.
message as_amf3(message m) {
    bytes payload{0x00};
    const auto body = m.payload.span();
    payload.insert(payload.end(), body.begin(), body.end());
    m.payload = protocol::shared_bytes(payload);
    m.message_type_id = static_cast<std::uint8_t>(message_type::command_amf3);
    return m;
}

// A shared object message (type 19) named as `m`: the name without its AMF0 string marker.
message shared_object(message m) {
    const auto body = m.payload.span();
    bytes payload(body.begin() + 1, body.end());
    m.payload = protocol::shared_bytes(payload);
    m.message_type_id = static_cast<std::uint8_t>(message_type::shared_object_amf0);
    return m;
}

message retyped(message m, message_type type) {
    m.message_type_id = static_cast<std::uint8_t>(type);
    return m;
}

// A client's chunk stream as protocol::chunk_encoder writes it, and where each message starts.
struct wire {
    protocol::chunk_encoder encoder;
    bytes data;
    std::vector<std::size_t> starts;

    wire& add(const message& m) {
        starts.push_back(data.size());
        encoder.encode(m, data);
        return *this;
    }
    wire& raw(const bytes& b) {
        starts.push_back(data.size());
        data.insert(data.end(), b.begin(), b.end());
        return *this;
    }
};

// What the link does with the guard: feeds it, forwards what it may, lets every held request
// through. Returns what reached the backend, and records every request held and where.
struct run_result {
    bytes forwarded;
    std::vector<held_request> held;
    std::vector<std::uint64_t> held_at;  // forwardable() when each was held
    bool failed = false;
    std::string failure;
};

run_result run(command_guard& g, const bytes& data, std::size_t read_size) {
    run_result r;
    for (std::size_t pos = 0; pos < data.size();) {
        const auto n = std::min(read_size, data.size() - pos);
        // The link feeds what the guard left of a read again after a decision.
        for (std::size_t at = 0; at < n;) {
            at += g.feed({data.data() + pos + at, n - at});
            if (g.failed()) {
                r.failed = true;
                r.failure = g.failure();
                return r;
            }
            if (!g.held()) break;
            r.held.push_back(*g.held());
            r.held_at.push_back(g.forwardable());
            g.allow();
        }
        pos += n;
    }
    r.forwarded.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(g.forwardable()));
    return r;
}

TEST(command_guard, holds_publish_at_its_first_chunk_and_releases_it_unchanged) {
    wire w;
    w.add(connect())
        .add(create_stream())
        .add(publish("key?sig=abc"))
        .add(media(6, message_type::audio, 0, 300))
        .add(media(7, message_type::video, 0, 5000));
    command_guard g;
    const auto used = g.feed(w.data);
    ASSERT_FALSE(g.failed()) << g.failure();
    ASSERT_TRUE(g.held());
    EXPECT_EQ(used, w.starts[3]);             // stopped right after the publish
    EXPECT_EQ(g.forwardable(), w.starts[2]);  // everything before it may go
    EXPECT_EQ(g.held()->what, access::action::publish);
    EXPECT_EQ(g.held()->stream, "key?sig=abc");
    EXPECT_EQ(g.held()->message_stream_id, 1u);
    EXPECT_EQ(g.held()->transaction_id, 5);
    EXPECT_EQ(g.held()->chunk_stream_id, 8u);
    EXPECT_EQ(g.feed({w.data.data() + used, w.data.size() - used}), 0u);  // nothing while held
    g.allow();
    EXPECT_EQ(g.forwardable(), used);
    EXPECT_EQ(g.feed({w.data.data() + used, w.data.size() - used}), w.data.size() - used);
    EXPECT_EQ(g.forwardable(), w.data.size());
    EXPECT_FALSE(g.held());
}

TEST(command_guard, the_result_does_not_depend_on_how_reads_cut_the_stream) {
    wire w;
    w.add(connect())
        .add(protocol::make_set_chunk_size(4096))
        .add(create_stream())
        .add(media(6, message_type::audio, 0x1000000, 9000))  // extended timestamps
        .add(publish(std::string(300, 'k')))
        .add(media(7, message_type::video, 40, 20000))
        .add(play("second"));
    for (const std::size_t read : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{128},
                                   std::size_t{4097}, w.data.size()}) {
        command_guard g;
        const auto r = run(g, w.data, read);
        ASSERT_FALSE(r.failed) << read << ": " << r.failure;
        ASSERT_EQ(r.held.size(), 2u) << read;
        EXPECT_EQ(r.held[0].stream, std::string(300, 'k'));
        EXPECT_EQ(r.held_at[0], w.starts[4]) << read;
        EXPECT_EQ(r.held[1].what, access::action::play);
        EXPECT_EQ(r.held[1].stream, "second");
        EXPECT_EQ(r.held_at[1], w.starts[6]) << read;
        EXPECT_EQ(r.forwarded, w.data) << read;  // every octet, unchanged
    }
}

TEST(command_guard, publish_in_chunks_interleaved_with_audio) {
    // At chunk size 128 a 400-octet publish takes four chunks: a 12-octet format 0 header, then
    // 1-octet format 3 headers. Audio on chunk stream 6 goes between them.
    protocol::chunk_encoder encoder;
    bytes head, pub, audio;
    encoder.encode(connect(), head);
    const auto command = publish(std::string(380, 'p'));
    ASSERT_GT(command.payload.size(), 3u * 128);
    encoder.encode(command, pub);
    bytes data = head;
    const std::size_t publish_at = data.size();
    std::vector<std::size_t> audio_ends;
    std::size_t at = 0;
    for (std::size_t chunk = 0; at < pub.size(); ++chunk) {
        const auto n = std::min<std::size_t>((chunk == 0 ? 12 : 1) + 128, pub.size() - at);
        data.insert(data.end(), pub.begin() + static_cast<std::ptrdiff_t>(at),
                    pub.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        if (at < pub.size()) {
            bytes a;
            encoder.encode(media(6, message_type::audio, static_cast<std::uint32_t>(chunk), 100),
                           a);
            data.insert(data.end(), a.begin(), a.end());
        }
    }
    command_guard g;
    // Until the publish is complete nothing from its first chunk on may go.
    const auto before_end = data.size() - 10;
    EXPECT_EQ(g.feed({data.data(), before_end}), before_end);
    EXPECT_FALSE(g.held());
    EXPECT_EQ(g.forwardable(), publish_at);
    EXPECT_EQ(g.feed({data.data() + before_end, 10}), 10u);
    ASSERT_TRUE(g.held()) << g.failure();
    EXPECT_EQ(g.held()->stream, std::string(380, 'p'));
    EXPECT_EQ(g.forwardable(), publish_at);
    g.allow();
    EXPECT_EQ(g.forwardable(), data.size());
}

TEST(command_guard, follows_a_chunk_size_change_in_between) {
    // After Set Chunk Size 4096 the 600-octet publish is one chunk; read at 128 it would not be.
    wire w;
    w.add(connect())
        .add(protocol::make_set_chunk_size(4096))
        .add(publish(std::string(580, 'n')))
        .add(protocol::make_set_chunk_size(100))
        .add(publish("small", 8, 6));
    command_guard g;
    const auto r = run(g, w.data, 1000);
    ASSERT_FALSE(r.failed) << r.failure;
    ASSERT_EQ(r.held.size(), 2u);
    EXPECT_EQ(r.held[0].stream, std::string(580, 'n'));
    EXPECT_EQ(r.held_at[0], w.starts[2]);
    EXPECT_EQ(r.held[1].stream, "small");
    EXPECT_EQ(r.held[1].transaction_id, 6);
    EXPECT_EQ(r.held_at[1], w.starts[4]);
}

TEST(command_guard, amf3_commands_play2_and_any_case) {
    auto options = amf_value::make_object();
    options.set("streamName", amf_value::make_string("s1?t=2"));
    const amf_value args[] = {options};
    const amf_value play_args[] = {amf_value::make_string("nul")};
    wire w;
    w.add(connect())
        .add(as_amf3(publish("three")))
        .add(protocol::make_command(8, 1, "play2", 7, amf_value::make_null(), args))
        .add(publish("upper", 8, 9, "PUBLISH"))
        .add(protocol::make_command(8, 1, std::string("play\0x", 6), 10, amf_value::make_null(),
                                    play_args));
    command_guard g;
    const auto r = run(g, w.data, 64);
    ASSERT_FALSE(r.failed) << r.failure;
    ASSERT_EQ(r.held.size(), 4u);
    EXPECT_EQ(r.held[0].what, access::action::publish);
    EXPECT_EQ(r.held[0].stream, "three");
    EXPECT_EQ(r.held[1].what, access::action::play);
    EXPECT_EQ(r.held[1].command, "play2");
    EXPECT_EQ(r.held[1].stream, "s1?t=2");
    EXPECT_EQ(r.held[2].what, access::action::publish);  // nginx-rtmp lowercases the name
    EXPECT_EQ(r.held[2].stream, "upper");
    EXPECT_EQ(r.held[3].what, access::action::play);  // and stops it at a NUL
    EXPECT_EQ(r.held[3].stream, "nul");
    EXPECT_EQ(r.held_at[3], w.starts[4]);
}

TEST(command_guard, media_goes_through_as_it_comes) {
    // Media is never held: half of a 1 MiB video message may be forwarded at once, with a
    // withheld bound far below it.
    wire w;
    w.add(connect())
        .add(publish("k"))
        .add(media(7, message_type::video, 0, 1 << 20))
        .add(media(6, message_type::audio, 0, 100));
    command_guard g(1024);
    auto used = g.feed(w.data);
    ASSERT_TRUE(g.held());
    g.allow();
    const auto half = w.starts[2] + (1 << 19);
    used += g.feed({w.data.data() + used, half - used});
    EXPECT_EQ(used, half);
    EXPECT_EQ(g.forwardable(), half);
    g.feed({w.data.data() + half, w.data.size() - half});
    EXPECT_FALSE(g.failed()) << g.failure();
    EXPECT_EQ(g.forwardable(), w.data.size());
}

TEST(command_guard, other_commands_and_data_pass) {
    const amf_value name[] = {amf_value::make_string("k")};
    wire w;
    w.add(connect())
        .add(protocol::make_command(3, 0, "releaseStream", 2, amf_value::make_null(), name))
        .add(protocol::make_command(3, 0, "FCPublish", 3, amf_value::make_null(), name))
        .add(create_stream())
        .add(protocol::make_data(4, 1, "@setDataFrame", name))
        .add(protocol::make_command(3, 0, "deleteStream", 8, amf_value::make_null()));
    command_guard g;
    EXPECT_EQ(g.feed(w.data), w.data.size());
    EXPECT_FALSE(g.failed()) << g.failure();
    EXPECT_FALSE(g.held());
    EXPECT_EQ(g.forwardable(), w.data.size());
}

TEST(command_guard, a_command_cut_by_a_read_is_withheld_until_complete) {
    wire w;
    w.add(connect()).add(create_stream()).add(media(6, message_type::audio, 0, 50));
    command_guard g;
    const auto cut = w.starts[1] + 5;  // inside createStream
    g.feed({w.data.data(), cut});
    EXPECT_EQ(g.forwardable(), w.starts[1]);
    g.feed({w.data.data() + cut, w.data.size() - cut});
    EXPECT_EQ(g.forwardable(), w.data.size());
    // A header cut after its first octet is withheld too: it may start a command.
    command_guard h;
    h.feed({w.data.data(), w.starts[1] + 1});
    EXPECT_EQ(h.forwardable(), w.starts[1]);
}

struct failing_case {
    const char* name;
    bytes data;
};

bytes encoded(std::initializer_list<message> messages) {
    wire w;
    for (const auto& m : messages) w.add(m);
    return w.data;
}

// An aggregate (type 22) of sub-messages with the given types, each with a 3-octet body.
message aggregate(std::initializer_list<std::uint8_t> types) {
    bytes body;
    for (const auto t : types) {
        const std::uint8_t sub[] = {t, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 0xAA, 0xBB, 0xCC, 0, 0, 0, 14};
        body.insert(body.end(), std::begin(sub), std::end(sub));
    }
    message m;
    m.chunk_stream_id = 7;
    m.message_type_id = static_cast<std::uint8_t>(message_type::aggregate);
    m.message_stream_id = 1;
    m.payload = protocol::shared_bytes(body);
    return m;
}

TEST(command_guard, an_aggregate_of_audio_and_video_passes) {
    const auto data = encoded({connect(), aggregate({8, 9, 9, 8})});
    command_guard g;
    EXPECT_EQ(g.feed(data), data.size());
    EXPECT_FALSE(g.failed()) << g.failure();
    EXPECT_EQ(g.forwardable(), data.size());
}

TEST(command_guard, what_a_backend_could_read_otherwise_fails_it) {
    message abort;
    abort.chunk_stream_id = 2;
    abort.message_type_id = static_cast<std::uint8_t>(message_type::abort);
    abort.payload = protocol::shared_bytes(bytes{0, 0, 0, 8});
    // A publish on chunk stream 8 cut after its first chunk (a 12-octet header, 128 octets),
    // then Abort(8).
    auto cut_publish = encoded({connect(), publish(std::string(300, 'a'))});
    cut_publish.resize(encoded({connect()}).size() + 12 + 128);
    bytes aborted = cut_publish;
    {
        protocol::chunk_encoder e;
        e.encode(abort, aborted);
    }
    // A format 1 header on chunk stream 8 while its message is in progress.
    bytes restarted = cut_publish;
    {
        const std::uint8_t format1[] = {0x48, 0, 0, 0, 0, 0, 10, 20};
        restarted.insert(restarted.end(), std::begin(format1), std::end(format1));
    }
    const std::vector<failing_case> cases = {
        {"oversized command", encoded({connect(), publish(std::string(70000, 'x'))})},
        {"publish in data", encoded({connect(), retyped(publish("k"), message_type::data_amf0)})},
        {"play in a shared object", encoded({connect(), shared_object(play("k"))})},
        {"second connect", encoded({connect(), create_stream(), connect()})},
        {"command inside an aggregate", encoded({connect(), aggregate({9, 20})})},
        {"Set Chunk Size inside an aggregate", encoded({connect(), aggregate({1})})},
        {"unknown chunk stream",
         [] {
             auto d = encoded({connect()});
             d.push_back(0xC9);  // format 3 on chunk stream 9
             return d;
         }()},
        {"abort of a command in progress", aborted},
        {"new header mid-message", restarted},
        {"Set Chunk Size 0", encoded({connect(), protocol::make_set_chunk_size(0)})},
    };
    for (const auto& c : cases) {
        command_guard g;
        g.feed(c.data);
        EXPECT_TRUE(g.failed()) << c.name;
        EXPECT_FALSE(g.held()) << c.name;
        // A failed guard takes nothing more.
        EXPECT_EQ(g.feed(c.data), 0u) << c.name;
    }
}

TEST(command_guard, a_command_held_incomplete_past_the_bound_fails_it) {
    // A publish cut after its first chunk, then audio that keeps coming: everything from the
    // publish on is withheld, up to the bound.
    auto data = encoded({connect(), publish(std::string(300, 'a'))});
    data.resize(encoded({connect()}).size() + 12 + 128);
    protocol::chunk_encoder e;
    for (int i = 0; i < 50; ++i)
        e.encode(media(6, message_type::audio, static_cast<std::uint32_t>(i), 100), data);
    command_guard g(2000);
    g.feed(data);
    EXPECT_TRUE(g.failed());
    command_guard roomy(1 << 20);
    roomy.feed(data);
    EXPECT_FALSE(roomy.failed()) << roomy.failure();
}

// Random sessions as protocol::chunk_encoder writes them (chunk streams 3-10, chunk sizes from 1
// to 5000, timestamps past the 24-bit field, media, data, commands), read in random pieces: the
// guard holds exactly the publish and play commands, each at its message's first chunk, and lets
// every octet through once they are allowed.
TEST(command_guard, random_sessions_hold_exactly_their_publish_and_play) {
    std::mt19937 random(14);
    for (int round = 0; round < 300; ++round) {
        wire w;
        w.add(connect());
        std::vector<std::pair<std::size_t, std::string>> expected;  // start, stream
        const int count = 1 + static_cast<int>(random() % 30);
        std::uint32_t timestamp = (random() % 2) ? 0x1000000 - 50 : 0;
        for (int i = 0; i < count; ++i) {
            const auto csid = 3 + static_cast<std::uint32_t>(random() % 8);
            timestamp += static_cast<std::uint32_t>(random() % 40);
            switch (random() % 6) {
                case 0: {
                    const auto name =
                        "s" + std::to_string(random() % 1000) + std::string(random() % 300, 'q');
                    auto m = (random() % 2) ? publish(name, csid) : play(name);
                    m.chunk_stream_id = csid;
                    m.timestamp = timestamp;
                    expected.emplace_back(w.data.size(), name);
                    w.add(m);
                    break;
                }
                case 1:
                    w.add(protocol::make_set_chunk_size(
                        1 + static_cast<std::uint32_t>(random() % 5000)));
                    break;
                case 2: {
                    const amf_value v[] = {
                        amf_value::make_string(std::string(random() % 500, 'd'))};
                    w.add(protocol::make_data(csid, 1, "@setDataFrame", v));
                    break;
                }
                default:
                    w.add(media(csid, (random() % 2) ? message_type::audio : message_type::video,
                                timestamp, random() % 3000));
                    break;
            }
        }
        command_guard g;
        const auto r = run(g, w.data, 1 + random() % 700);
        ASSERT_FALSE(r.failed) << round << ": " << r.failure;
        ASSERT_EQ(r.held.size(), expected.size()) << round;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            EXPECT_EQ(r.held_at[i], expected[i].first) << round << " " << i;
            EXPECT_EQ(r.held[i].stream, expected[i].second) << round << " " << i;
        }
        EXPECT_EQ(r.forwarded, w.data) << round;
    }
}

// Arbitrary octets after a connect, in arbitrary pieces: the guard never forwards past what it
// consumed, never goes back, and fails or goes on without crashing (ASan and UBSan watch).
TEST(command_guard, arbitrary_octets_keep_its_invariants) {
    std::mt19937 random(1935);
    const auto start = encoded({connect()});
    for (int round = 0; round < 3000; ++round) {
        bytes data = start;
        const auto n = random() % 600;
        for (std::size_t i = 0; i < n; ++i) {
            // Mostly small values, so that headers name known chunk streams and short lengths.
            const auto v = random();
            data.push_back(static_cast<std::uint8_t>((v % 4 == 0) ? v >> 8 : (v >> 8) % 24));
        }
        command_guard g(4096);
        std::uint64_t last = 0;
        for (std::size_t pos = 0; pos < data.size() && !g.failed();) {
            const auto piece = std::min<std::size_t>(1 + random() % 64, data.size() - pos);
            const auto used = g.feed({data.data() + pos, piece});
            ASSERT_LE(used, piece);
            ASSERT_LE(g.forwardable(), g.consumed());
            ASSERT_GE(g.forwardable(), last);
            last = g.forwardable();
            if (g.held()) g.allow();
            pos += used;
            if (used == 0 && !g.failed() && !g.held()) break;
        }
    }
}

TEST(command_guard, after_a_rename_the_chunk_stream_must_carry_a_length_again) {
    // ffmpeg writes its first video on the publish's chunk stream with a format 1 header: fine.
    // A format 2 or 3 header there would inherit a length the backend does not know.
    for (const bool same_length : {false, true}) {
        wire w;
        w.add(connect()).add(publish("k"));
        auto next = same_length ? publish("j") : media(8, message_type::video, 40, 700);
        next.timestamp = 40;
        w.add(next);
        command_guard g;
        auto used = g.feed(w.data);
        ASSERT_TRUE(g.held());
        EXPECT_EQ(g.held_at(), w.starts[1]);
        EXPECT_EQ(g.held_end(), w.starts[2]);
        EXPECT_TRUE(g.held()->contiguous);
        g.allow_renamed();
        g.feed({w.data.data() + used, w.data.size() - used});
        // The same length and type: chunk_encoder writes format 2, which fails the guard.
        EXPECT_EQ(g.failed(), same_length) << g.failure();
    }
}

TEST(command_guard, a_held_command_knows_its_timestamp_and_whether_others_came_between) {
    protocol::chunk_encoder encoder;
    bytes data;
    encoder.encode(connect(), data);
    auto first = publish("a");
    first.timestamp = 1000;
    encoder.encode(first, data);
    auto second = publish(std::string(200, 'b'));
    second.timestamp = 1300;  // format 1 or 2: a delta of 300
    bytes chunks;
    encoder.encode(second, chunks);
    // Its first chunk, an audio message, then the rest.
    const std::size_t first_chunk = 8 + 128;
    data.insert(data.end(), chunks.begin(), chunks.begin() + first_chunk);
    encoder.encode(media(6, message_type::audio, 0, 10), data);
    data.insert(data.end(), chunks.begin() + first_chunk, chunks.end());
    command_guard g;
    const auto r = run(g, data, data.size());
    ASSERT_FALSE(r.failed) << r.failure;
    ASSERT_EQ(r.held.size(), 2u);
    EXPECT_EQ(r.held[0].timestamp, 1000u);
    EXPECT_TRUE(r.held[0].contiguous);
    EXPECT_EQ(r.held[1].timestamp, 1300u);
    EXPECT_FALSE(r.held[1].contiguous);
}

}  // namespace
}  // namespace rtmpgate::gateway::backend
