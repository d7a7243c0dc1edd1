"""RTMPT: RTMP tunnelled in HTTP POSTs, as ffmpeg and librtmp speak it, and on raw HTTP."""

import asyncio
import os
import re
import struct
import time
import unittest
import urllib.request

import harness
from harness import count, probe_codecs, probe_packets
from rtmpt_client import HttpConnection, Tunnel


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


def metric(g, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{g.port('admin')}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1))


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
        clip = harness.make_clip("h264_720p_3M_6s.flv", seconds=6, size="1280x720",
                                 extra=("-b:v", "3M", "-maxrate", "3M", "-bufsize", "3M"))
        expected = probe_packets(clip)
        procs = []
        for i, (tool, scheme) in enumerate(players):
            url = g.url("live/t", scheme)
            out = self.path(f"play{i}.flv")
            play = harness.ffmpeg_play if tool == "ffmpeg" else harness.rtmpdump_play
            procs.append((self.track(play(self.workdir, url, out, name=f"play{i}")), out))
        self.assertTrue(harness.wait_for(lambda: g.log().count("waiting for live/t") >= len(players), timeout=15),
                        g.log())
        started = time.monotonic()
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/t", publish_scheme)))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        elapsed = time.monotonic() - started
        # -re paces input at real time: a publisher that fell behind would take visibly longer.
        self.assertLess(elapsed, 6 + 2.5, f"publishing a 6 s clip took {elapsed:.1f}s")
        for p, out in procs:
            p.wait(timeout=20)
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
        rd = self.track(harness.rtmpdump_play(self.workdir, g.url("live/quiet", "rtmpt"), self.path("rd.flv")))
        self.assertTrue(harness.wait_for(lambda: "waiting for live/quiet" in g.log(), timeout=15), g.log())
        before = metric(g, "rtmpgate_rtmpt_requests_total")
        time.sleep(3)
        after = metric(g, "rtmpgate_rtmpt_requests_total")
        rate = (after - before) / 3
        print(f"rtmpdump idle polling: {rate:.1f} requests/s")
        self.assertLessEqual(rate, 50)
        self.assertGreater(rate, 0, "rtmpdump should still be polling")
        rd.kill()


class RtmptProtocolTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.g = self.gateway(rtmpt_config("rtmpt:\n  max_body: 1MiB\n  gap_timeout: 2s\n"))
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

    def test_unknown_session_and_ident2(self):
        c = HttpConnection(self.port)
        for path in ("/send/NoSuchSession123/0", "/idle/NoSuchSession123/0", "/close/NoSuchSession123/0",
                     "/fcs/ident2"):
            r = c.request(path, b"\x00")
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.body, b"", path)
            self.assertEqual(r.headers["content-length"], "0")

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
        self.assertLess(time.monotonic() - started, 0.15, "the held idle was answered at once")

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

    def test_oversized_body_is_413_and_session_unharmed(self):
        t = Tunnel(self.port)
        t.send(b"\x03" + bytes(1536))
        big = HttpConnection(self.port)
        # The header alone: the server answers before reading a body it will not take, and a
        # client still writing 2 MiB would see its connection reset rather than the answer.
        big.sock.sendall(f"POST /send/{t.id}/{t.seq} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Content-Length: {2 << 20}\r\n\r\n".encode())
        r = big.read_response()
        t.seq += 1
        self.assertEqual(r.status, 413)
        self.assertTrue(big.closed_by_peer())
        s = t.receive(3073)
        self.assertEqual(len(s), 3073, "the session still answers")

    def test_garbage_is_400_and_process_unharmed(self):
        for junk in (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"HELLO THERE\r\n\r\n", b"POST /x HTTP/9\r\n\r\n"):
            c = HttpConnection(self.port)
            c.sock.sendall(junk)
            try:
                r = c.read_response()
                self.assertEqual(r.status // 100, 4, junk)
            except ConnectionError:
                pass
            self.assertTrue(c.closed_by_peer())
        self.assertEqual(HttpConnection(self.port).request("/open/1").status, 200)
        self.assertTrue(self.g.alive())

    def test_two_hundred_sessions(self):
        async def one(i):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)

            async def request(path, body):
                writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                return head, await reader.readexactly(n)

            head, body = await request("/open/1", b"\x00")
            sid = body.decode().strip()
            c1 = os.urandom(1536)
            seq = 0
            _, body = await request(f"/send/{sid}/{seq}", b"\x03" + c1)
            got = body[1:]
            while len(got) < 3073:
                seq += 1
                _, body = await request(f"/idle/{sid}/{seq}", b"\x00")
                got += body[1:]
            seq += 1
            head, body = await request(f"/close/{sid}/{seq}", b"\x00")
            writer.close()
            return got[1 + 1536 + 8:] == c1[8:] and body == b"\x00"

        async def all_sessions():
            return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), timeout=120)

        results = asyncio.run(all_sessions())
        self.assertEqual(sum(results), 200)
        self.assertTrue(self.g.alive())


if __name__ == "__main__":
    unittest.main()
