#include "gateway/rtmp/output_queue.hpp"

#include <algorithm>

namespace rtmpgate::gateway::rtmp {

void output_queue::push(protocol::message m, media_class c) {
    const auto size = m.payload.size();
    if (m.type() == protocol::message_type::video) has_video_ = true;
    if (c != media_class::essential) {
        if (skipping_) {
            const bool resumes = c == media_class::keyframe ||
                                 (!has_video_ && m.type() == protocol::message_type::audio);
            if (!resumes) {
                ++dropped_messages_;
                dropped_bytes_ += size;
                return;
            }
            skipping_ = false;
        }
        if (queued_media_bytes_ + size > media_bound_) {
            // The player cannot keep up: drop what it has not started on and wait for a point
            // its decoder can resume from.
            drop_queued_media();
            // A keyframe that fits is itself such a point: it starts the new run.
            skipping_ = !(c == media_class::keyframe && size <= media_bound_);
            if (skipping_) {
                ++dropped_messages_;
                dropped_bytes_ += size;
                return;
            }
        }
        queued_media_bytes_ += size;
    }
    queued_bytes_ += size;
    items_.push_back({std::move(m), c});
}

void output_queue::drop_queued_media() {
    auto kept = std::remove_if(items_.begin(), items_.end(), [this](const item& i) {
        if (i.cls == media_class::essential) return false;
        ++dropped_messages_;
        dropped_bytes_ += i.message.payload.size();
        queued_bytes_ -= i.message.payload.size();
        return true;
    });
    items_.erase(kept, items_.end());
    queued_media_bytes_ = 0;
}

void output_queue::pop_batch(std::size_t max_bytes, std::vector<protocol::message>& out) {
    std::size_t taken = 0;
    while (!items_.empty() &&
           (taken == 0 || taken + items_.front().message.payload.size() <= max_bytes)) {
        auto& front = items_.front();
        const auto size = front.message.payload.size();
        taken += size + 1;
        queued_bytes_ -= size;
        if (front.cls != media_class::essential) queued_media_bytes_ -= size;
        out.push_back(std::move(front.message));
        items_.pop_front();
    }
}

}  // namespace rtmpgate::gateway::rtmp
