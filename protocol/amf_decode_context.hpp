// Bookkeeping that the AMF0 and AMF3 decoders share for one decode call: how deep the value
// being decoded is nested, how much memory the result already takes, and the table of complex
// values that a reference may point back to (AMF0 spec §2.9, AMF3 spec §2.2 "object table").
//
// Decoders build values in place under `roots`. The table remembers where each complex value
// sits (its enclosing container's entry plus one step) instead of keeping a copy, so holding the
// table costs a few words per entry however large the values are. A reference is resolved to a
// copy of the referenced value once that value is complete; a reference to a value still being
// decoded (a cycle, which the value model cannot hold) is error::amf_bad_reference.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "protocol/amf_value.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error.hpp"

namespace rtmpgate::protocol {

// Height counts nested containers (a leaf is 0, an empty object 1); bytes is the measure
// amf_limits::max_total_bytes bounds.
struct amf_extent {
    std::size_t height = 0;
    std::size_t bytes = 0;
};

inline bool amf_is_container(amf_kind k) noexcept {
    switch (k) {
        case amf_kind::object:
        case amf_kind::typed_object:
        case amf_kind::ecma_array:
        case amf_kind::strict_array:
            return true;
        default:
            return is_amf3_collection(k);
    }
}

// Recurses as deep as `v` is nested: call it on values whose depth is bounded.
inline amf_extent amf_measure(const amf_value& v) {
    amf_extent e{0, sizeof(amf_value) + v.string.size() + v.class_name.size()};
    std::size_t child_height = 0;
    const auto add = [&](const amf_value& child) {
        const auto c = amf_measure(child);
        e.bytes += c.bytes;
        child_height = std::max(child_height, c.height);
    };
    for (const auto& name : v.sealed_members) e.bytes += name.size();
    for (const auto& [key, child] : v.properties) {
        e.bytes += key.size();
        add(child);
    }
    for (const auto& child : v.elements) add(child);
    for (const auto& [key, child] : v.entries) {
        add(key);
        add(child);
    }
    if (amf_is_container(v.kind)) e.height = child_height + 1;
    return e;
}

class amf_decode_context {
public:
    // Where a value sits in its container: properties[i].second, elements[i], entries[i].first
    // or entries[i].second; `root` is roots[i].
    enum class branch : std::uint8_t { root, property, element, entry_key, entry_value };

    // What every value costs against max_total_bytes before its strings.
    static constexpr std::size_t node_bytes = sizeof(amf_value);

    amf_decode_context(std::vector<amf_value>& roots, const amf_limits& limits) noexcept
        : roots_(roots), limits_(limits) {}

    const amf_limits& limits() const noexcept { return limits_; }
    // Containers open around the value being decoded now.
    std::size_t depth() const noexcept { return open_.size(); }
    std::size_t remaining_budget() const noexcept { return limits_.max_total_bytes - used_; }

    // The next value decoded is roots[index] (no container may be open).
    void at_root(std::size_t index) noexcept { root_ = {no_slot, branch::root, index}; }
    // The next value decoded is child `index` on branch `b` of the innermost open container.
    void at_child(branch b, std::size_t index) noexcept {
        open_.back().child = {open_.back().slot, b, index};
    }

    // Counts `bytes` against max_total_bytes (error::amf_too_large past it). Call it before
    // allocating what it counts.
    bool charge(std::size_t bytes, error_code& ec) noexcept {
        if (bytes > remaining_budget()) {
            ec = error::amf_too_large;
            return false;
        }
        used_ += bytes;
        return true;
    }

    // Starts a container at the current position: error::amf_depth_exceeded when it would nest
    // deeper than max_depth; otherwise it takes the next reference table entry.
    bool open_container(error_code& ec) {
        if (depth() + 1 > limits_.max_depth) {
            ec = error::amf_depth_exceeded;
            return false;
        }
        slots_.push_back({position(), false});
        open_.push_back({slots_.size() - 1, {}});
        return true;
    }
    // Ends the innermost container: references may now point at it.
    // The `count` values of a container opened with open_container(), decoded into `out` by
    // `decode_value` (the decoder's own), then the container is closed. The count is checked
    // first: above max_elements it is error::amf_too_many_elements; above `remaining` input
    // octets it is error::truncated (every value takes at least its marker), found before
    // anything is allocated for it.
    template <typename DecodeValue>
    bool elements(std::uint32_t count, std::size_t remaining, std::vector<amf_value>& out,
                  error_code& ec, DecodeValue decode_value) {
        if (count > limits_.max_elements || count > remaining) {
            ec = count > limits_.max_elements ? error::amf_too_many_elements : error::truncated;
            return false;
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            out.emplace_back();
            at_child(branch::element, i);
            if (!decode_value(out.back())) return false;
        }
        close_container();
        return true;
    }

