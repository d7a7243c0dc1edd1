#include "gateway/engine/stream.hpp"

#include <algorithm>
#include <map>

#include "protocol/codec_name.hpp"
#include "protocol/command.hpp"
#include "protocol/flv.hpp"

namespace rtmpgate::gateway::engine {

using protocol::message_type;

stream::stream(std::string key, stream_settings settings)
    : key_(std::move(key)), settings_(settings) {}

bool stream::attach_publisher(publisher_id owner, publisher_drop drop, publisher_info who) {
    std::vector<std::shared_ptr<subscriber>> waiting;
    {
        std::lock_guard lock(mutex_);
        if (publisher_ && publisher_ != owner) return false;
        if (!publisher_) {
            publisher_info_ = std::move(who);
            started_ = std::chrono::steady_clock::now();
            started_wall_ = std::chrono::system_clock::now();
            bytes_in_ = bytes_out_ = 0;
            sample_ = {started_, 0, 0, 0, 0};
        }
        publisher_ = owner;
        publisher_drop_ = std::move(drop);
        waiting = subscribers_;
    }
    for (auto& s : waiting) s->on_publish_start();
    return true;
}

void stream::detach_publisher(publisher_id owner) {
    std::vector<std::shared_ptr<subscriber>> players;
    {
        std::lock_guard lock(mutex_);
        if (publisher_ != owner) return;
        publisher_.reset();
        publisher_drop_ = nullptr;
        // A new publisher may bring other codecs: nothing cached outlives this one.
        has_metadata_ = has_video_header_ = has_audio_header_ = false;
        metadata_ = video_header_ = audio_header_ = {};
        video_codec_.clear();
        audio_codec_.clear();
        gop_.clear();
        gop_bytes_ = 0;
        players = subscribers_;
    }
    for (auto& s : players) s->on_publish_stop();
}

drop_result stream::drop() {
    drop_result result;
    publisher_drop publisher;
    std::vector<std::shared_ptr<subscriber>> players;
    {
        std::lock_guard lock(mutex_);
        result.publisher = publisher_.has_value();
        publisher = publisher_drop_;
        players = subscribers_;
    }
    result.players = players.size();
    // Outside the lock, as attach_publisher and detach_publisher call their subscribers: each
    // only posts to its connection's strand, where the connection leaves the stream. Players
    // first: the publisher's leaving tells them on_publish_stop, and a player that heard that
    // first would send UnpublishNotify, which ends ffmpeg before its drop reaches it.
    for (auto& s : players) s->on_drop();
    if (publisher) publisher();
    return result;
}

media_class classify(const protocol::message& m) {
    const auto payload = m.payload.span();
    switch (m.type()) {
        case message_type::video:
            if (protocol::is_video_sequence_header(payload)) return media_class::essential;
            return protocol::is_video_keyframe(payload) ? media_class::keyframe
                                                        : media_class::frame;
        case message_type::audio:
            return protocol::is_audio_sequence_header(payload) ? media_class::essential
                                                               : media_class::frame;
        case message_type::data_amf0:
        case message_type::data_amf3:
            // Cue points, captions and per-frame data (onFI) go with the frames around them.
            return protocol::is_on_metadata(m) ? media_class::essential : media_class::frame;
        default:
            return media_class::essential;
    }
}

void stream::publish(const protocol::message& m) {
    const auto c = classify(m);
    std::lock_guard lock(mutex_);
    // The codec is read from the first frame of each kind (MP3 and VP6 have no sequence
    // header), and again from each sequence header, which may bring another.
    const bool essential = c == media_class::essential;
    if (m.type() == message_type::video && (essential || video_codec_.empty()))
        video_codec_ = protocol::video_codec_name(m.payload.span());
    if (m.type() == message_type::audio && (essential || audio_codec_.empty()))
        audio_codec_ = protocol::audio_codec_name(m.payload.span());
    if (essential && m.type() == message_type::video) {
        video_header_ = m;
        has_video_header_ = true;
    } else if (essential && m.type() == message_type::audio) {
        audio_header_ = m;
        has_audio_header_ = true;
    } else if (!essential) {
        cache(m, c);
    }
    count(m);
    for (auto& s : subscribers_) s->deliver(m, c);
}

void stream::count(const protocol::message& m) {
    bytes_in_ += m.payload.size();
    bytes_out_ += m.payload.size() * subscribers_.size();
}

void stream::cache(const protocol::message& m, media_class c) {
    if (!settings_.gop_cache) return;
    if (c == media_class::keyframe) {
        gop_.clear();
        gop_bytes_ = 0;
    } else if (gop_.empty()) {
        return;  // a cached GOP always starts on a keyframe
    }
    if (gop_bytes_ + m.payload.size() > settings_.gop_cache_max_bytes) {
        // A GOP longer than the bound: keep nothing rather than a GOP without its start.
        gop_.clear();
        gop_bytes_ = 0;
        return;
    }
    gop_.push_back(m);
    gop_bytes_ += m.payload.size();
}

void stream::publish_metadata(const protocol::message& m) {
    std::lock_guard lock(mutex_);
    metadata_ = m;
    has_metadata_ = true;
    count(m);
    for (auto& s : subscribers_) s->deliver(m, media_class::essential);
}

void stream::snapshot(std::vector<protocol::message>& out) const {
    if (has_metadata_) out.push_back(metadata_);
    if (has_video_header_) out.push_back(video_header_);
    if (has_audio_header_) out.push_back(audio_header_);
    out.insert(out.end(), gop_.begin(), gop_.end());
}

bool stream::subscribe(std::shared_ptr<subscriber> s, std::vector<protocol::message>& initial) {
    std::lock_guard lock(mutex_);
    subscribers_.push_back(std::move(s));
    if (!publisher_) return false;
    snapshot(initial);
    return true;
}

void stream::unsubscribe(const subscriber* s) {
    std::lock_guard lock(mutex_);
    std::erase_if(subscribers_, [s](const auto& p) { return p.get() == s; });
}

bool stream::unused() const {
    std::lock_guard lock(mutex_);
    return !publisher_ && subscribers_.empty();
}

std::size_t stream::subscriber_count() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
}

