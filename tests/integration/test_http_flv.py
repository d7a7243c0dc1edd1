"""Browsers' transports on the http and https listeners: HTTP-FLV read by real ffmpeg over http://
and https:// (dev CA), WebSocket-FLV read by a small hand-written WebSocket client, a viewer that
stops reading (dropped to keyframes, then closed, while another viewer loses nothing), bad
requests, access rules with signed tokens, CORS and the player page's files."""

import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import subprocess
import threading
import time

import harness
from harness import count, metric, probe_packets, wait_for, wait_metric

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def http_config(certs, extra="", routes='  - app: "*"\n    to: engine\n'):
    return harness.all_listeners_config(certs, routes, extra)


def read_head(sock, limit=16384):
    """The status code and headers (lower-case names) of an HTTP response; what followed the head
    is returned too."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before the response head: {data!r}")
        data += chunk
        if len(data) > limit:
            raise AssertionError("response head too long")
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def request(port, path, headers=(), method="GET", tls_ca=None, timeout=10):
    """One request on a new connection: (status, headers, body as far as Content-Length says)."""
    sock = connect(port, tls_ca, timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
        sock.sendall("\r\n".join(lines).encode())
        status, hdrs, body = read_head(sock)
        want = int(hdrs.get("content-length", "0"))
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, hdrs, body
    finally:
        sock.close()


def connect(port, tls_ca=None, timeout=10, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return sock


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_read_flv(port, path, out_path, seconds, tls_ca=None):
    """Reads WebSocket-FLV from `path` for up to `seconds` (or until the server closes) with a
    hand-written client: the upgrade, then unmasked server frames. Writes the binary messages'
    octets to `out_path`; returns (number of binary messages, whether a close frame came)."""
    sock = connect(port, tls_ca)
    key = ws_key()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Origin: http://127.0.0.1\r\n\r\n").encode())
    status, headers, data = read_head(sock)
    if status != 101:
        raise AssertionError(f"upgrade answered {status}")
    accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != accept:
        raise AssertionError(f"bad Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")
    messages, closed = 0, False
    deadline = time.monotonic() + seconds
    buf = bytearray(data)

    def need(n):
        while len(buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf.extend(chunk)

    with open(out_path, "wb") as out:
        try:
            while True:
                need(2)
                b0, b1 = buf[0], buf[1]
                if b1 & 0x80:
                    raise AssertionError("a server frame is masked")
                length, at = b1 & 0x7F, 2
                if length == 126:
                    need(4)
                    length, at = struct.unpack(">H", bytes(buf[2:4]))[0], 4
                elif length == 127:
                    need(10)
                    length, at = struct.unpack(">Q", bytes(buf[2:10]))[0], 10
                need(at + length)
                payload = bytes(buf[at:at + length])
                del buf[:at + length]
                opcode = b0 & 0x0F
                if opcode == 0x8:
                    closed = True
                    break
                if opcode in (0x2, 0x0):
                    if not b0 & 0x80 and opcode == 0x2:
                        raise AssertionError("a fragmented message: auto_fragment should be off")
                    out.write(payload)
                    messages += 1
                elif opcode == 0x1:
                    raise AssertionError("a text message")
        except (TimeoutError, socket.timeout, EOFError):
            pass
    sock.close()
    return messages, closed


def ffmpeg_read(workdir, url, out, name, ca_file=None, seconds=None):
    """ffmpeg reading an HTTP(S)-FLV URL, timestamps kept as the stream has them (so that what a
    late joiner got compares with the clip from where it joined)."""
    args = ["ffmpeg", "-nostdin", "-v", "warning", "-y"]
    if ca_file:
        args += ["-ca_file", ca_file, "-tls_verify", "1"]
    args += ["-copyts", "-i", url, "-c", "copy"]
    if seconds:
        args += ["-t", str(seconds)]
    args += ["-f", "flv", out]
    return harness.Process(args, workdir, name, 90)


def from_first_keyframe(expected, got):
    """The clip's packets from the first video packet `got` holds (a late joiner starts on the
    GOP in progress)."""
    start = min(p[1] for p in got if p[0] == "video")
    return [p for p in expected if p[1] >= start - 0.001]


class HttpFlvTest(harness.GatewayTest):
    @classmethod
    def setUpClass(cls):
        cls.certs = harness.dev_certs("default")
        cls.clip = harness.make_clip("h264_aac_8s.flv", seconds=8)
        cls.expected = probe_packets(cls.clip)

    def assert_from_join(self, path):
        got = probe_packets(path)
        self.assertTrue(got, f"{path}: nothing read")
        want = from_first_keyframe(self.expected, got)
        for kind in ("video", "audio"):
            self.assertTrue(harness.within(count(got, kind), count(want, kind)),
                            f"{path}: {count(got, kind)} {kind} packets, {count(want, kind)} published "
                            "from its first keyframe on")
        self.assertEqual(harness.probe_codecs(path), {"video": "h264", "audio": "aac"}, path)
        return got

    def test_ffmpeg_reads_http_and_https_and_websocket(self):
        """ffmpeg reads http:// and https:// (verified against the dev CA) and a WebSocket client
        reads the same stream: each gets every packet from the keyframe it joined on, and the
        stream's end ends each response cleanly."""
        g = self.gateway(http_config(self.certs))
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/a")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        http_url = f"http://127.0.0.1:{g.port('http')}/live/a.flv"
        https_url = f"https://localhost:{g.port('https')}/live/a.flv"
        ca = os.path.join(self.certs, "ca.crt")
        plain = self.track(ffmpeg_read(self.workdir, http_url, self.path("http.flv"), "http"))
        secure = self.track(ffmpeg_read(self.workdir, https_url, self.path("https.flv"), "https", ca))
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 2, transport="http-flv"), 2, g.log())
        messages, closed = ws_read_flv(g.port("http"), "/live/a.flv", self.path("ws.flv"), 30)
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(plain.wait(timeout=20), 0, plain.output())
        self.assertEqual(secure.wait(timeout=20), 0, secure.output())
        self.assertTrue(closed, "the stream's end closes the WebSocket with a close frame")
        self.assertGreater(messages, 10)
        for name in ("http.flv", "https.flv", "ws.flv"):
            self.assert_from_join(self.path(name))
        with open(self.path("ws.flv"), "rb") as f:
            head = f.read(13)
        self.assertEqual(head[:4], b"FLV\x01", "the first message starts with the FLV header")
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 0, transport="http-flv"), 0)
        self.assertEqual(metric(g, "rtmpgate_viewers", transport="ws-flv"), 0)
        self.assertEqual(wait_metric(g, "rtmpgate_streams", 0), 0, "the engine forgets the stream")
        self.assertEqual(len(re.findall(r'stopped playing "live/a": the publisher left', g.log())), 3,
                         g.log())

    def test_https_websocket(self):
        g = self.gateway(http_config(self.certs))
        self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/w")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        messages, closed = ws_read_flv(g.port("https"), "/live/w.flv", self.path("wss.flv"), 4,
                                       os.path.join(self.certs, "ca.crt"))
        self.assertGreater(messages, 10)
        got = probe_packets(self.path("wss.flv"))
        self.assertGreater(count(got, "video"), 25 * 2, "about 3 s of 25 fps video in 4 s")

    def test_slow_viewer_dropped_then_closed_another_loses_nothing(self):
        """A viewer that reads nothing is dropped to keyframes (media_dropped grows) and closed
        once a write makes no progress for http_flv.write_timeout; a viewer of the same stream that
        reads gets every packet."""
        clip = harness.make_clip("h264_aac_10s_4M.flv", seconds=10, extra=("-b:v", "4M"))
        expected = probe_packets(clip)
        g = self.gateway(http_config(self.certs, """engine:
  player_queue_bytes: 1MiB
http_flv:
  write_timeout: 2s
"""))
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/s")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        slow = connect(g.port("http"), rcvbuf=4096)
        slow.sendall(b"GET /live/s.flv HTTP/1.1\r\nHost: x\r\n\r\n")
        fast = self.track(ffmpeg_read(self.workdir, f"http://127.0.0.1:{g.port('http')}/live/s.flv",
                                      self.path("fast.flv"), "fast"))
        self.assertTrue(wait_for(lambda: metric(g, "rtmpgate_media_dropped_messages_total") > 0, 15),
                        "nothing dropped for the viewer that reads nothing")
        self.assertTrue(wait_for(lambda: "a write made no progress" in g.log(), 15), g.log())
        self.assertGreaterEqual(metric(g, "rtmpgate_timeouts_total", deadline="client_write"), 1)
        # The slow one is gone while the stream goes on.
        self.assertIsNone(pub.proc.poll(), "the publisher still streams")
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 1, transport="http-flv"), 1)
        slow.close()
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(fast.wait(timeout=20), 0, fast.output())
        got = probe_packets(self.path("fast.flv"))
        want = from_first_keyframe(expected, got)
        for kind in ("video", "audio"):
            self.assertTrue(harness.within(count(got, kind), count(want, kind)),
                            f"{count(got, kind)} {kind} packets of {count(want, kind)}")

    def test_a_stalled_viewer_keeps_memory_bounded_and_a_drop_ends_it(self):
        """Tens of MB of stream go past an HTTP-FLV viewer that reads nothing (its writes are
        given ten minutes): its queue drops them, and the gateway's resident size grows by a
        fraction of that. Then the admin drops the stream: the viewer's stuck write gets a second,
        not the ten minutes."""
        clip = harness.make_clip("h264_aac_10s_4M.flv", seconds=10, extra=("-b:v", "4M"))
        g = self.gateway(http_config(self.certs, """engine:
  player_queue_bytes: 1MiB
http_flv:
  write_timeout: 10m
"""), measures_memory=True)
        loops = 7  # 8 x 5 MB at eight times real time: 32 Mb/s for 10 s
        pub = self.track(harness.Process(
            ["ffmpeg", "-nostdin", "-v", "warning", "-readrate", "8", "-stream_loop", str(loops), "-i", clip,
             "-c", "copy", "-f", "flv", g.url("live/m")], self.workdir, "publisher-loop", 120))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1, g.log())
        stalled = connect(g.port("http"), rcvbuf=4096)
        self.addCleanup(stalled.close)
        stalled.sendall(b"GET /live/m.flv HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 1, transport="http-flv"), 1, g.log())
        before = harness.rss_kib(g.proc.pid)
        dropped = lambda: metric(g, "rtmpgate_media_dropped_bytes_total")
        self.assertTrue(wait_for(lambda: dropped() > 24 << 20, 60), f"{dropped()} bytes dropped")
        after = harness.rss_kib(g.proc.pid)
        dropped_kib = dropped() // 1024
        print(f"gateway RSS {before} KiB -> {after} KiB while {dropped_kib} KiB were dropped for a "
              f"stalled HTTP-FLV viewer")
        self.assertLess(after - before, dropped_kib // 2)
        self.assertLess(after - before, 12 * 1024)
        self.assertIsNone(pub.proc.poll(), "the publisher still streams")
        self.assertEqual(metric(g, "rtmpgate_viewers", transport="http-flv"), 1)
        started = time.monotonic()
        self.assertEqual(harness.admin_request(g, "/streams/live/m/drop")[0], 200)
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 0, transport="http-flv"), 0, g.log())
        took = time.monotonic() - started
        print(f"the stalled viewer was gone {took:.1f} s after the drop")
        self.assertLess(took, 5)
        self.assertIn('stopped playing "live/m": dropped by the admin', g.log())

    def test_shutdown_ends_viewers(self):
        """SIGTERM ends an HTTP-FLV and a WebSocket-FLV viewer once shutdown_grace is over, as it
        ends RTMP clients (each response ends cleanly: the last chunk, a close frame), and the
        gateway exits 0."""
        g = self.gateway(http_config(self.certs, "shutdown_grace: 1s\n"))
        self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/t")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        reader = self.track(ffmpeg_read(self.workdir, f"http://127.0.0.1:{g.port('http')}/live/t.flv",
                                        self.path("t.flv"), "reader"))
        got = {}
        ws = threading.Thread(target=lambda: got.update(
            r=ws_read_flv(g.port("http"), "/live/t.flv", self.path("tws.flv"), 20)))
        ws.start()
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 1, transport="http-flv"), 1)
        self.assertEqual(wait_metric(g, "rtmpgate_viewers", 1, transport="ws-flv"), 1)
        started = time.monotonic()
        self.assertEqual(g.stop(), 0)
        self.assertLess(time.monotonic() - started, 4)
        ws.join(timeout=30)
        self.assertEqual(got["r"][1], True, "a close frame ended the WebSocket")
        self.assertEqual(len(re.findall(r'stopped playing "live/t": shutdown', g.log())), 2, g.log())
        self.assertEqual(reader.wait(timeout=20), 0, reader.output())

    def test_bad_requests(self):
        g = self.gateway(http_config(self.certs))
        port = g.port("http")
        status, headers, _ = request(port, "/live/nothing.flv")
        self.assertEqual(status, 404, "no publisher")
        # A stream's name is asked for (and decided on) once per connection.
        self.assertEqual(headers.get("connection"), "close")
        for path in ("/", "/live", "/live/a.mp4", "/a/b/c.flv", "/live/%zz.flv", "/live/.flv", "/play"):
            self.assertEqual(request(port, path)[0], 404, path)
        key = ws_key()
        good = ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13"]
        for i, bad in enumerate((
                ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: short",
                 "Sec-WebSocket-Version: 13"],
                ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 8"],
                ["Upgrade: websocket", "Connection: keep-alive", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"],
                ["Upgrade: h2c", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"])):
            self.assertEqual(request(port, "/live/a.flv", bad)[0], 400, i)
        # A good upgrade of a stream not published: 404 before any upgrade.
        self.assertEqual(request(port, "/live/a.flv", good)[0], 404)
        # RTMPT is as it was: a GET of a command is not allowed, an unknown POST is not found.
        self.assertEqual(request(port, "/open/1")[0], 405)
        self.assertEqual(request(port, "/idle/NoSuchSession123/0", method="POST")[0], 404)
        self.assertGreaterEqual(metric(g, "rtmpgate_refusals_total", reason="web_not_found"), 11)
        self.assertEqual(metric(g, "rtmpgate_refusals_total", reason="unknown_stream"), 2)
        # What the client sent is escaped in the log.
        request(port, "/live/%0a\x7fx.flv")
        self.assertTrue(g.alive())

    def test_access_token_and_cors(self):
        secret = self.path("play.key")
        with open(secret, "w") as f:
            f.write("a-play-secret-of-some-length-here\n")
        g = self.gateway(http_config(self.certs, """http_flv:
  allowed_origins: ["https://allowed.example"]
""", f"""  - app: signed
    to: engine
    access:
      play: {{token: true}}
      secret_files: [{secret}]
  - app: "*"
    to: engine
"""))
        self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("signed/s")))
        self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/c")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 2), 2)
        port = g.port("http")
        self.assertEqual(request(port, "/signed/s.flv")[0], 403, "no token")
        out = subprocess.run([harness.BINARY, "sign", "--secret-file", secret, "--app", "signed",
                              "--stream", "s", "--expires", "1h", "--url", "rtmp://127.0.0.1"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        query = out.stdout.strip().split("?", 1)[1]
        sock = connect(port)
        sock.sendall(f"GET /signed/s.flv?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, headers, _ = read_head(sock)
        sock.close()
        self.assertEqual((status, headers.get("content-type")), (200, "video/x-flv"))
        self.assertEqual(request(port, f"/signed/s.flv?{query.replace('sig=', 'sig=0')}")[0], 403)
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="play", decision="allow",
                                reason="token_ok"), 1)
        # CORS: the allowed origin is named, another is not.
        for origin, allowed in (("https://allowed.example", True), ("https://other.example", False)):
            sock = connect(port)
            sock.sendall(f"GET /live/c.flv HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n\r\n".encode())
            status, headers, _ = read_head(sock)
            sock.close()
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("access-control-allow-origin"), origin if allowed else None, origin)
            status, headers, _ = request(port, "/live/c.flv", [f"Origin: {origin}",
                                                                "Access-Control-Request-Method: GET"],
                                         method="OPTIONS")
            self.assertEqual(status, 204)
            self.assertNotIn("content-length", headers, "a 204 says nothing of a body")
            self.assertEqual(headers.get("access-control-allow-origin"), origin if allowed else None, origin)
        # WebSocket: browsers apply no CORS to it, so the gateway refuses pages of other origins
        # itself: the listed one, its own (the Origin's host is the Host) and no Origin pass.
        upgrade = ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {ws_key()}",
                   "Sec-WebSocket-Version: 13"]
        for origin, want in (("https://allowed.example", 101), ("https://other.example", 403),
                             ("http://127.0.0.1", 101), ("http://127.0.0.1.other.example", 403),
                             ("null", 403), (None, 101)):
            extra = [f"Origin: {origin}"] if origin else []
            self.assertEqual(request(port, "/live/c.flv", upgrade + extra, timeout=5)[0], want, origin)
        self.assertEqual(metric(g, "rtmpgate_refusals_total", reason="web_origin"), 3)

    def test_player_files(self):
        site = self.path("site")
        os.makedirs(os.path.join(site, "node_modules", "mpegts.js", "dist"))
        page = b"<!doctype html><title>player</title>\n"
        script = b"/* mpegts.js stand-in */ var mpegts = {};\n" * 100
        with open(os.path.join(site, "player.html"), "wb") as f:
            f.write(page)
        with open(os.path.join(site, "node_modules", "mpegts.js", "dist", "mpegts.js"), "wb") as f:
            f.write(script)
        g = self.gateway(http_config(self.certs, f"player:\n  enabled: true\n  dir: {site}\n"))
        status, headers, body = request(g.port("http"), "/play/live/a")
        self.assertEqual((status, body), (200, page))
        self.assertTrue(headers["content-type"].startswith("text/html"))
        status, headers, body = request(g.port("https"), "/play/mpegts.js",
                                        tls_ca=os.path.join(self.certs, "ca.crt"))
        self.assertEqual((status, body), (200, script))
        self.assertTrue(headers["content-type"].startswith("application/javascript"))
        self.assertEqual(request(g.port("http"), "/play/live")[0], 404)
        # Enabled explicitly without its files, the gateway does not start, and says which key.
        config = self.path("missing.yaml")
        with open(config, "w") as f:
            f.write(http_config(self.certs, f"player:\n  enabled: true\n  dir: {self.path('none')}\n"))
        out = subprocess.run([harness.BINARY, "--config", config], capture_output=True, text=True,
                             timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("player.dir", out.stdout + out.stderr)
        # Without the key, a gateway whose working directory has no web/ starts with the page off.
        g2 = self.gateway(http_config(self.certs, f"player:\n  dir: {self.path('none')}\n"))
        self.assertIn("player page off", g2.log())
        self.assertEqual(request(g2.port("http"), "/play/live/a")[0], 404)


if __name__ == "__main__":
    import unittest
    unittest.main()
