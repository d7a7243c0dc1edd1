"""The engine's commands and control messages as a client sees them on the wire, checked one
message at a time with the independent test client (rtmp_client.py): connect and its replies,
refusal of an unrouted app, AMF3 connect, publish and play status codes, pause, receiveVideo,
play2, getStreamLength, closeStream, Acknowledgement and ping."""

import socket
import struct
import time

import harness
from rtmp_client import Client, amf0_encode

# FLV tag bodies (legacy codecs): video frame type/codec, AVCPacketType, composition time.
AVC_HEADER = b"\x17\x00\x00\x00\x00" + b"\x01\x64\x00\x1f\xff\xe1\x00\x04\x67\x64\x00\x1f"
AAC_HEADER = b"\xaf\x00\x12\x10"


def keyframe(n):
    return b"\x17\x01\x00\x00\x00" + bytes([n & 0xFF]) * 200


def inter(n):
    return b"\x27\x01\x00\x00\x00" + bytes([n & 0xFF]) * 100


def audio(n):
    return b"\xaf\x01" + bytes([n & 0xFF]) * 50


USER_CONTROL = 4
STREAM_BEGIN, STREAM_EOF, PING_REQUEST = 0, 1, 6


class Publisher:
    """A client publishing `name` on app live; media is sent with explicit timestamps."""

    def __init__(self, gateway, name):
        self.c = Client("127.0.0.1", gateway.port("rtmp"))
        self.c.handshake()
        self.c.set_chunk_size(4096)
        self.c.connect("live")
        self.sid, self.status = self.c.publish(name)
        self.ts = 0

    def metadata(self):
        payload = amf0_encode("@setDataFrame") + amf0_encode("onMetaData") + amf0_encode(
            {"width": 640, "height": 360, "framerate": 25})
        self.c.send_message(4, 18, self.sid, payload)

    def headers(self):
        self.c.send_message(6, 9, self.sid, AVC_HEADER, 0)
        self.c.send_message(4, 8, self.sid, AAC_HEADER, 0)

    def gop(self, frames=5):
        """A keyframe and `frames - 1` inter frames, each followed by an audio frame, 40 ms apart."""
        for i in range(frames):
            self.c.send_message(6, 9, self.sid, keyframe(i) if i == 0 else inter(i), self.ts)
            self.c.send_message(4, 8, self.sid, audio(i), self.ts)
            self.ts += 40


