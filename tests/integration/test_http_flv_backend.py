"""HTTP-FLV viewers of streams that live on a backend: for a route to a real nginx-rtmp (over
rtmp://, and rtmps:// through nginx's stream module), the gateway plays each stream from nginx
once, as an RTMP client, however many of its viewers watch it, publishes it into its engine and
serves it from there; the play is closed once the last viewer has left. nginx-rtmp's own
rtmp_stat page (an http server in the test's nginx) and its access log count the plays."""

import json
import os
import socket
import ssl
import threading
import time
import urllib.request

import harness
from harness import assert_media, metric, probe_packets, wait_for, wait_metric

# nginx-rtmp as it comes: the play of a stream nobody publishes gets Play.Start at once, and a
# publisher's end is told by StreamEOF alone.
NGINX_APPS = """    application live {
      live on;
    }"""
# play_restart: Play.Start when the publisher starts, Play.Stop when it leaves.
NGINX_APPS_RESTART = """    application live {
      live on;
      play_restart on;
    }"""


class Nginx:
    """A real nginx-rtmp with its rtmp_stat page and an access log line per RTMP session (at its
    end) naming the command and the client's flashVer (the gateway's says rtmpgate)."""

    def __init__(self, test, apps=NGINX_APPS, stream="", port=None):
        self.access_log = test.path("rtmp-access.log")
        self.process, self.port = harness.start_nginx(
            test, apps, stream=stream, port=port,
            rtmp_extra=f"  log_format sessions '[$app] [$name] [$command] [$flashver]';\n"
                       f"  access_log {self.access_log} sessions;")

    def url(self, path):
        return f"rtmp://127.0.0.1:{self.port}/{path}"

    def clients(self, app, name):
        return harness.nginx_clients(self.port, app, name)

    def players(self, app, name):
        return [c for c in self.clients(app, name) if not c[1]]

    def gateway_plays(self, app, name):
        """PLAY sessions of the gateway that have ended, from the access log."""
        if not os.path.exists(self.access_log):
            return []
        with open(self.access_log) as f:
            return [line for line in f
                    if f"[{app}] [{name}] [PLAY]" in line and "rtmpgate" in line]


def backend_config(backend, extra=""):
    """Every listener on 127.0.0.1:0 (https with the dev certificate), app live routed to
    `backend`."""
    return harness.all_listeners_config(harness.dev_certs("default"), f"""  - app: live
    to: {backend}""", extra)


def ffmpeg_read(workdir, url, out, name, ca_file=None):
    """ffmpeg reading an HTTP(S)-FLV URL to the end of the stream (https verified against
    `ca_file`)."""
    args = ["ffmpeg", "-nostdin", "-v", "warning", "-y"]
    if ca_file:
        args += ["-ca_file", ca_file, "-tls_verify", "1"]
    args += ["-i", url, "-c", "copy", "-f", "flv", out]
    return harness.Process(args, workdir, name, 90)


class Viewer:
    """A light HTTP-FLV client: GET /<path> on its own thread, the chunked body decoded and
    counted (its first octets kept) until the server ends it or stop() is called."""

    def __init__(self, port, path, timeout=60):
        self.status = None
        self.headers = ""
        self.asked_at = time.monotonic()
        self.answered_at = None  # when the response's header had come
        self.body = bytearray()  # the first octets, up to keep
        self.received = 0
        self.ended = False  # the server sent the last chunk or closed
        self.error = None
        self.keep = 1 << 16
        self.stopping = threading.Event()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.deadline = time.monotonic() + timeout
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _recv(self):
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            return data
        raise TimeoutError("stopped")

    def _run(self):
        self.sock.settimeout(0.2)
        buffer = b""
        try:
            while b"\r\n\r\n" not in buffer:
                data = self._recv()
                if not data:
                    raise ConnectionError("closed before the response's header")
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            self.headers = head.decode("latin-1")
            self.status = int(self.headers.split(" ", 2)[1])
            self.answered_at = time.monotonic()
            if self.status != 200:
                self.ended = True
                return
            # Chunked: a hexadecimal size line, that many octets, CRLF; size 0 ends it.
            while True:
                while b"\r\n" not in buffer:
                    data = self._recv()
                    if not data:
                        self.ended = True
                        return
                    buffer += data
                line, buffer = buffer.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.ended = True
                    return
                while len(buffer) < size + 2:
                    data = self._recv()
                    if not data:
                        self.ended = True
                        return
                    buffer += data
                chunk, buffer = buffer[:size], buffer[size + 2:]
                self.received += size
                if len(self.body) < self.keep:
                    self.body += chunk[:self.keep - len(self.body)]
        except Exception as e:  # noqa: BLE001 (reported by the test)
            self.error = e

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        self.sock.close()

    def wait(self, timeout):
        self.thread.join(timeout=timeout)
        return not self.thread.is_alive()


