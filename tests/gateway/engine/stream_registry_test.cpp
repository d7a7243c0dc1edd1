#include "gateway/engine/stream_registry.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

namespace rtmpgate::gateway::engine {
namespace {

class idle_subscriber final : public subscriber {
public:
    void deliver(const protocol::message&, media_class) override {}
    void on_publish_start() override {}
    void on_publish_stop() override {}
    void on_drop() override { ++drops; }
    int drops = 0;
};

// The publishers' identities: distinct addresses, as sessions pass themselves.
constexpr publisher_id publisher_a{1}, publisher_b{2};

// engine_counts as {streams, publishers, players, players waiting}: gtest prints an array.
using counts = std::array<std::size_t, 4>;
counts counted(const stream_registry& r) {
    const auto c = r.counts();
    return {c.streams, c.publishers, c.players, c.players_waiting};
}

struct player {
    std::shared_ptr<idle_subscriber> s = std::make_shared<idle_subscriber>();
    std::shared_ptr<stream> target;
    bool playing = false;

    player(stream_registry& r, const std::string& key) {
        std::vector<protocol::message> initial;
        target = r.subscribe(key, s, initial, playing);
    }
    void leave(stream_registry& r) {
        target->unsubscribe(s.get());
        r.release(target->key());
    }
};

TEST(stream_registry, counts_publishers_and_players_by_whether_their_stream_is_published) {
    stream_registry r({});
    EXPECT_EQ(counted(r), (counts{0, 0, 0, 0}));
    player early(r, "live/a");
    EXPECT_FALSE(early.playing);
    player other(r, "live/b");
    EXPECT_EQ(counted(r), (counts{2, 0, 0, 2}));

    auto a = r.publish("live/a", publisher_a);
    ASSERT_TRUE(a);
    player late(r, "live/a");
    EXPECT_TRUE(late.playing);
    EXPECT_EQ(counted(r), (counts{2, 1, 2, 1}));
    EXPECT_FALSE(r.publish("live/a", publisher_b));  // refused: nothing changes
    EXPECT_EQ(counted(r), (counts{2, 1, 2, 1}));

    auto c = r.publish("live/c", publisher_b);  // published, nobody plays it
    ASSERT_TRUE(c);
    EXPECT_EQ(counted(r), (counts{3, 2, 2, 1}));

    // The publisher of live/a leaves: its players wait again.
    a->detach_publisher(publisher_a);
    r.release("live/a");
    EXPECT_EQ(counted(r), (counts{3, 1, 0, 3}));

    early.leave(r);
    late.leave(r);
    other.leave(r);
    c->detach_publisher(publisher_b);
    r.release("live/c");
    EXPECT_EQ(counted(r), (counts{0, 0, 0, 0}));
    EXPECT_EQ(r.size(), 0u);
}

TEST(stream_registry, drop_reaches_a_known_stream_and_its_name_is_free_once_everyone_left) {
    stream_registry r({});
    EXPECT_FALSE(r.drop("live/none"));
    EXPECT_EQ(r.size(), 0u);  // looking did not create it

    int publisher_drops = 0;
    auto a = r.publish("live/a", publisher_a, [&] { ++publisher_drops; });
    ASSERT_TRUE(a);
    player p(r, "live/a");
    const auto dropped = r.drop("live/a");
    ASSERT_TRUE(dropped);
    EXPECT_TRUE(dropped->publisher);
    EXPECT_EQ(dropped->players, 1u);
    EXPECT_EQ(publisher_drops, 1);
    EXPECT_EQ(p.s->drops, 1);

    // What the dropped connections do as they end; then another publisher may take the name.
    a->detach_publisher(publisher_a);
    r.release("live/a");
    p.leave(r);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_TRUE(r.publish("live/a", publisher_b));
}

}  // namespace
}  // namespace rtmpgate::gateway::engine
