// What an RTMP client says to a server to play one live stream, fed the server's messages and
// giving the client's, without I/O (upstream/play_client does the reads and writes): connect
// (app, tcUrl, flashVer "LNX 9,0,124,2 (rtmpgate)", the codecs a Flash player
// announces), createStream, then play(name, -1000: live only) and Set Buffer Length on the stream
// created, as ffmpeg and rtmpdump do towards nginx-rtmp. Protocol control is answered in every
// state: Acknowledgement of the server's window, Ping Response, Window Acknowledgement Size after
// Set Peer Bandwidth.
//
// The play has started at the first of onStatus NetStream.Play.Start or Play.Reset, User Control
// StreamBegin for the stream, or a media message on it: nginx-rtmp with play_restart says
// nothing until its stream has a publisher, then StreamBegin and Play.Start; without it,
// Play.Start at once, and StreamBegin when a publisher starts.
//
// The stream is over (state ended) when the server says its publisher left: onStatus
// NetStream.Play.Stop, Play.UnpublishNotify or Play.Complete, or User Control StreamEOF for the
// stream (all nginx-rtmp says by default). A refusal (_error to connect, createStream or play,
// an error-level onStatus such as NetStream.Play.StreamNotFound) makes the state failed. After
// either, failure() says why and later messages are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/upstream/server_control.hpp"
#include "protocol/control.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class play_sequence {
public:
    struct params {
        std::string app;                 // the connect's app
        std::string tc_url;              // "rtmp://host:port/app"
        std::string stream_name;         // play's name, with its query string when it has one
        std::uint32_t buffer_ms = 1000;  // Set Buffer Length after play
    };
    enum class state { connecting, creating_stream, starting, playing, ended, failed };

    explicit play_sequence(params p);

    // The first message: connect.
    void start(std::vector<protocol::message>& out);
    // A message from the server (Set Chunk Size and Abort already applied by the chunk decoder).
    // Appends the answers to `out` and gives the state after it.
    state on_message(const protocol::message& m, std::vector<protocol::message>& out);
    // `received`: the octets read from the server so far. Appends an Acknowledgement when a
    // window's worth has come since the last one.
    void acknowledge(std::uint64_t received, std::vector<protocol::message>& out);
    // The end of a play: closeStream and deleteStream (nothing before createStream's answer).
    void finish(std::vector<protocol::message>& out);

    // Whether `m` is part of the stream played: audio, video, aggregate or a data message other
    // than what a server says to its players about the play (|RtmpSampleAccess, onPlayStatus),
    // on the stream created, once the play has started.
    bool is_stream_media(const protocol::message& m) const;

    state current() const noexcept { return state_; }
    // Why the sequence failed or ended ("onStatus NetStream.Play.StreamNotFound: ...").
    const std::string& failure() const noexcept { return failure_; }
    std::uint32_t message_stream_id() const noexcept { return message_stream_id_; }

private:
    void on_command(const protocol::message& m, std::vector<protocol::message>& out);
    void on_user_control(protocol::user_control_event event, std::uint32_t stream_id);
    void started();
    void end(state s, std::string why);

    params params_;
    state state_ = state::connecting;
    std::string failure_;
    std::uint32_t message_stream_id_ = 0;
    server_control control_;
};

}  // namespace rtmpgate::gateway::upstream
