#include "gateway/upstream/publish_sequence.hpp"

#include "gateway/upstream/status_object.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::upstream {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;

namespace {

// Transaction ids in the order ffmpeg numbers them; the answers are told apart by them.
constexpr double connect_transaction = 1;
constexpr double release_stream_transaction = 2;
constexpr double fc_publish_transaction = 3;
constexpr double create_stream_transaction = 4;
constexpr double publish_transaction = 5;

message stream_name_command(std::string_view name, double transaction,
                            std::string_view stream_name) {
    const amf_value args[] = {amf_value::make_string(stream_name)};
    return protocol::make_command(protocol::chunk_stream::command, 0, name, transaction,
                                  amf_value::make_null(), args);
}

}  // namespace

publish_sequence::publish_sequence(params p) : params_(std::move(p)) {}

void publish_sequence::start(std::vector<message>& out) {
    out.push_back(protocol::make_set_chunk_size(params_.chunk_size));
    const auto properties = amf_value::make_object({
        {"app", amf_value::make_string(params_.app)},
        {"type", amf_value::make_string("nonprivate")},
        {"flashVer", amf_value::make_string("FMLE/3.0 (compatible; rtmpgate)")},
        {"tcUrl", amf_value::make_string(params_.tc_url)},
        {"objectEncoding", amf_value::make_number(0)},
    });
    out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "connect",
                                         connect_transaction, properties));
}

publish_sequence::state publish_sequence::on_message(const message& m, std::vector<message>& out) {
    if (state_ == state::failed) return state_;
    switch (m.type()) {
        case message_type::window_ack_size:
        case message_type::set_peer_bandwidth:
        case message_type::user_control: {
            auto c = protocol::parse_control(m);
            if (!c) {
                fail("malformed control message from the server");
                break;
            }
            control_.on_control(*c, out);
            break;
        }
        case message_type::command_amf0:
        case message_type::command_amf3:
            on_command(m, out);
            break;
        default:
            break;  // Set Chunk Size and Abort are the decoder's; media and data are not expected
    }
    return state_;
}

void publish_sequence::on_command(const message& m, std::vector<message>& out) {
    auto c = protocol::parse_command(m);
    if (!c) {
        fail("malformed command from the server");
        return;
    }
    if (c->name == "_error") {
        // releaseStream and FCPublish may be refused (nginx-rtmp ignores them, others answer
        // _error); only connect and createStream matter.
        if (c->transaction_id == connect_transaction)
            fail("connect refused: " + describe_status(*c));
        else if (c->transaction_id == create_stream_transaction)
            fail("createStream refused: " + describe_status(*c));
        return;
    }
    if (c->name == "_result") {
        if (state_ == state::connecting && c->transaction_id == connect_transaction) {
            state_ = state::creating_stream;
            out.push_back(stream_name_command("releaseStream", release_stream_transaction,
                                              params_.stream_name));
            out.push_back(
                stream_name_command("FCPublish", fc_publish_transaction, params_.stream_name));
            out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "createStream",
                                                 create_stream_transaction,
                                                 amf_value::make_null()));
        } else if (state_ == state::creating_stream &&
                   c->transaction_id == create_stream_transaction) {
            double id = 0;
            if (c->arguments.empty() || !c->arguments.front().as_number(id) || id < 1 ||
                id > 0xFFFFFFFF) {
                fail("createStream answered without a stream id");
                return;
            }
            message_stream_id_ = static_cast<std::uint32_t>(id);
            state_ = state::publishing;
            const amf_value args[] = {amf_value::make_string(params_.stream_name),
                                      amf_value::make_string("live")};
            out.push_back(protocol::make_command(protocol::chunk_stream::stream_command,
                                                 message_stream_id_, "publish", publish_transaction,
                                                 amf_value::make_null(), args));
        }
        return;
    }
    if (c->name != "onStatus") return;  // onBWDone, onFCPublish and the like
    const auto code = status_code(*c);
    if (state_ == state::publishing && code == "NetStream.Publish.Start") {
        state_ = state::published;
    } else if (status_level(*c) == "error" || code == "NetStream.Unpublish.Success" ||
               code == "NetStream.Publish.Idle") {
        fail("onStatus " + describe_status(*c));
    }
}

void publish_sequence::acknowledge(std::uint64_t received, std::vector<message>& out) {
    control_.acknowledge(received, out);
}

void publish_sequence::finish(std::vector<message>& out) {
    if (state_ != state::published) return;
    out.push_back(stream_name_command("FCUnpublish", publish_transaction + 1, params_.stream_name));
    const amf_value id[] = {amf_value::make_number(message_stream_id_)};
    out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "deleteStream",
                                         publish_transaction + 2, amf_value::make_null(), id));
}

void publish_sequence::fail(std::string why) {
    state_ = state::failed;
    failure_ = std::move(why);
}

}  // namespace rtmpgate::gateway::upstream
