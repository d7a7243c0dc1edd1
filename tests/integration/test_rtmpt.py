"""RTMPT: RTMP tunnelled in HTTP POSTs, as ffmpeg and librtmp speak it, and on raw HTTP."""

import asyncio
import os
import re
import socket
import subprocess
import time
import unittest

import harness
from harness import count, metric, probe_codecs, probe_packets, wait_metric
from rtmp_client import Client
from rtmpt_client import HttpConnection, Tunnel, TunnelSocket


def rtmpt_config(extra=""):
    return f"""listeners:
  http: 127.0.0.1:0
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: "*"
    to: engine
{extra}"""


def within(actual, expected, fraction=0.03, slack=2):
    return abs(actual - expected) <= max(slack, expected * fraction)


def clip_bitrate(path):
    """Bits per second of a media file: its size over its duration."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         capture_output=True, text=True, timeout=60)
    return os.path.getsize(path) * 8 / float(out.stdout.strip())


def receive_within(t, n, timeout=3.0):
    """Polls the tunnel `t` until `n` bytes arrived or `timeout` passed; returns what arrived."""
    deadline = time.monotonic() + timeout
    while len(t.received) < n and time.monotonic() < deadline:
        r = t.idle()
        if r.status != 200:
            break
    out, t.received = t.received[:n], t.received[n:]
    return out


class RtmptMediaTest(harness.GatewayTest):
    def check(self, path, expected):
        got = probe_packets(path)
        self.assertEqual(probe_codecs(path), {"video": "h264", "audio": "aac"}, path)
        self.assertTrue(within(count(got, "video"), count(expected, "video")),
                        f"{path}: {count(got, 'video')} video of {count(expected, 'video')}")
        self.assertTrue(within(count(got, "audio"), count(expected, "audio")),
                        f"{path}: {count(got, 'audio')} audio of {count(expected, 'audio')}")

    def run_session(self, publish_scheme, players):
        g = self.gateway(rtmpt_config())
        # Noise on every frame keeps x264 from shrinking the test pattern: the clip truly is ~3 Mb/s.
        clip = harness.make_clip("h264_720p_3M_noise_6s.flv", seconds=6, size="1280x720",
                                 extra=("-vf", "noise=alls=20:allf=t", "-b:v", "3M", "-minrate", "3M",
                                        "-maxrate", "3M", "-bufsize", "3M"))
        bitrate = clip_bitrate(clip)
        self.assertGreaterEqual(bitrate, 2.5e6, f"{clip}: {bitrate / 1e6:.2f} Mb/s, not a 3 Mb/s clip")
        expected = probe_packets(clip)
        procs = []
        for i, (tool, scheme) in enumerate(players):
            url = g.url("live/t", scheme)
            out = self.path(f"play{i}.flv")
            play = harness.ffmpeg_play if tool == "ffmpeg" else harness.rtmpdump_play
            procs.append((self.track(play(self.workdir, url, out, name=f"play{i}")), out))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", len(players)), len(players), g.log())
        started = time.monotonic()
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/t", publish_scheme)))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        elapsed = time.monotonic() - started
        # -re paces input at real time: a publisher that fell behind would take visibly longer.
        self.assertLess(elapsed, 6 + 4, f"publishing a 6 s clip took {elapsed:.1f}s")
        for p, out in procs:
            self.assertEqual(p.wait(timeout=20), 0, f"{p.args[0]} {out}:\n{p.output()}")
            self.check(out, expected)
        return g

    def test_publish_rtmpt_play_rtmp(self):
        self.run_session("rtmpt", [("ffmpeg", "rtmp")])

    def test_publish_rtmp_play_rtmpt_with_ffmpeg_and_rtmpdump(self):
        self.run_session("rtmp", [("ffmpeg", "rtmpt"), ("rtmpdump", "rtmpt")])

    def test_publish_and_play_rtmpt_at_once(self):
        self.run_session("rtmpt", [("ffmpeg", "rtmpt")])

    def test_rtmpdump_idle_request_rate(self):
        g = self.gateway(rtmpt_config())

        def rates(what, seconds=3):
            names = ("rtmpgate_rtmpt_requests_total", "rtmpgate_rtmpt_empty_idle_replies_total")
            before = [metric(g, n) for n in names]
            time.sleep(seconds)
            requests, empty = ((metric(g, n) - b) / seconds for n, b in zip(names, before))
            print(f"rtmpdump polling {what}: {requests:.1f} requests/s, {empty:.1f} empty replies/s")
            return requests, empty

        rd = self.track(harness.rtmpdump_play(self.workdir, g.url("live/quiet", "rtmpt"), self.path("rd.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        # Nothing to send: each poll is held idle_hold (200 ms), so about 5 a second, all empty.
        requests, empty = rates("while it waits for a stream")
        self.assertLessEqual(requests, 6)
        self.assertGreater(requests, 0, "rtmpdump should still be polling")
        self.assertGreater(empty, 0.8 * requests)
        # While a live stream flows to it (25 frames and 43 audio packets a second, 68 messages):
        # a poll is held until the next message comes and is answered with all that came since the
        # last, so no reply goes out empty and there is at most one request per message (and an
        # acknowledgement now and then). How many messages share a reply depends on how ffmpeg's
        # writes arrive: about 26 requests a second on an idle machine, up to 55 on a loaded one.
        clip = harness.make_clip("h264_aac_6s.flv")
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/quiet")))
        self.assertEqual(wait_metric(g, "rtmpgate_players", 1), 1, g.log())
        time.sleep(1)
        requests, empty = rates("during a live stream")
        self.assertLessEqual(requests, 68 + 2)
        self.assertLessEqual(empty, 1, "a held poll went back empty while the stream flowed")
        self.assertGreater(requests, 5, "rtmpdump should be fetching the stream")
        self.assertEqual(pub.wait(timeout=30), 0, pub.output())
        rd.kill()


    def test_a_reply_the_client_does_not_take_ends_its_connection(self):
        """A client that polls but never reads the replies (a 4 Mb/s stream's output piling up in
        them) has its connection closed once a reply's write makes no progress for
        rtmpt.write_timeout, counted as a client_write deadline; the publisher goes on."""
        g = self.gateway(rtmpt_config("rtmpt:\n  write_timeout: 2s\n"))
        # Long enough that the stream still flows when the buffers between the two are full
        # (about 6 s here).
        clip = harness.make_clip("h264_aac_20s_4M.flv", seconds=20, extra=("-b:v", "4M"))
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/w")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        # A player through the tunnel, then its polls on a connection that reads nothing.
        tunnel = TunnelSocket(g.port("http"))
        player = Client(None, None, sock=tunnel)
        player.handshake()
        self.assertEqual(player.connect("live")[0], "_result")
        player.play("w")
        t = tunnel.tunnel
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", g.port("http")))
        self.addCleanup(slow.close)
        seq, started = t.seq, time.monotonic()
        timed_out = lambda: metric(g, "rtmpgate_timeouts_total", deadline="client_write") >= 1
        while not timed_out() and time.monotonic() - started < 15:
            try:
                slow.sendall(f"POST /idle/{t.id}/{seq} HTTP/1.1\r\nHost: x\r\n"
                             "Content-Type: application/x-fcs\r\nContent-Length: 1\r\n\r\n\x00".encode())
            except OSError:
                break  # closed by the gateway
            seq += 1
            time.sleep(0.25)
        self.assertTrue(harness.wait_for(timed_out, timeout=5), g.log())
        took = time.monotonic() - started
        print(f"a client that reads no reply: closed {took:.1f} s after its first poll (write_timeout 2 s)")
        self.assertRegex(g.log(), r"a reply's write made no progress for 2000ms \(rtmpt.write_timeout\): closed")
        # The gateway closed the socket: what was in flight, then the end.
        slow.settimeout(5)
        closed = False
        try:
            while slow.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        self.assertTrue(closed)
        self.assertIsNone(pub.proc.poll(), "the publisher still streams")
        self.assertTrue(g.alive())


class RtmptProtocolTest(harness.GatewayTest):
    # The rtmpt: section of each test's gateway; tests not named here get DEFAULT_RTMPT.
    DEFAULT_RTMPT = "rtmpt:\n  max_body: 1MiB\n  gap_timeout: 2s\n"
    RTMPT = {
        "test_max_sessions_refuses_with_503_until_one_closes": "rtmpt:\n  max_sessions: 3\n",
        "test_expired_session_is_404": "rtmpt:\n  session_timeout: 1s\n  idle_hold: 100ms\n",
        "test_idle_in_two_segments_is_held": "rtmpt:\n  idle_hold: 100ms\n",
        "test_oversized_body_is_413_and_session_unharmed": "rtmpt:\n  max_body: 1MiB\n  gap_timeout: 500ms\n",
        # A hold far longer than the bound below: only the pipelined send can release the idle.
        "test_pipelined_send_releases_held_idle": "rtmpt:\n  idle_hold: 5s\n",
    }

    def setUp(self):
        super().setUp()
        self.g = self.gateway(rtmpt_config(self.RTMPT.get(self._testMethodName, self.DEFAULT_RTMPT)))
        self.port = self.g.port("http")

    def test_reply_format(self):
        c = HttpConnection(self.port)
        r = c.request("/open/1", b"\x00")
        self.assertEqual(r.status_line, "HTTP/1.1 200 OK")
        self.assertIn(f"\r\nContent-Length: {len(r.body)}", "\r\n" + r.header_text)
        self.assertEqual(r.headers["content-type"], "application/x-fcs")
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertEqual(r.headers["connection"].lower(), "keep-alive")
        self.assertNotIn("transfer-encoding", r.headers)
        self.assertRegex(r.body.decode(), r"^[A-Za-z0-9]{16,32}\n$")
        self.assertEqual(r.body.count(b"\n"), 1)
        # empty body to /open/1
        r2 = c.request("/open/1", b"")
        self.assertEqual(r2.status, 200)
        self.assertRegex(r2.body.decode(), r"^[A-Za-z0-9]{16,32}\n$")
        self.assertNotEqual(r.body, r2.body)

    def test_idle_is_never_empty_and_is_held(self):
        t = Tunnel(self.port)
        started = time.monotonic()
        r = t.idle()
        held = time.monotonic() - started
        self.assertEqual(len(r.body), 1, "nothing pending: the poll byte alone")
        self.assertGreaterEqual(held, 0.1, "an empty idle reply is held (long poll)")
        self.assertLess(held, 2.0)
        t.close()

    def test_idle_in_two_segments_is_held(self):
        # ffmpeg sends a request's header and its body in two send()s. When the body is read
        # without a wait, its arrival must not end the hold of the /idle it belongs to.
        for gap in (0, 0, 0.00005, 0.0002, 0.001) * 8:
            t = Tunnel(self.port)
            head = (f"POST /idle/{t.id}/0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/x-fcs\r\nContent-Length: 1\r\n\r\n")
            started = time.monotonic()
            t.http.sock.sendall(head.encode())
            time.sleep(gap)
            t.http.sock.sendall(b"\x00")
            r = t.http.read_response()
            held = time.monotonic() - started
            self.assertEqual((r.status, len(r.body)), (200, 1), f"gap {gap}: the poll byte alone")
            self.assertGreaterEqual(held, 0.05, f"gap {gap}: an empty /idle is held (100 ms)")
            t.close()

    def test_unknown_session_and_ident2(self):
        c = HttpConnection(self.port)
        for path in ("/send/NoSuchSession123/0", "/idle/NoSuchSession123/0", "/close/NoSuchSession123/0",
                     "/fcs/ident2"):
            r = c.request(path, b"\x00")
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.body, b"", path)
            self.assertEqual(r.headers["content-length"], "0")
        # ffmpeg asks /fcs/ident2 of every server: answered, but no refusal of a client's.
        self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason="unknown_session"), 3)
        self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason="bad_rtmpt_request"), 0)
        for method, path in (("GET", "/open/1"), ("POST", "/nope/1")):
            c.sock.sendall(f"{method} {path} HTTP/1.1\r\nContent-Length: 0\r\n\r\n".encode())
            self.assertIn(c.read_response().status, (404, 405), path)
        self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason="bad_rtmpt_request"), 2)

    def test_close_with_and_without_sequence(self):
        for path in ("/close/{}/1", "/close/{}"):
            t = Tunnel(self.port)
            t.send(b"\x03")
            r = t.http.request(path.format(t.id), b"")
            self.assertEqual((r.status, r.body), (200, b"\x00"))
            r = t.http.request(f"/idle/{t.id}/2", b"\x00")
            self.assertEqual(r.status, 404, "a closed session is gone")

    def test_handshake_through_the_tunnel(self):
        t = Tunnel(self.port)
        c1 = bytes(1536)
        t.send(b"\x03" + c1)
        s = t.receive(1 + 1536 * 2)
        self.assertEqual(s[0], 3)
        self.assertEqual(s[1 + 1536 + 8:], c1[8:], "S2 echoes C1")
        t.close()

    def test_out_of_order_and_duplicate_over_two_connections(self):
        t = Tunnel(self.port)
        other = HttpConnection(self.port)
        c0c1 = b"\x03" + bytes(1536)
        # seq 1 arrives first on another connection, then 0, then 1 again (a retry)
        # Replies to /send carry pending output too: keep it, in the order the replies came.
        for conn, seq, part in ((other, 1, c0c1[700:]), (t.http, 0, c0c1[:700]), (other, 1, c0c1[700:])):
            r = conn.request(f"/send/{t.id}/{seq}", part)
            self.assertEqual(r.status, 200)
            t.received += r.body[1:]
        t.seq = 2
        s = t.receive(1 + 1536 * 2)
        self.assertEqual(s[1 + 1536 + 8:], c0c1[1 + 8:], "delivered once, in order")
        time.sleep(0.3)
        r = t.idle()
        self.assertEqual(len(r.body), 1, "nothing more: the poll byte alone")

    def test_gap_that_never_fills_fails_the_session(self):
        t = Tunnel(self.port)
        t.send(b"\x03")
        r = t.http.request(f"/send/{t.id}/5", b"\x00")
        self.assertEqual(r.status, 200)
        self.assertTrue(harness.wait_for(
            lambda: t.http.request(f"/idle/{t.id}/9", b"\x00").status == 404, timeout=6))

    def test_pipelined_send_releases_held_idle(self):
        t = Tunnel(self.port)
        t.send(b"\x03" + bytes(1536))
        t.receive(3073)
        started = time.monotonic()
        t.http.send_request(f"/idle/{t.id}/{t.seq}", b"\x00")
        t.http.send_request(f"/send/{t.id}/{t.seq + 1}", bytes(1536))  # C2
        a = t.http.read_response()
        b = t.http.read_response()
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertLess(time.monotonic() - started, 2, "the held idle was answered before its 5 s hold")

    def test_http10_and_expect_continue(self):
        c = HttpConnection(self.port)
        r = c.request("/open/1", b"\x00", version="HTTP/1.0")
        self.assertEqual(r.status_line, "HTTP/1.1 200 OK")
        sid = r.body.decode().strip()
        r = c.request(f"/idle/{sid}/0", b"\x00", version="HTTP/1.0")
        self.assertEqual(r.status, 200, "the HTTP/1.0 connection stayed open")
        c.send_request(f"/send/{sid}/1", b"\x03" + bytes(1536), extra_headers=("Expect: 100-continue",))
        interim = c.read_response()
        self.assertEqual(interim.status, 100)
        final = c.read_response()
        self.assertEqual(final.status, 200)

    def refuse_oversized(self, t):
        """A /send of `t` at its next number with a body over max_body (1 MiB): 413, and the
        connection ends. The number is not advanced: the client sends the real bytes with it."""
        big = HttpConnection(self.port)
        # The header alone: the server answers before reading a body it will not take, and a
        # client still writing 2 MiB would see its connection reset rather than the answer.
        big.sock.sendall(f"POST /send/{t.id}/{t.seq} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Content-Type: application/x-fcs\r\nContent-Length: {2 << 20}\r\n\r\n".encode())
        r = big.read_response()
        self.assertEqual(r.status, 413)
        self.assertTrue(big.closed_by_peer())
        big.close()

    def resend_on_new_connection(self, t, body):
        """The /send that the 413 refused, again with the same number, on a new connection."""
        retry = HttpConnection(self.port)
        r = retry.request(f"/send/{t.id}/{t.seq}", body)
        retry.close()
        self.assertEqual(r.status, 200, "the same sequence number with a body that fits is accepted")
        t.received += r.body[1:]
        t.seq += 1

    def test_oversized_body_is_413_and_session_unharmed(self):
        # a: the refused body was to be the session's first (where C0C1 goes).
        a = Tunnel(self.port)
        self.refuse_oversized(a)
        c1a = os.urandom(1536)
        self.resend_on_new_connection(a, b"\x03" + c1a)
        # b: the refused body came in mid-stream, after C0 alone.
        b = Tunnel(self.port)
        r = b.send(b"\x03")
        self.assertEqual(r.status, 200)
        self.refuse_oversized(b)
        c1b = os.urandom(1536)
        self.resend_on_new_connection(b, c1b)
        for name, t, c1 in (("a", a, c1a), ("b", b, c1b)):
            s = receive_within(t, 1 + 1536 * 2)
            self.assertEqual(len(s), 3073, f"{name}: the resent bytes were delivered: S0S1S2 comes back")
            self.assertEqual(s[0], 3, name)
            self.assertEqual(s[1 + 1536 + 8:], c1[8:], f"{name}: S2 echoes the resent C1")
        # No gap was left behind: both sessions outlive gap_timeout (500 ms) with nothing sent.
        time.sleep(1.5)
        for name, t in (("a", a), ("b", b)):
            r = t.idle()
            self.assertEqual(r.status, 200, f"{name}: the session outlived gap_timeout")
            self.assertEqual(r.body[1:], b"", f"{name}: the C1 was delivered once")
            r = t.close()
            self.assertEqual((r.status, r.body), (200, b"\x00"), name)
        self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason="body_too_large"), 2)
        self.assertTrue(self.g.alive())

    def test_garbage_is_400_and_process_unharmed(self):
        junk_lines = (b"\x16\x03\x01\x02\x00garbage\r\n\r\n",   # a TLS ClientHello on the HTTP port
                      b"HELLO THERE\r\n\r\n",                      # no HTTP version
                      b"POST /x HTTP/9\r\n\r\n",                    # a version that is not HTTP/d.d
                      b"POST /open/1 HTTP/1.1 extra\r\n\r\n",       # a word after the version
                      b"\x00\x01\x02\r\n\r\n",                       # binary
                      b"POST /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n")  # over the 8 KiB header bound
        for junk in junk_lines:
            c = HttpConnection(self.port)
            c.sock.sendall(junk)
            try:
                r = c.read_response()
            except (ConnectionError, OSError) as e:
                self.fail(f"{junk[:40]!r}: no HTTP answer ({e!r}); the server can answer 400 here")
            self.assertEqual(r.status_line, "HTTP/1.1 400 Bad Request", junk[:40])
            self.assertEqual(r.body, b"", junk[:40])
            self.assertTrue(c.closed_by_peer(), f"{junk[:40]!r}: the connection ends after the 400")
            c.close()
            self.assertTrue(self.g.alive(), junk[:40])
        c = HttpConnection(self.port)
        r = c.request("/open/1", b"\x00")
        self.assertEqual(r.status, 200)
        t_id = r.body.decode().rstrip("\n")
        r = c.request(f"/send/{t_id}/0", b"\x03" + bytes(1536))
        self.assertEqual(r.status, 200, "a normal session works after the garbage")
        self.assertTrue(self.g.alive())

    def test_two_hundred_sessions(self):
        """200 sessions open at the same time: all open first, then each does a handshake, then
        each closes; the gateway counts 200 open sessions in between."""
        n = 200

        class Session:
            def __init__(self):
                self.reader = self.writer = self.id = None
                self.seq = 0

            async def request(self, path, body):
                self.writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-fcs\r\n"
                                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                return status, await self.reader.readexactly(length)

            async def open(self, port):
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
                status, body = await self.request("/open/1", b"\x00")
                assert status == 200, status
                self.id = body.decode().rstrip("\n")

            async def handshake(self):
                c1 = os.urandom(1536)
                status, body = await self.request(f"/send/{self.id}/{self.seq}", b"\x03" + c1)
                assert status == 200, status
                got = body[1:]
                for _ in range(100):
                    if len(got) >= 3073:
                        break
                    self.seq += 1
                    status, body = await self.request(f"/idle/{self.id}/{self.seq}", b"\x00")
                    assert status == 200, status
                    got += body[1:]
                self.seq += 1
                return len(got) == 3073 and got[1 + 1536 + 8:] == c1[8:]

            async def close(self):
                status, body = await self.request(f"/close/{self.id}/{self.seq}", b"\x00")
                self.seq += 1
                after, _ = await self.request(f"/idle/{self.id}/{self.seq}", b"\x00")
                self.writer.close()
                return (status, body, after) == (200, b"\x00", 404)

        sessions = [Session() for _ in range(n)]

        async def phase(work, timeout):
            return await asyncio.wait_for(asyncio.gather(*(work(s) for s in sessions)), timeout=timeout)

        async def run():
            await phase(lambda s: s.open(self.port), 30)
            ids = {s.id for s in sessions}
            # Counted while every session is open and none has sent a byte yet.
            open_now = await asyncio.to_thread(metric, self.g, "rtmpgate_rtmpt_sessions_open")
            shaken = await phase(lambda s: s.handshake(), 60)
            open_after = await asyncio.to_thread(metric, self.g, "rtmpgate_rtmpt_sessions_open")
            closed = await phase(lambda s: s.close(), 30)
            return ids, open_now, shaken, open_after, closed

        ids, open_now, shaken, open_after, closed = asyncio.run(run())
        self.assertEqual(len(ids), n, "every session has an id of its own")
        self.assertEqual(open_now, n, "all sessions open at once")
        self.assertEqual(sum(shaken), n, "every session did its handshake")
        self.assertEqual(open_after, n, "all sessions still open after every handshake")
        self.assertEqual(sum(closed), n, "every session closed, and is gone after")
        self.assertTrue(harness.wait_for(lambda: metric(self.g, "rtmpgate_rtmpt_sessions_open") == 0, timeout=10))
        self.assertTrue(self.g.alive())

    def test_max_sessions_refuses_with_503_until_one_closes(self):
        # max_sessions: 3
        c = HttpConnection(self.port)
        tunnels = [Tunnel(self.port) for _ in range(3)]
        r = c.request("/open/1", b"\x00")
        self.assertEqual(r.status, 503, "the 4th session is refused")
        self.assertEqual(r.headers["content-length"], str(len(r.body)))
        self.assertEqual(c.request("/open/1", b"").status, 503, "and stays refused")
        # The refusal harmed none of the open sessions, nor the connection it came on.
        for t in tunnels:
            self.assertEqual(t.idle().status, 200)
        r = tunnels[1].close()
        self.assertEqual((r.status, r.body), (200, b"\x00"))
        r = c.request("/open/1", b"\x00")
        self.assertEqual(r.status, 200, "a closed session frees its place at once")
        self.assertRegex(r.body.decode(), r"^[A-Za-z0-9]{16,32}\n$")
        sid = r.body.decode().rstrip("\n")
        self.assertEqual(c.request(f"/idle/{sid}/0", b"\x00").status, 200, "the new session works")
        self.assertEqual(c.request("/open/1", b"\x00").status, 503, "3 open again: the 4th is refused again")
        self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason="max_sessions"), 3)
        self.assertTrue(self.g.alive())

    def test_expired_session_is_404(self):
        # session_timeout: 1s, idle_hold: 100ms
        t = Tunnel(self.port)
        # Requests keep it alive for longer than the timeout...
        for _ in range(6):
            self.assertEqual(t.idle().status, 200, "a session in use does not expire")
            time.sleep(0.4)
        # ...and silence for longer than it ends it. (Polling here would keep it alive.)
        time.sleep(2.0)
        for path in (f"/idle/{t.id}/{t.seq}", f"/send/{t.id}/{t.seq}"):
            r = t.http.request(path, b"\x00")
            self.assertEqual(r.status, 404, f"{path}: the expired session is gone")
            self.assertEqual(r.body, b"", path)
            self.assertEqual(r.headers["content-length"], "0", path)
        self.assertTrue(self.g.alive())

if __name__ == "__main__":
    unittest.main()
