#include "gateway/engine/publish_input.hpp"

#include "protocol/aggregate.hpp"
#include "protocol/command.hpp"

namespace rtmpgate::gateway::engine {

using protocol::message;
using protocol::message_type;

error_code publish_input(stream& target, const message& m) {
    switch (m.type()) {
        case message_type::audio:
        case message_type::video:
            target.publish(m);
            return {};
        case message_type::data_amf0:
        case message_type::data_amf3: {
            auto data = protocol::parse_data(m);
            if (!data) return data.error();
            if (data->name == "@setDataFrame" || data->name == "onMetaData") {
                auto payload = protocol::strip_set_data_frame(m);
                if (!payload) return payload.error();
                message metadata = m;
                metadata.payload = std::move(*payload);
                metadata.message_type_id = static_cast<std::uint8_t>(message_type::data_amf0);
                if (m.type() == message_type::data_amf3)
                    metadata.message_type_id = m.message_type_id;
                target.publish_metadata(metadata);
            } else {
                target.publish(m);
            }
            return {};
        }
        case message_type::aggregate: {
            auto parts = protocol::split_aggregate(m);
            if (!parts) return parts.error();
            for (const auto& part : *parts)
                if (auto ec = publish_input(target, part)) return ec;
            return {};
        }
        default:
            return {};
    }
}

}  // namespace rtmpgate::gateway::engine