    void close_container() noexcept {
        slots_[open_.back().slot].complete = true;
        open_.pop_back();
    }
    // Registers a complete leaf at the current position (AMF3 Date, XML, XMLDocument, ByteArray
    // take reference table entries too).
    void add_leaf() { slots_.push_back({position(), true}); }

    // Replaces `out`, the value at the current position, with a copy of table entry `index`:
    // error::amf_bad_reference if there is no such entry or it is still open, depth and memory
    // errors as if the copy had been decoded here.
    bool copy_reference(std::size_t index, amf_value& out, error_code& ec) {
        if (index >= slots_.size() || !slots_[index].complete) {
            ec = error::amf_bad_reference;
            return false;
        }
        const amf_value& source = find(index);
        const auto extent = amf_measure(source);
        if (depth() + extent.height > limits_.max_depth) {
            ec = error::amf_depth_exceeded;
            return false;
        }
        // The node `out` itself was charged when its decoding began.
        if (!charge(extent.bytes - node_bytes, ec)) return false;
        out = source;
        return true;
    }

private:
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    struct location {
        std::size_t parent = no_slot;  // table entry of the enclosing container; no_slot: a root
        branch via = branch::root;
        std::size_t index = 0;
    };
    struct slot {
        location at;
        bool complete = false;
    };
    struct open_container_state {
        std::size_t slot = 0;
        location child;  // where the child being decoded sits
    };

    location position() const noexcept { return open_.empty() ? root_ : open_.back().child; }

    // Every container is a table entry, so a location chain reaches a root in depth() steps.
    const amf_value& find(std::size_t index) const {
        std::vector<const location*> chain;
        for (const location* at = &slots_[index].at;; at = &slots_[at->parent].at) {
            chain.push_back(at);
            if (at->parent == no_slot) break;
        }
        const amf_value* v = &roots_[chain.back()->index];
        for (auto it = chain.rbegin() + 1; it != chain.rend(); ++it) {
            const location& step = **it;
            switch (step.via) {
                case branch::property:
                    v = &v->properties[step.index].second;
                    break;
                case branch::element:
                    v = &v->elements[step.index];
                    break;
                case branch::entry_key:
                    v = &v->entries[step.index].first;
                    break;
                case branch::entry_value:
                    v = &v->entries[step.index].second;
                    break;
                case branch::root:
                    break;
            }
        }
        return *v;
    }

    std::vector<amf_value>& roots_;
    amf_limits limits_;
    std::size_t used_ = 0;
    location root_;
    std::vector<slot> slots_;
    std::vector<open_container_state> open_;
};

// What the AMF0 and AMF3 decoders share: their input, the message's context and the error they
// report, and the start of every value. `Decoder` (the derived class) decodes what follows a type
// marker in `bool value_after_marker(std::uint8_t marker, amf_value& out)`.
template <typename Decoder>
class amf_decoder_base {
public:
    amf_decoder_base(byte_reader& in, amf_decode_context& ctx, error_code& ec) noexcept
        : in_(in), ctx_(ctx), ec_(ec) {}

    // One value: its node is charged to the memory bound, then its type marker is read.
    bool value(amf_value& out) {
        std::uint8_t marker = 0;
        if (!ctx_.charge(amf_decode_context::node_bytes, ec_) || !need(in_.read_u8(marker))) {
            return false;
        }
        return static_cast<Decoder&>(*this).value_after_marker(marker, out);
    }

protected:
    bool fail(error e) {
        ec_ = e;
        return false;
    }
    bool need(bool read) { return read || fail(error::truncated); }

    byte_reader& in_;
    amf_decode_context& ctx_;
    error_code& ec_;
};

}  // namespace rtmpgate::protocol
