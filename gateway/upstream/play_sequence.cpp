#include "gateway/upstream/play_sequence.hpp"

#include "gateway/upstream/status_object.hpp"
#include "protocol/command.hpp"
#include "protocol/control.hpp"

namespace rtmpgate::gateway::upstream {

using protocol::amf_value;
using protocol::message;
using protocol::message_type;
using protocol::user_control_event;

namespace {

// Transaction ids as ffmpeg numbers them; play's is 0, as spec 7.2.2.1 has it (nginx-rtmp
// answers play with onStatus only, never _result).
constexpr double connect_transaction = 1;
constexpr double create_stream_transaction = 2;
constexpr double play_transaction = 0;
constexpr double close_transaction = 3;

// A Flash player's connect properties: audioCodecs and videoCodecs are the SUPPORT_SND_* and
// SUPPORT_VID_* masks ffmpeg and librtmp send (every codec a Flash player plays); some servers
// (FMS, Wowza) send no audio or video a client did not announce.
amf_value connect_properties(const play_sequence::params& p) {
    // flashVer short enough for nginx-rtmp, which keeps 32 octets of it (its rtmp_stat and
    // access log show it).
    return amf_value::make_object({
        {"app", amf_value::make_string(p.app)},
        {"flashVer", amf_value::make_string("LNX 9,0,124,2 (rtmpgate)")},
        {"tcUrl", amf_value::make_string(p.tc_url)},
        {"fpad", amf_value::make_boolean(false)},
        {"capabilities", amf_value::make_number(15)},
        {"audioCodecs", amf_value::make_number(4071)},
        {"videoCodecs", amf_value::make_number(252)},
        {"videoFunction", amf_value::make_number(1)},
        {"objectEncoding", amf_value::make_number(0)},
    });
}

}  // namespace

play_sequence::play_sequence(params p) : params_(std::move(p)) {}

void play_sequence::start(std::vector<message>& out) {
    out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "connect",
                                         connect_transaction, connect_properties(params_)));
}

play_sequence::state play_sequence::on_message(const message& m, std::vector<message>& out) {
    if (state_ == state::failed || state_ == state::ended) return state_;
    switch (m.type()) {
        case message_type::window_ack_size:
        case message_type::set_peer_bandwidth:
        case message_type::user_control: {
            auto c = protocol::parse_control(m);
            if (!c) {
                end(state::failed, "malformed control message from the server");
                break;
            }
            if (auto event = control_.on_control(*c, out))
                on_user_control(event->event, event->value);
            break;
        }
        case message_type::command_amf0:
        case message_type::command_amf3:
            on_command(m, out);
            break;
        case message_type::audio:
        case message_type::video:
        case message_type::aggregate:
            // Media before any word of the start: the play has started all the same.
            if (state_ == state::starting && m.message_stream_id == message_stream_id_) started();
            break;
        default:
            break;  // Set Chunk Size and Abort are the decoder's; data is the caller's
    }
    return state_;
}

void play_sequence::on_user_control(user_control_event e, std::uint32_t stream_id) {
    if (stream_id != message_stream_id_ || message_stream_id_ == 0) return;
    if (e == user_control_event::stream_begin && state_ == state::starting) {
        started();
    } else if (e == user_control_event::stream_eof && state_ == state::playing) {
        // nginx-rtmp's only word, by default, that the stream's publisher left.
        end(state::ended, "StreamEOF");
    }
}

void play_sequence::on_command(const message& m, std::vector<message>& out) {
    auto c = protocol::parse_command(m);
    if (!c) {
        end(state::failed, "malformed command from the server");
        return;
    }
    if (c->name == "_error") {
        if (c->transaction_id == connect_transaction)
            end(state::failed, "connect refused: " + describe_status(*c));
        else if (c->transaction_id == create_stream_transaction)
            end(state::failed, "createStream refused: " + describe_status(*c));
        else if (c->transaction_id == play_transaction && state_ == state::starting)
            end(state::failed, "play refused: " + describe_status(*c));
        return;
    }
    if (c->name == "_result") {
        if (state_ == state::connecting && c->transaction_id == connect_transaction) {
            state_ = state::creating_stream;
            out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "createStream",
                                                 create_stream_transaction,
                                                 amf_value::make_null()));
        } else if (state_ == state::creating_stream &&
                   c->transaction_id == create_stream_transaction) {
            double id = 0;
            if (c->arguments.empty() || !c->arguments.front().as_number(id) || id < 1 ||
                id > 0xFFFFFFFF) {
                end(state::failed, "createStream answered without a stream id");
                return;
            }
            message_stream_id_ = static_cast<std::uint32_t>(id);
            state_ = state::starting;
            // Start -1000: live only (spec 7.2.2.1 says -1 in seconds; clients send
            // milliseconds, and every server reads any negative value as live).
            const amf_value args[] = {amf_value::make_string(params_.stream_name),
                                      amf_value::make_number(-1000)};
            out.push_back(protocol::make_command(protocol::chunk_stream::stream_command,
                                                 message_stream_id_, "play", play_transaction,
                                                 amf_value::make_null(), args));
            out.push_back(protocol::make_user_control(user_control_event::set_buffer_length,
                                                      message_stream_id_, params_.buffer_ms));
        }
        return;
    }
    if (c->name != "onStatus") return;  // onBWDone and the like
    const auto code = status_code(*c);
    if (status_level(*c) == "error") {
        end(state::failed, "onStatus " + describe_status(*c));
    } else if (code == "NetStream.Play.Start" || code == "NetStream.Play.Reset") {
        if (state_ == state::starting) started();
    } else if (state_ == state::playing &&
               (code == "NetStream.Play.Stop" || code == "NetStream.Play.UnpublishNotify" ||
                code == "NetStream.Play.Complete")) {
        end(state::ended, "onStatus " + describe_status(*c));
    }
}

void play_sequence::started() { state_ = state::playing; }

bool play_sequence::is_stream_media(const message& m) const {
    if (state_ != state::playing || m.message_stream_id != message_stream_id_) return false;
    switch (m.type()) {
        case message_type::audio:
        case message_type::video:
        case message_type::aggregate:
            return true;
        case message_type::data_amf0:
        case message_type::data_amf3: {
            // What the server says about the play, not what its publisher sent: nginx-rtmp sends
            // |RtmpSampleAccess after Play.Start, FMS onPlayStatus at the end of a recording.
            auto d = protocol::parse_data(m);
            return d && !d->name.starts_with('|') && d->name != "onPlayStatus";
        }
        default:
            return false;
    }
}

void play_sequence::acknowledge(std::uint64_t received, std::vector<message>& out) {
    control_.acknowledge(received, out);
}

void play_sequence::finish(std::vector<message>& out) {
    if (message_stream_id_ == 0) return;
    // closeStream on the stream, then deleteStream, as ffmpeg ends a play: nginx-rtmp takes the
    // player off the stream at either, before the connection closes.
    out.push_back(protocol::make_command(protocol::chunk_stream::stream_command, message_stream_id_,
                                         "closeStream", 0, amf_value::make_null()));
    const amf_value id[] = {amf_value::make_number(message_stream_id_)};
    out.push_back(protocol::make_command(protocol::chunk_stream::command, 0, "deleteStream",
                                         close_transaction, amf_value::make_null(), id));
}

void play_sequence::end(state s, std::string why) {
    state_ = s;
    failure_ = std::move(why);
}

}  // namespace rtmpgate::gateway::upstream