def media_until(client, predicate, timeout=5):
    """Messages of types 8, 9 and 18 (but |RtmpSampleAccess) read until `predicate(messages)` holds."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = client.read_message()
        if m.type_id in (8, 9, 18) and b"|RtmpSampleAccess" not in m.payload[:20]:
            got.append(m)
            if predicate(got):
                return got
    raise TimeoutError(f"{len(got)} media messages, condition not met")


def nothing_more(client, seconds=0.5):
    """Media messages that arrive within `seconds`."""
    client.sock.settimeout(seconds)
    got = []
    try:
        while True:
            m = client.read_message()
            if m.type_id in (8, 9):
                got.append(m)
    except OSError:
        pass
    finally:
        client.sock.settimeout(10)
    return got


def start_player(gateway, name, command="play"):
    c = Client("127.0.0.1", gateway.port("rtmp"))
    c.handshake()
    c.connect("live")
    sid = c.create_stream()
    if command == "play2":
        c.call("play2", {"streamName": name, "oldStreamName": "", "start": -2, "len": -1,
                         "transition": "reset"}, stream_id=sid, csid=8)
    else:
        c.call("play", name, -2000, stream_id=sid, csid=8)
    return c, sid


def round_trip(client, stream_id):
    """Returns once the gateway has handled everything `client` sent before: it answers commands in
    the order they arrive, and getStreamLength on any stream."""
    tx = client.call("getStreamLength", "", stream_id=stream_id, csid=8)
    client.wait_command(lambda cmd: cmd[0] == "_result" and cmd[1] == tx)


def codes(client, until, timeout=5):
    """onStatus codes read until the code `until` arrives."""
    seen = []
    client.wait_command(lambda cmd: cmd[0] == "onStatus" and (seen.append(cmd[3]["code"]) or seen[-1] == until),
                        timeout)
    return seen


class EngineCommandsTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.g = self.gateway(harness.engine_config().replace('  - app: "*"', "  - app: live"))

    def test_connect_replies_with_control_messages_and_success(self):
        c = Client("127.0.0.1", self.g.port("rtmp"))
        c.handshake()
        reply = c.connect("live")
        self.assertEqual(reply[0], "_result")
        self.assertEqual(reply[3]["code"], "NetConnection.Connect.Success")
        self.assertEqual(reply[3]["objectEncoding"], 0)
        types = [m.type_id for m in c.received]
        for control in (5, 6, 1):  # Window Ack Size, Set Peer Bandwidth, Set Chunk Size
            self.assertIn(control, types)
        chunk_size = next(m for m in c.received if m.type_id == 1)
        self.assertGreaterEqual(struct.unpack(">I", chunk_size.payload)[0], 4096)

    def test_unrouted_app_is_rejected(self):
        c = Client("127.0.0.1", self.g.port("rtmp"))
        c.handshake()
        reply = c.connect("other")
        self.assertEqual(reply[0], "_error")
        self.assertEqual(reply[3]["code"], "NetConnection.Connect.Rejected")
        self.assertEqual(harness.metric(self.g, "rtmpgate_refusals_total", reason="no_route"), 1)
        # Log only: the app that matched no route is named to the operator nowhere else.
        self.assertTrue(harness.wait_for(lambda: "matches no route" in self.g.log(), timeout=5))

    def test_amf3_connect_is_answered_in_kind(self):
        c = Client("127.0.0.1", self.g.port("rtmp"))
        c.handshake()
        # A Flash Player with objectEncoding 3 sends connect as message type 17: a 0x00 format
        # octet, then AMF0 values.
        payload = b"\x00" + amf0_encode("connect") + amf0_encode(1) + amf0_encode(
            {"app": "live", "flashVer": "WIN 32,0,0,465", "tcUrl": "rtmp://127.0.0.1/live",
             "objectEncoding": 3})
        c.send_message(3, 17, 0, payload)
        reply = c.wait_command(lambda cmd: cmd[0] in ("_result", "_error"))
        self.assertEqual(reply[0], "_result")
        self.assertEqual(reply[3]["objectEncoding"], 3)

    def test_publish_play_and_late_join_on_the_wire(self):
        pub = Publisher(self.g, "wire")
        self.assertEqual(pub.status["code"], "NetStream.Publish.Start")
        self.assertTrue(any(m.type_id == USER_CONTROL and m.payload[:2] == struct.pack(">H", STREAM_BEGIN)
                            for m in pub.c.received))
        pub.metadata()
        pub.headers()
        pub.gop(5)
        pub.gop(3)  # the player joins during this GOP
        round_trip(pub.c, pub.sid)
        player, sid = start_player(self.g, "wire")
        self.assertEqual(codes(player, "NetStream.Play.Start"), ["NetStream.Play.Reset", "NetStream.Play.Start"])
        got = media_until(player, lambda ms: sum(m.type_id == 9 for m in ms) >= 4)
        self.assertEqual(got[0].type_id, 18)
        self.assertIn(b"onMetaData", got[0].payload)
        self.assertNotIn(b"@setDataFrame", got[0].payload)
        video = [m for m in got if m.type_id == 9]
        self.assertEqual(video[0].payload, AVC_HEADER)
        self.assertEqual(video[1].payload[:2], b"\x17\x01")  # the current GOP's keyframe
        self.assertEqual(video[1].timestamp, 200)
        self.assertTrue(all(m.stream_id == sid for m in got))

    def test_pause_and_unpause(self):
        pub = Publisher(self.g, "p")
        pub.headers()
        pub.gop(2)
        player, sid = start_player(self.g, "p")
        codes(player, "NetStream.Play.Start")
        media_until(player, lambda ms: sum(m.type_id == 9 for m in ms) >= 3)
        player.call("pause", True, 0, stream_id=sid, csid=8)
        self.assertIn("NetStream.Pause.Notify", codes(player, "NetStream.Pause.Notify"))
        pub.gop(5)
        self.assertEqual(nothing_more(player), [])
        player.call("pause", False, 0, stream_id=sid, csid=8)
        self.assertIn("NetStream.Unpause.Notify", codes(player, "NetStream.Unpause.Notify"))
        pub.c.send_message(6, 9, pub.sid, inter(9), pub.ts)  # not a place to resume from
        pub.gop(2)
        got = media_until(player, lambda ms: any(m.type_id == 9 for m in ms))
        self.assertEqual([m for m in got if m.type_id == 9][0].payload[:2], b"\x17\x01")

    def test_receive_video_off_and_on(self):
        pub = Publisher(self.g, "rv")
        pub.headers()
        pub.gop(2)
        player, sid = start_player(self.g, "rv")
        codes(player, "NetStream.Play.Start")
        media_until(player, lambda ms: sum(m.type_id == 9 for m in ms) >= 3)
        player.call("receiveVideo", False, stream_id=sid, csid=8)
        round_trip(player, sid)
        pub.gop(3)
        got = media_until(player, lambda ms: sum(m.type_id == 8 for m in ms) >= 3)
        self.assertFalse([m for m in got if m.type_id == 9])
        player.call("receiveVideo", True, stream_id=sid, csid=8)
        round_trip(player, sid)
        pub.c.send_message(6, 9, pub.sid, inter(7), pub.ts)
        pub.gop(2)
        got = media_until(player, lambda ms: any(m.type_id == 9 for m in ms))
        self.assertEqual([m for m in got if m.type_id == 9][0].payload[:2], b"\x17\x01")

    def test_play2_and_get_stream_length(self):
        pub = Publisher(self.g, "two")
        pub.headers()
        pub.gop(2)
        player, sid = start_player(self.g, "two", command="play2")
        self.assertIn("NetStream.Play.Start", codes(player, "NetStream.Play.Start"))
        media_until(player, lambda ms: any(m.payload[:2] == b"\x17\x01" for m in ms))
        tx = player.call("getStreamLength", "two", stream_id=sid, csid=8)
        reply = player.wait_command(lambda cmd: cmd[0] == "_result" and cmd[1] == tx)
        self.assertEqual(reply[3], 0)

    def test_close_stream_unpublishes_and_players_hear_of_it(self):
        pub = Publisher(self.g, "cs")
        pub.headers()
        pub.gop(2)
        player, sid = start_player(self.g, "cs")
        codes(player, "NetStream.Play.Start")
        pub.c.call("closeStream", stream_id=pub.sid, csid=8)
        self.assertIn("NetStream.Unpublish.Success", codes(pub.c, "NetStream.Unpublish.Success"))
        self.assertIn("NetStream.Play.UnpublishNotify", codes(player, "NetStream.Play.UnpublishNotify"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = player.read_message()
            if m.type_id == USER_CONTROL and m.payload[:2] == struct.pack(">H", STREAM_EOF):
                self.assertEqual(struct.unpack(">I", m.payload[2:6])[0], sid)
                break
        else:
            self.fail("no StreamEOF")
        # The name is free again.
        again = Publisher(self.g, "cs")
        self.assertEqual(again.status["code"], "NetStream.Publish.Start")

    def test_acknowledgement_after_each_window(self):
        pub = Publisher(self.g, "ack")
        pub.c.send_message(2, 5, 0, struct.pack(">I", 10000))  # our Window Acknowledgement Size
        pub.headers()
        for _ in range(30):
            pub.gop(5)  # about 2 KB each
        deadline = time.monotonic() + 5
        acks = []
        pub.c.sock.settimeout(1)
        while time.monotonic() < deadline and not acks:
            try:
                m = pub.c.read_message()
            except OSError:
                continue
            if m.type_id == 3:
                acks.append(struct.unpack(">I", m.payload)[0])
        self.assertTrue(acks, "no Acknowledgement")
        self.assertGreaterEqual(acks[0], 10000)


class PingTest(harness.GatewayTest):
    def test_quiet_player_is_pinged_and_kept_when_it_answers(self):
        g = self.gateway(harness.engine_config("limits:\n  idle_timeout: 2s\n"))
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        c.connect("live")
        c.play("nobody")  # waits for a publisher: nothing flows
        deadline = time.monotonic() + 4
        pings = 0
        c.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                m = c.read_message()  # answers PingRequest with PingResponse
            except OSError:
                continue
            if m.type_id == USER_CONTROL and m.payload[:2] == struct.pack(">H", PING_REQUEST):
                pings += 1
        self.assertGreaterEqual(pings, 1)
        # It answered, so it is still there: past twice the idle timeout, it is served.
        c.sock.settimeout(5)
        self.assertGreater(c.create_stream(), 0)

    def test_each_deadline_of_an_engine_client_is_named_and_counted(self):
        g = self.gateway(harness.engine_config("limits:\n  idle_timeout: 2s\n  handshake_timeout: 1s\n"))
        port = g.port("rtmp")
        half = socket.create_connection(("127.0.0.1", port), timeout=5)
        half.sendall(b"\x03" + b"\x00" * 700)  # a handshake cut short
        no_connect = Client("127.0.0.1", port)
        no_connect.handshake()  # and nothing after it
        silent = Client("127.0.0.1", port)
        silent.handshake()
        silent.connect("live")  # then nothing, not even an answer to the ping
        for deadline in ("handshake", "connect_command", "client_idle"):
            self.assertEqual(harness.wait_metric(g, "rtmpgate_timeouts_total", 1, deadline=deadline), 1,
                             deadline + "\n" + g.log())
        for sock in (half, no_connect.sock, silent.sock):
            sock.close()
        log = g.log()
        for reason in ("handshake timed out", "connect command timed out", "client idle timed out"):
            self.assertIn("reason=" + reason, log)
        self.assertNotIn("Operation canceled", log)


if __name__ == "__main__":
    import unittest
    unittest.main()
