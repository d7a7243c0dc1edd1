// What an RTMP client says to a server to publish one stream, fed the server's messages and
// giving the client's, without I/O (the push relay's rtmp_client does the reads and writes):
// connect (app, tcUrl, flashVer "FMLE/3.0 (compatible; rtmpgate)", objectEncoding 0), then
// releaseStream, FCPublish and createStream, then publish(name, "live") on the stream created,
// until onStatus NetStream.Publish.Start, as ffmpeg and OBS do towards nginx-rtmp. Protocol
// control is answered in every state: Acknowledgement of the server's window, Ping Response,
// Window Acknowledgement Size after Set Peer Bandwidth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/upstream/server_control.hpp"
#include "protocol/message.hpp"

namespace rtmpgate::gateway::upstream {

class publish_sequence {
public:
    struct params {
        std::string app;          // the connect's app
        std::string tc_url;       // "rtmp://host:port/app"
        std::string stream_name;  // publish's name
        std::uint32_t chunk_size = 4096;
    };
    enum class state { connecting, creating_stream, publishing, published, failed };

    explicit publish_sequence(params p);

    // The first messages: Set Chunk Size, then connect.
    void start(std::vector<protocol::message>& out);
    // A message from the server (Set Chunk Size and Abort already applied by the chunk decoder).
    // Appends the answers to `out`. A refusal (_error to connect or createStream, an error-level
    // onStatus, or NetStream.Unpublish/Publish.Idle after the publish) makes the state failed,
    // with failure() saying why; later messages are ignored.
    state on_message(const protocol::message& m, std::vector<protocol::message>& out);
    // `received`: the octets read from the server so far. Appends an Acknowledgement when a
    // window's worth has come since the last one.
    void acknowledge(std::uint64_t received, std::vector<protocol::message>& out);
    // The end of a publish: FCUnpublish and deleteStream (nothing unless published).
    void finish(std::vector<protocol::message>& out);

    state current() const noexcept { return state_; }
    const std::string& failure() const noexcept { return failure_; }
    std::uint32_t message_stream_id() const noexcept { return message_stream_id_; }

private:
    void on_command(const protocol::message& m, std::vector<protocol::message>& out);
    void fail(std::string why);

    params params_;
    state state_ = state::connecting;
    std::string failure_;
    std::uint32_t message_stream_id_ = 0;
    server_control control_;
};

}  // namespace rtmpgate::gateway::upstream