stream_counts stream::counts() const {
    std::lock_guard lock(mutex_);
    stream_counts out;
    out.published = publisher_.has_value();
    out.players = subscribers_.size();
    for (const auto& s : subscribers_) {
        const auto t = s->transport();
        const auto it = std::find(viewer_transports.begin(), viewer_transports.end(), t);
        if (it != viewer_transports.end()) ++out.viewers[it - viewer_transports.begin()];
    }
    return out;
}

stream_info stream::info(std::chrono::steady_clock::time_point now) const {
    std::lock_guard lock(mutex_);
    stream_info out;
    out.key = key_;
    std::map<std::string_view, std::size_t> players;
    for (const auto& s : subscribers_) ++players[s->transport()];
    out.players.assign(players.begin(), players.end());
    out.published = publisher_.has_value();
    if (!out.published) return out;
    out.publisher = publisher_info_;
    out.since = started_wall_;
    out.uptime = now - started_;
    out.video_codec = video_codec_;
    out.audio_codec = audio_codec_;
    out.bytes_in = bytes_in_;
    out.bytes_out = bytes_out_;
    const std::chrono::duration<double> elapsed = now - sample_.at;
    if (elapsed >= std::chrono::seconds(1)) {
        sample_.bitrate_in =
            8.0 * static_cast<double>(bytes_in_ - sample_.bytes_in) / elapsed.count();
        sample_.bitrate_out =
            8.0 * static_cast<double>(bytes_out_ - sample_.bytes_out) / elapsed.count();
        sample_.at = now;
        sample_.bytes_in = bytes_in_;
        sample_.bytes_out = bytes_out_;
    }
    out.bitrate_in = sample_.bitrate_in;
    out.bitrate_out = sample_.bitrate_out;
    return out;
}

}  // namespace rtmpgate::gateway::engine