def flv_tags(body):
    """(tag type, timestamp) of the FLV tags wholly inside `body` (an FLV file's first octets)."""
    tags = []
    if body[:3] != b"FLV":
        return tags
    at = int.from_bytes(body[5:9], "big") + 4  # header, then PreviousTagSize0
    while at + 11 <= len(body):
        size = int.from_bytes(body[at + 1:at + 4], "big")
        timestamp = int.from_bytes(body[at + 4:at + 7], "big") | body[at + 7] << 24
        if at + 11 + size + 4 > len(body):
            break
        tags.append((body[at], timestamp))
        at += 11 + size + 4
    return tags


class HttpFlvBackendTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.clip = harness.make_clip("h264_aac_6s.flv")
        self.expected = probe_packets(self.clip)

    def wait_for_pull_play(self, nginx, name, count=1):
        """Waits until nginx-rtmp has `count` players of live/`name`, all of them the gateway."""
        def playing():
            players = nginx.players("live", name)
            return len(players) == count and all("rtmpgate" in p[0] for p in players)
        self.assertTrue(wait_for(playing, timeout=20), nginx.clients("live", name))

    def test_ffmpeg_reads_a_backend_stream_over_http_and_https(self):
        nginx = Nginx(self)
        g = self.gateway(backend_config(f"rtmp://127.0.0.1:{nginx.port}"))
        ca = os.path.join(harness.dev_certs("default"), "ca.crt")
        players = []
        for scheme, host in (("http", "127.0.0.1"), ("https", "localhost")):
            out = self.path(f"{scheme}.flv")
            url = f"{scheme}://{host}:{g.port(scheme)}/live/a.flv"
            players.append((self.track(ffmpeg_read(self.workdir, url, out, scheme,
                                                   ca if scheme == "https" else None)), out))
        # The gateway plays live/a on nginx as soon as its first viewer asks, before anyone
        # publishes (nginx-rtmp's players wait for their stream); both viewers wait with it.
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 2), 2, g.log())
        self.wait_for_pull_play(nginx, "a")
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, nginx.url("live/a")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        # nginx tells the end of the stream (StreamEOF): the pull ends, and the viewers with it.
        for p, out in players:
            self.assertEqual(p.wait(timeout=20), 0, p.output() + g.log())
            assert_media(self, out, self.expected, 0.05)
        self.assertRegex(g.log(), r'pull \d+: "live/a" from rtmp://\S+ ended: the backend ended the stream '
                                  r'\(StreamEOF\)')
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 1)
        self.assertEqual(metric(g, "rtmpgate_pull_failures_total"), 0)
        self.assertEqual(wait_metric(g, "rtmpgate_pulls_open", 0), 0, g.log())
        self.assertEqual(wait_metric(g, "rtmpgate_streams", 0), 0, g.log())
        self.assertTrue(wait_for(lambda: len(nginx.gateway_plays("live", "a")) == 1), g.log())

    def test_fifty_viewers_share_one_upstream_play(self):
        nginx = Nginx(self)
        g = self.gateway(backend_config(f"rtmp://127.0.0.1:{nginx.port}"))
        long_clip = harness.make_clip("h264_aac_20s.flv", seconds=20)
        pub = self.track(harness.ffmpeg_publish(self.workdir, long_clip, nginx.url("live/b")))
        self.assertTrue(wait_for(lambda: nginx.clients("live", "b"), timeout=15), "nobody publishes live/b")
        viewers = [Viewer(g.port("http"), "live/b.flv") for _ in range(50)]
        self.addCleanup(lambda: [v.stop() for v in viewers])
        # Each gets the stream: FLV header, metadata, sequence headers, then frames from a keyframe.
        self.assertTrue(wait_for(lambda: all(v.received >= 200000 or v.error or v.ended for v in viewers),
                                 timeout=30),
                        f"{[v.received for v in viewers]}\n{g.log()}")
        for n, v in enumerate(viewers):
            self.assertIsNone(v.error, n)
            self.assertEqual(v.status, 200, n)
            self.assertFalse(v.ended, f"viewer {n} ended early")
            self.assertIn("video/x-flv", v.headers)
            tags = flv_tags(v.body)
            self.assertEqual(tags[0][0], 18, f"viewer {n} starts with {tags[:3]}")  # onMetaData
            self.assertIn(9, [t for t, _ in tags], n)
            self.assertIn(8, [t for t, _ in tags], n)
        # One upstream play for all 50, counted by nginx and by the gateway.
        players = nginx.players("live", "b")
        self.assertEqual(len(players), 1, players)
        self.assertIn("rtmpgate", players[0][0])
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 1)
        self.assertEqual(metric(g, "rtmpgate_pulls_open"), 1)
        self.assertEqual(metric(g, "rtmpgate_viewers", transport="http-flv"), 50)
        # The admin's /streams shows the pull as the stream's publisher, and the 50 viewers.
        streams = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{g.port('admin')}/streams", timeout=5).read())["streams"]
        [stream] = [s for s in streams if s["key"] == "live/b"]
        self.assertEqual(stream["publisher"]["transport"], "pull", stream)
        self.assertEqual(stream["publisher"]["address"], f"rtmp://127.0.0.1:{nginx.port}", stream)
        self.assertEqual(stream["players"], {"http-flv": 50}, stream)
        # They leave; a second later (the pull's linger) nginx has no player left.
        for v in viewers:
            v.stop()
        left = time.monotonic()
        self.assertTrue(wait_for(lambda: not nginx.players("live", "b"), timeout=10), nginx.clients("live", "b"))
        took = time.monotonic() - left
        print(f"the upstream play closed {took:.1f} s after the last of 50 viewers left (linger 1 s)")
        self.assertGreater(took, 0.5)
        self.assertEqual(wait_metric(g, "rtmpgate_pulls_open", 0), 0, g.log())
        self.assertRegex(g.log(), r'pull \d+: "live/b" from rtmp://\S+ ended: no viewers left')
        # Over the whole test nginx saw one play from the gateway, and the publisher goes on.
        self.assertTrue(wait_for(lambda: len(nginx.gateway_plays("live", "b")) == 1, timeout=5),
                        nginx.gateway_plays("live", "b"))
        self.assertEqual(len(nginx.gateway_plays("live", "b")), 1)
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 1)
        self.assertEqual(metric(g, "rtmpgate_pull_failures_total"), 0)
        self.assertIsNone(pub.proc.poll())
        # A viewer that comes back gets a new play.
        again = Viewer(g.port("http"), "live/b.flv")
        self.addCleanup(again.stop)
        self.assertTrue(wait_for(lambda: again.received > 10000 or again.error, timeout=15), g.log())
        self.assertEqual(again.status, 200)
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 2)

    def test_rtmps_backend_through_nginx_stream(self):
        certs = harness.dev_certs("default")
        front_port, rtmp_port = harness.free_port(), harness.free_port()
        nginx = Nginx(self, NGINX_APPS_RESTART, port=rtmp_port, stream=f"""
  server {{
    listen 127.0.0.1:{front_port} ssl;
    ssl_certificate {certs}/server.crt;
    ssl_certificate_key {certs}/server.key;
    proxy_pass 127.0.0.1:{rtmp_port};
  }}""")
        self.assertTrue(wait_for(lambda: harness.can_connect(front_port)), "nginx stream did not start")
        g = self.gateway(backend_config(f"rtmps://127.0.0.1:{front_port}\n    ca_file: {certs}/ca.crt\n"
                                        f"    server_name: localhost"))
        out = self.path("viewer.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, f"http://127.0.0.1:{g.port('http')}/live/t.flv",
                                                out, "viewer"))
        # With play_restart nginx says nothing to a player of an unpublished stream: the pull's
        # play-start deadline (backend.handshake_timeout, 5 s) must not pass before the publish.
        self.wait_for_pull_play(nginx, "t")
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, nginx.url("live/t")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(player.wait(timeout=20), 0, player.output() + g.log())
        assert_media(self, out, self.expected, 0.05)
        self.assertRegex(g.log(), rf'pull \d+: "live/t" from rtmps://127.0.0.1:{front_port} ended: the backend '
                                  r'ended the stream \((StreamEOF|onStatus NetStream.Play.Stop)')
        self.assertEqual(metric(g, "rtmpgate_pull_failures_total"), 0)

    def test_a_stream_nobody_publishes_is_404_after_the_wait(self):
        nginx = Nginx(self)
        # A viewer waits 1 s (retry pause) + connect + 2 x handshake = 4 s for its stream.
        g = self.gateway(backend_config(f"rtmp://127.0.0.1:{nginx.port}",
                                        "backend:\n  connect_timeout: 1s\n  handshake_timeout: 1s\n"))
        started = time.monotonic()
        v = Viewer(g.port("http"), "live/none.flv", timeout=30)
        self.addCleanup(v.stop)
        # Meanwhile the gateway plays it on nginx, which says Play.Start and waits.
        self.wait_for_pull_play(nginx, "none")
        self.assertTrue(v.wait(timeout=20), "the viewer of an unpublished backend stream still waits")
        took = time.monotonic() - started
        print(f"404 for an unpublished backend stream after {took:.1f} s (wait 4 s)")
        self.assertEqual(v.status, 404, v.headers)
        self.assertGreater(took, 3.5)
        self.assertLess(took, 8)
        # Its play on nginx closes once it has gone.
        self.assertTrue(wait_for(lambda: not nginx.players("live", "none"), timeout=10))
        self.assertEqual(wait_metric(g, "rtmpgate_pulls_open", 0), 0, g.log())
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 1)

    def test_a_viewer_that_leaves_while_waiting_lets_the_pull_go(self):
        nginx = Nginx(self)
        # A viewer would wait 1 s (retry pause) + connect + 2 x handshake = 12 s for its stream.
        g = self.gateway(backend_config(f"rtmp://127.0.0.1:{nginx.port}",
                                        "backend:\n  connect_timeout: 1s\n  handshake_timeout: 5s\n"))
        for scheme in ("http", "https"):
            name = f"gone-{scheme}"
            sock = socket.create_connection(("127.0.0.1", g.port(scheme)), timeout=10)
            if scheme == "https":
                ctx = ssl.create_default_context(cafile=os.path.join(harness.dev_certs("default"), "ca.crt"))
                sock = ctx.wrap_socket(sock, server_hostname="localhost")
            sock.sendall(f"GET /live/{name}.flv HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            # nginx-rtmp answers the pull's play with Play.Start and waits for a publisher.
            self.wait_for_pull_play(nginx, name)
            left = time.monotonic()
            sock.close()
            self.assertTrue(wait_for(lambda: not nginx.players("live", name), timeout=20))
            took = time.monotonic() - left
            print(f"{scheme}: the upstream play closed {took:.1f} s after its only viewer left while "
                  f"waiting (the wait is 12 s, the linger 1 s)")
            self.assertLess(took, 5)
        self.assertEqual(wait_metric(g, "rtmpgate_pulls_open", 0), 0, g.log())
        self.assertEqual(metric(g, "rtmpgate_pulls_total"), 2)

    def test_a_dead_backend_is_tried_at_most_once_a_second(self):
        dead = harness.free_port()
        g = self.gateway(backend_config(f"rtmp://127.0.0.1:{dead}",
                                        "backend:\n  connect_timeout: 1s\n  handshake_timeout: 1s\n"))
        # 20 viewers, one after another for about 4 s. Each is answered when the pull it joined
        # fails (at once, or after the retry pause), not at the end of its 4 s wait.
        viewers = []
        started = time.monotonic()
        for _ in range(20):
            viewers.append(Viewer(g.port("http"), "live/d.flv", timeout=30))
            time.sleep(0.2)
        span = time.monotonic() - started  # from the first viewer to the last
        self.addCleanup(lambda: [v.stop() for v in viewers])
        for v in viewers:
            self.assertTrue(v.wait(timeout=20))
            self.assertEqual(v.status, 502, v.headers)
            self.assertIn("Connection: close", v.headers)
        waits = [v.answered_at - v.asked_at for v in viewers]
        attempts = metric(g, "rtmpgate_pulls_total")
        print(f"{attempts} attempts at a dead backend for 20 viewers arriving over {span:.1f} s; "
              f"each answered 502 after {min(waits):.2f}..{max(waits):.2f} s (the wait is 4 s)")
        # Within a retry pause (1 s) and a refused connect, with room for a loaded machine, but
        # short of the 4 s wait.
        self.assertLess(max(waits), 3.5)
        # The first at once, then at most one per retry pause (1 s) while viewers keep coming.
        self.assertLessEqual(attempts, int(span) + 2)
        self.assertGreaterEqual(attempts, 2)
        self.assertEqual(metric(g, "rtmpgate_pull_failures_total"), attempts)
        self.assertIn(f'from rtmp://127.0.0.1:{dead} failed: connect', g.log())
        self.assertEqual(wait_metric(g, "rtmpgate_pulls_open", 0), 0, g.log())


if __name__ == "__main__":
    import unittest
    unittest.main()
