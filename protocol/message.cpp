#include "protocol/message.hpp"

namespace rtmpgate::protocol {

// Out of line: inlined into callers that build the vector from a range, GCC 12 reports a
// -Wfree-nonheap-object on the moved-from vector's destructor that is not one.
shared_bytes::shared_bytes(std::vector<std::uint8_t> bytes) {
    if (bytes.empty()) return;
    auto owner = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
    size_ = owner->size();
    data_ = std::shared_ptr<const std::uint8_t>(owner, owner->data());
}

}  // namespace rtmpgate::protocol
