"""The backend link: rtmpgate in front of a real nginx-rtmp (and of a second rtmpgate over TLS),
reached from every front end, with the failures a backend can have."""

import os
import signal
import socket
import subprocess
import threading
import time

import harness
import rtmp_client
from harness import assert_media, metric, probe_packets, wait_for, wait_metric

# play_restart: nginx-rtmp tells its players NetStream.Play.Stop when the publisher leaves, so
# that ffmpeg playing directly from it ends (by default nginx-rtmp says nothing and they wait).
NGINX_APPS = """    application relay {
      live on;
      play_restart on;
    }"""


def proxy_config(certs, backend_port, extra_routes="", extra=""):
    return harness.all_listeners_config(certs, f"""{extra_routes}  - app: relay
    to: rtmp://127.0.0.1:{backend_port}
  - app: live
    to: engine""", extra)


class FaultProxy:
    """A TCP proxy in front of a backend that forwards both ways until stall(): from then on it
    neither reads nor writes on any of its connections, which stay open (a backend whose process
    hangs mid-stream)."""

    def __init__(self, backend_port):
        self.backend_port = backend_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stalled = threading.Event()
        self.closed = threading.Event()
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self):
        self.stalled.set()

    def _accept(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                upstream = socket.create_connection(("127.0.0.1", self.backend_port))
                self.held += [conn, upstream]
                threading.Thread(target=self._copy, args=(conn, upstream), daemon=True).start()
                threading.Thread(target=self._copy, args=(upstream, conn), daemon=True).start()
        except OSError:
            pass

    def _copy(self, src, dst):
        src.settimeout(0.05)
        try:
            while not self.stalled.is_set():
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data or self.stalled.is_set():
                    break
                dst.sendall(data)
        except OSError:
            return
        self.closed.wait()  # stalled (or the peer left): hold both sockets, touch nothing

    def close(self):
        self.closed.set()
        self.sock.close()
        for c in self.held:
            c.close()


def closed_within(sock, timeout):
    """Reads and drops whatever `sock` receives, answering nothing, until the peer closes it;
    returns the seconds that took, or None if it was still open after `timeout`."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < timeout:
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - started
    return None


class BackendTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        self.clip = harness.make_clip("h264_aac_6s.flv")
        self.expected = probe_packets(self.clip)

    def test_publish_through_every_front_end_to_nginx_with_mixed_routes(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port))
        schemes = ("rtmp", "rtmpt", "rtmps", "rtmpts")
        players = []
        for s in schemes:
            out = self.path(f"direct-{s}.flv")
            players.append((self.track(harness.ffmpeg_play(
                self.workdir, f"rtmp://127.0.0.1:{nginx_port}/relay/{s}", out, f"play-{s}")), out))
        # The engine route at the same time, in the same process.
        engine_out = self.path("engine.flv")
        players.append((self.track(harness.ffmpeg_play(self.workdir, g.url("live/e"), engine_out, "play-e")),
                        engine_out))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        for s in schemes:
            harness.wait_nginx_players(self, nginx_port, "relay", s, 1)
        pubs = [self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url(f"relay/{s}", s), f"pub-{s}"))
                for s in schemes]
        pubs.append(self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/e"), "pub-e")))
        for p in pubs:
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        for p, out in players:
            p.wait(timeout=20)
            assert_media(self, out, self.expected, 0.05)
        # One link to nginx-rtmp per relay publisher; the engine's publisher is not one.
        self.assertEqual(metric(g, "rtmpgate_backend_links_total"), 4)
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 0)

    def test_play_through_every_front_end_from_nginx(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port))
        players = []
        for s in ("rtmp", "rtmpt", "rtmps", "rtmpts"):
            out = self.path(f"via-{s}.flv")
            players.append((self.track(harness.ffmpeg_play(self.workdir, g.url("relay/x", s), out, f"play-{s}")),
                            out))
        out = self.path("rtmpdump-rtmpt.flv")
        players.append((self.track(harness.rtmpdump_play(self.workdir, g.url("relay/x", "rtmpt"), out)), out))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 5), 5, g.log())
        harness.wait_nginx_players(self, nginx_port, "relay", "x", 5)
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, f"rtmp://127.0.0.1:{nginx_port}/relay/x"))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        for p, out in players:
            p.wait(timeout=20)
            assert_media(self, out, self.expected, 0.05)

    def test_tls_backend_is_a_second_rtmpgate(self):
        origin = self.gateway(f"""listeners:
  http: ""
  https: 127.0.0.1:0
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
tls:
  certificate: {self.certs}/server.crt
  private_key: {self.certs}/server.key
routes:
  - app: "*"
    to: engine
""")
        edge = self.gateway(f"""listeners:
  http: 127.0.0.1:0
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: relay
    to: rtmps://127.0.0.1:{origin.port('https')}
    ca_file: {self.certs}/ca.crt
    server_name: localhost
""")
        out = self.path("origin.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, origin.url("relay/tls"), out))
        self.assertEqual(wait_metric(origin, "rtmpgate_players_waiting", 1), 1, origin.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, edge.url("relay/tls", "rtmpt")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        player.wait(timeout=20)
        assert_media(self, out, self.expected)
        # The edge's one link went to the origin's port 443, which speaks nothing but TLS.
        self.assertEqual(metric(edge, "rtmpgate_backend_links_total"), 1)
        self.assertEqual(metric(edge, "rtmpgate_backend_failures_total"), 0)

    def test_tls_backend_with_an_untrusted_certificate_fails(self):
        origin = self.gateway(f"""listeners:
  http: ""
  https: 127.0.0.1:0
  rtmp: ""
  admin: ""
tls:
  certificate: {self.certs}/server.crt
  private_key: {self.certs}/server.key
""")
        edge = self.gateway(f"""listeners:
  http: ""
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: relay
    to: rtmps://127.0.0.1:{origin.port('https')}
""")
        started = time.monotonic()
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, edge.url("relay/v")))
        self.assertNotEqual(pub.wait(timeout=30), 0)
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(metric(edge, "rtmpgate_backend_failures_total"), 1)
        self.assertEqual(metric(edge, "rtmpgate_backend_links_total"), 0)
        # Log only: that the origin's certificate was the reason is told nowhere else.
        self.assertIn("certificate verify failed", edge.log())

    def test_backend_down_fails_the_publisher_quickly(self):
        g = self.gateway(proxy_config(self.certs, harness.free_port()))
        # Through every front end: over RTMPT the _error waits in the tunnel session for the
        # client's next poll after the link has given up.
        for n, scheme in enumerate(("rtmp", "rtmpt", "rtmps", "rtmpts"), start=1):
            started = time.monotonic()
            pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url(f"relay/down-{scheme}", scheme),
                                                    f"pub-{scheme}"))
            self.assertNotEqual(pub.wait(timeout=30), 0, pub.output())
            self.assertLess(time.monotonic() - started, 5, scheme)
            # ffmpeg prints the description of the _error (NetConnection.Connect.Failed) it got.
            self.assertIn("Backend unavailable", pub.output(), scheme)
            self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), n, g.log())
        self.assertTrue(g.alive())

    def test_backend_that_never_answers_the_handshake_is_timed_out(self):
        silent = harness.SilentServer()
        self.addCleanup(silent.close)
        g = self.gateway(proxy_config(self.certs, silent.port, extra="backend:\n  handshake_timeout: 1s\n"))
        started = time.monotonic()
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("relay/silent")))
        self.assertNotEqual(pub.wait(timeout=30), 0, pub.output())
        self.assertLess(time.monotonic() - started, 6)
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 1)
        # Log only: that the backend's handshake (not its TCP connect) timed out is told
        # nowhere else.
        self.assertIn("handshake timed out", g.log())
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="handshake"), 1)

    def test_tls_backend_that_never_answers_its_tls_handshake_is_timed_out(self):
        silent = harness.SilentServer()
        self.addCleanup(silent.close)
        g = self.gateway(proxy_config(self.certs, silent.port, extra_routes=f"""  - app: secure
    to: rtmps://127.0.0.1:{silent.port}
""", extra="backend:\n  handshake_timeout: 1s\n"))
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("secure/silent")))
        self.assertNotEqual(pub.wait(timeout=30), 0, pub.output())
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="tls_handshake"), 1, g.log())
        self.assertIn("TLS handshake timed out", g.log())

    def test_backend_killed_mid_stream_ends_only_its_links(self):
        nginx, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port))
        backend = f"rtmp://127.0.0.1:{nginx_port}"
        # 20 s at real time: the relay publisher cannot end on its own before the checks below.
        long_clip = harness.make_clip("h264_aac_20s.flv", seconds=20)
        engine_out = self.path("engine.flv")
        engine_player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/k"), engine_out, "play-e"))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        engine_pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/k"), "pub-e"))
        relay_pub = self.track(harness.ffmpeg_publish(self.workdir, long_clip, g.url("relay/k"), "pub-r"))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 1, timeout=10), 1, g.log())
        time.sleep(2)
        self.assertIsNone(relay_pub.proc.poll(), "the relay publisher streams until the backend dies:\n"
                          + relay_pub.output())
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 0, "no failure before the backend dies")
        self.assertEqual(self.backend_failure_lines(g, backend), [], "no failure before the backend dies")
        nginx.kill()
        nginx.wait(timeout=10)
        killed_at = time.monotonic()
        try:
            code = relay_pub.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.fail("the relay publisher still runs 5 s after its backend died")
        self.assertLess(time.monotonic() - killed_at, 5)
        self.assertNotEqual(code, 0, "a publisher whose backend died does not end as a success:\n"
                            + relay_pub.output())
        self.assertTrue(g.alive())
        # The engine link of the same process is untouched.
        self.assertEqual(engine_pub.wait(timeout=60), 0, engine_pub.output())
        self.assertEqual(engine_player.wait(timeout=20), 0, engine_player.output())
        assert_media(self, engine_out, self.expected)
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 1)
        # The operator sees the lost link once: one warning (or error) line naming the app and
        # the backend, like the one for a backend that refuses at connect. Log only: which app
        # and which backend failed are told nowhere else.
        lines = self.backend_failure_lines(g, backend)
        self.assertEqual(len(lines), 1, "one line for the link's failure, got:\n" + "\n".join(lines)
                         + "\n--- whole log:\n" + g.log())
        self.assertIn("relay", lines[0])

    def test_spliced_client_that_sends_nothing_is_closed_at_the_idle_timeout(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port, extra="limits:\n  idle_timeout: 2s\n"))
        c = self.connect_relay(g)
        self.assertEqual(metric(g, "rtmpgate_backend_links_total"), 1)
        # From here the client sends nothing, not even an answer to the gateway's ping.
        took = closed_within(c.sock, 15)
        self.assertIsNotNone(took, "a silent client spliced to a backend is still open after 15 s")
        print(f"silent spliced client closed {took:.1f} s after the backend's _result (idle_timeout 2 s)")
        self.assertLess(took, 2 * 2 + 2)
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="client_idle"), 1)
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 0, "the client, not the backend")
        # The socket closes before the connection's close line is written: wait for the line.
        line = "reason=backend rtmp://127.0.0.1:%d: client idle timed out" % nginx_port
        harness.wait_for(lambda: line in g.log(), timeout=5)
        self.assertIn(line, g.log())
        self.assertTrue(g.alive())

    def test_healthy_quiet_spliced_player_is_kept_past_the_idle_timeouts(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port,
                                      extra="limits:\n  idle_timeout: 2s\nbackend:\n  idle_timeout: 2s\n"))
        # A player waiting for a stream that is not published yet: neither it nor nginx-rtmp
        # sends anything on its own (nginx-rtmp pings after 60 s), only the answers to the
        # gateway's pings keep the link.
        out = self.path("quiet.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("relay/q"), out))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 1), 1, g.log())
        time.sleep(5)  # 2.5 idle timeouts
        self.assertIsNone(player.proc.poll(), "the waiting player was cut:\n" + g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, f"rtmp://127.0.0.1:{nginx_port}/relay/q"))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        player.wait(timeout=20)
        assert_media(self, out, self.expected, 0.05)
        for deadline in ("client_idle", "backend_idle", "client_write", "backend_write"):
            self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline=deadline), 0, deadline + "\n" + g.log())

    def test_backend_that_stalls_mid_stream_ends_its_publisher_and_player(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        proxy = FaultProxy(nginx_port)
        self.addCleanup(proxy.close)
        g = self.gateway(proxy_config(self.certs, proxy.port, extra="backend:\n  idle_timeout: 2s\n"))
        long_clip = harness.make_clip("h264_aac_20s.flv", seconds=20)
        out = self.path("stalled.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("relay/s"), out, "player"))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 1), 1, g.log())
        harness.wait_nginx_players(self, nginx_port, "relay", "s", 1)
        pub = self.track(harness.ffmpeg_publish(self.workdir, long_clip, g.url("relay/s"), "publisher"))
        self.assertTrue(wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 50000, timeout=15),
                        "no media reached the player through nginx-rtmp")
        proxy.stall()
        stalled_at = time.monotonic()
        for p in (pub, player):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.fail(f"{p.log_path} still runs 15 s after its backend stalled:\n{g.log()}")
        took = time.monotonic() - stalled_at
        print(f"publisher and player ended {took:.1f} s after their backend stalled (backend.idle_timeout 2 s)")
        self.assertLess(took, 2 * 2 + 2)
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="backend_idle"), 2, g.log())
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 2)
        self.assertEqual(g.log().count("backend idle timed out"), 4, "a warning and a close line per link")
        self.assertTrue(g.alive())

    def test_backend_that_stops_reading_does_not_hold_its_publisher(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        proxy = FaultProxy(nginx_port)
        self.addCleanup(proxy.close)
        # The backend's idle timeout stays long: the write deadline ends this one.
        g = self.gateway(proxy_config(self.certs, proxy.port, extra="backend:\n  write_timeout: 2s\n"))
        c = self.connect_relay(g)
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="backend_write"), 0)
        proxy.stall()
        # Media as fast as the link takes it; nobody decodes it past the stalled proxy.
        started = time.monotonic()
        c.set_chunk_size(65536)
        payload = os.urandom(60000)
        c.sock.settimeout(1)
        ended = None
        while time.monotonic() - started < 20:
            try:
                c.send_message(6, 9, 1, payload)
            except socket.timeout:
                continue  # the gateway stopped reading: the link is full
            except OSError:
                ended = time.monotonic() - started
                break
            if metric(g, "rtmpgate_timeouts_total", deadline="backend_write") == 1:
                ended = time.monotonic() - started
                break
        self.assertIsNotNone(ended, "a publisher whose backend reads nothing is still open after 20 s")
        print(f"publisher of a backend that stopped reading ended {ended:.1f} s after the stall (write_timeout 2 s)")
        self.assertEqual(wait_metric(g, "rtmpgate_timeouts_total", 1, deadline="backend_write"), 1, g.log())
        self.assertIn("backend write timed out", g.log())
        self.assertTrue(g.alive())

    def connect_relay(self, g):
        """A raw RTMP client connected to app relay through the gateway, once the backend's
        _result has come back through the splice (the link is up)."""
        c = rtmp_client.Client("127.0.0.1", g.port("rtmp"))
        self.addCleanup(c.sock.close)
        c.handshake()
        c.call("connect", command_object={"app": "relay", "tcUrl": g.url("relay")})
        result = c.wait_command(lambda cmd: cmd[0] in ("_result", "_error"))
        self.assertEqual(result[0], "_result", result)
        return c

    @staticmethod
    def backend_failure_lines(g, backend):
        """Lines at warn or error level that name `backend`."""
        return [line for line in g.log().splitlines()
                if backend in line and (" warn " in line or " error " in line)]

    def test_stalled_tunnel_player_keeps_memory_bounded(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(proxy_config(self.certs, nginx_port,
                                      extra="rtmpt:\n  max_pending_output: 256KiB\n"), measures_memory=True)
        big = harness.make_clip("h264_720p_3M_6s.flv", seconds=6, size="1280x720",
                                extra=("-b:v", "3M", "-maxrate", "3M", "-bufsize", "3M"))
        stalled = self.track(harness.ffmpeg_play(self.workdir, g.url("relay/m", "rtmpt"), self.path("stalled.flv"),
                                                 "stalled"))
        healthy_out = self.path("healthy.flv")
        healthy = self.track(harness.ffmpeg_play(self.workdir, g.url("relay/m"), healthy_out, "healthy"))
        # The same stream read straight from nginx-rtmp: how much a player can get at all, since
        # nginx-rtmp drops frames for its players while the input arrives faster than real time.
        direct_out = self.path("direct.flv")
        direct = self.track(harness.ffmpeg_play(self.workdir, f"rtmp://127.0.0.1:{nginx_port}/relay/m",
                                                direct_out, "direct"))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 2), 2, g.log())
        harness.wait_nginx_players(self, nginx_port, "relay", "m", 3)
        os.kill(stalled.proc.pid, signal.SIGSTOP)  # it stops polling; the tunnel fills up
        self.addCleanup(lambda: stalled.proc.poll() is None and os.kill(stalled.proc.pid, signal.SIGCONT))
        before = harness.rss_kib(g.proc.pid)
        loops = 7  # 8 x 2.3 MB pushed as fast as nginx-rtmp forwards it
        pub = self.track(harness.Process(
            ["ffmpeg", "-nostdin", "-v", "warning", "-stream_loop", str(loops), "-i", big, "-c", "copy",
             "-f", "flv", f"rtmp://127.0.0.1:{nginx_port}/relay/m"], self.workdir, "publisher-loop", 120))
        self.assertEqual(pub.wait(timeout=120), 0, pub.output())
        time.sleep(1)
        after = harness.rss_kib(g.proc.pid)
        pushed_kib = (loops + 1) * os.path.getsize(big) // 1024
        print(f"gateway RSS {before} KiB -> {after} KiB while {pushed_kib} KiB went past a stalled player")
        self.assertLess(after - before, pushed_kib // 2)
        self.assertLess(after - before, 12 * 1024)
        healthy.wait(timeout=30)
        direct.wait(timeout=30)
        # The other player of the same backend stream kept receiving: at least half as much as a
        # player of nginx-rtmp itself, and more than two clips' worth.
        video = harness.count(probe_packets(healthy_out), "video")
        direct_video = harness.count(probe_packets(direct_out), "video")
        print(f"video packets: {video} through the gateway, {direct_video} straight from nginx-rtmp, "
              f"{(loops + 1) * harness.count(probe_packets(big), 'video')} published")
        self.assertGreater(video, direct_video // 2)
        self.assertGreater(video, 2 * harness.count(probe_packets(big), "video"))
        self.assertTrue(g.alive())
