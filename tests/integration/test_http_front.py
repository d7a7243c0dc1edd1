"""The HTTP front under abuse: strict request framing, request deadlines (slowloris, stalled
bodies, silent connections), and what gives way at limits.max_connections."""

import os
import socket
import ssl
import time

import harness
from harness import metric, wait_metric
from rtmp_client import Client, server_closes
from rtmpt_client import HttpConnection, Tunnel


def front_config(rtmpt="", limits="", certs=None):
    https = "127.0.0.1:0" if certs else '""'
    tls = f"tls:\n  certificate: {certs}/server.crt\n  private_key: {certs}/server.key\n" if certs else ""
    return f"""listeners:
  http: 127.0.0.1:0
  https: {https}
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
{tls}routes:
  - app: "*"
    to: engine
rtmpt:
  idle_hold: 100ms
{rtmpt}limits:
  handshake_timeout: 10s
{limits}"""


def read_all(sock, timeout=5):
    """Everything `sock` receives until the peer closes it or `timeout` passes: (bytes, closed)."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


# Requests whose body framing is anything but one Content-Length (or none). Each is followed on
# the same connection by a pipelined /open/1 that must never be answered.
BAD_FRAMING = {
    "te_gzip": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    "te_xchunked": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "te_chunked_http10": b"POST /send/x/0 HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"1\r\n\x00\r\n0\r\n\r\n",
    "te_chunked_long_extension": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"1;" + b"e" * 9000 + b"\r\n\x00\r\n0\r\n\r\n",
    "te_chunked_http11": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"1\r\n\x00\r\n0\r\n\r\n",
    "te_and_cl": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n\x00",
    "two_different_cl": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n\x00",
    "two_equal_cl": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n\x00",
    "cl_list": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n\x00",
    "cl_plus": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n\x00",
    "cl_hex": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\n\x00",
    "cl_negative": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n\x00",
    "obs_fold": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n"
                b"Content-Length: 1\r\n\r\n\x00",
    "space_before_colon": b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length : 1\r\n\r\n\x00",
}
PIPELINED_OPEN = b"POST /open/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"


class FramingTest(harness.GatewayTest):
    def test_bad_framing_is_400_and_the_pipelined_request_is_never_read(self):
        g = self.gateway(front_config())
        for name, bad in BAD_FRAMING.items():
            with socket.create_connection(("127.0.0.1", g.port("http")), timeout=5) as s:
                s.sendall(bad + PIPELINED_OPEN)
                data, closed = read_all(s)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), f"{name}: {data[:60]!r}")
            self.assertIn(b"Connection: close\r\n", data, name)
            self.assertEqual(data.count(b"HTTP/1.1"), 1, f"{name}: the pipelined /open was answered: {data!r}")
            self.assertTrue(closed, f"{name}: the connection stays open after the 400")
        self.assertEqual(metric(g, "rtmpgate_rtmpt_sessions_open"), 0, "a pipelined /open was served")
        self.assertEqual(metric(g, "rtmpgate_refusals_total", reason="bad_request_framing"), len(BAD_FRAMING))
        # The same pair with a Content-Length: both answered, on one connection.
        c = HttpConnection(g.port("http"))
        c.sock.sendall(b"POST /fcs/ident2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n\x00" + PIPELINED_OPEN)
        self.assertEqual((c.read_response().status, c.read_response().status), (404, 200))
        # And without one (an empty body).
        c.sock.sendall(b"POST /fcs/ident2 HTTP/1.1\r\nHost: a\r\n\r\n" + PIPELINED_OPEN)
        self.assertEqual((c.read_response().status, c.read_response().status), (404, 200))
        c.close()


class DeadlineTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")

    def slowloris(self, sock, deadline_s):
        """Sends a request one byte every 0.5 s until the gateway answers; returns (reply, seconds
        from the first byte to the reply, closed)."""
        request = b"POST /open/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-fcs\r\n" \
                  b"Content-Length: 0\r\n\r\n"
        started = time.monotonic()
        for i in range(len(request) - 1):  # never the last byte
            sock.sendall(request[i:i + 1])
            sock.settimeout(0.5)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if time.monotonic() - started > 2 * deadline_s + 4:
                    break
                continue
            rest, closed = read_all(sock, timeout=3)
            return data + rest, time.monotonic() - started, closed or not data
        return b"", time.monotonic() - started, False

    def test_slowloris_gets_408_within_the_deadline_on_http_and_https(self):
        g = self.gateway(front_config("  request_header_timeout: 2s\n", certs=self.certs))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        for name in ("http", "https"):
            raw = socket.create_connection(("127.0.0.1", g.port(name)), timeout=5)
            s = ctx.wrap_socket(raw) if name == "https" else raw
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reply, took, closed = self.slowloris(s, 2)
            s.close()
            self.assertTrue(reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), f"{name}: {reply[:60]!r}")
            self.assertTrue(closed, f"{name}: open after the 408")
            self.assertGreaterEqual(took, 1.5, f"{name}: 408 before the deadline")
            self.assertLess(took, 2 * 2 + 2, f"{name}: 408 after {took:.1f}s")
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="request_header"), 2)

    def test_stalled_body_gets_408(self):
        g = self.gateway(front_config("  request_body_timeout: 1s\n", certs=self.certs))
        t = Tunnel(g.port("http"))
        s = socket.create_connection(("127.0.0.1", g.port("http")), timeout=5)
        s.sendall(f"POST /send/{t.id}/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1537\r\n\r\n\x03".encode()
                  + bytes(100))
        started = time.monotonic()
        data, closed = read_all(s, timeout=6)
        took = time.monotonic() - started
        self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data[:60])
        self.assertTrue(closed)
        self.assertLess(took, 2 * 1 + 2)
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="request_body"), 1)
        # A body that keeps coming, slowly, is not cut: each wait is bounded, not the whole.
        c = HttpConnection(g.port("http"))
        c.sock.sendall(f"POST /send/{t.id}/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 1537\r\n\r\n".encode())
        body = b"\x03" + bytes(1536)
        for i in range(4):
            c.sock.sendall(body[i * 400:(i + 1) * 400])
            time.sleep(0.6)  # 2.4 s in all, over twice the deadline
        c.sock.sendall(body[1600:])
        self.assertEqual(c.read_response().status, 200)
        t.http.close()
        c.close()

    def test_silent_connections_are_closed_and_give_way(self):
        g = self.gateway(front_config("  sessionless_idle_timeout: 2s\n", "  max_connections: 4\n"))
        # A connection that says nothing is closed after sessionless_idle_timeout.
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", g.port("http")), timeout=10) as s:
            self.assertTrue(server_closes(s, timeout=8))
        took = time.monotonic() - started
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 2 * 2 + 2)
        self.assertEqual(wait_metric(g, "rtmpgate_timeouts_total", 1, deadline="http_idle"), 1)
        # 4 silent connections fill max_connections: an RTMP client gets in at once all the same,
        # in the place of the oldest of them.
        silent = [socket.create_connection(("127.0.0.1", g.port("http")), timeout=5) for _ in range(4)]
        self.assertEqual(wait_metric(g, "rtmpgate_client_sockets_open", 4), 4)
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        self.assertEqual(c.connect("live")[0], "_result")
        self.assertTrue(server_closes(silent[0], timeout=3), "the oldest silent connection gave way")
        self.assertEqual(metric(g, "rtmpgate_http_connections_evicted_total"), 1)
        self.assertEqual(metric(g, "rtmpgate_refusals_total", reason="max_connections"), 0)
        c.close()
        for s in silent:
            s.close()


    def test_a_connection_whose_session_expired_is_kept_as_one_without_a_session(self):
        g = self.gateway(front_config("  session_timeout: 1s\n  sessionless_idle_timeout: 3s\n"
                                      "  connection_idle_timeout: 60s\n"))
        t = Tunnel(g.port("http"))
        self.assertEqual(t.idle().status, 200)  # the connection carried the session; now silence
        started = time.monotonic()
        self.assertTrue(server_closes(t.http.sock, timeout=20), "kept for connection_idle_timeout")
        took = time.monotonic() - started
        # The session expires 1 s after its last request; its connection is from then on one
        # without a session, closed sessionless_idle_timeout after its wait began.
        self.assertGreaterEqual(took, 2.5)
        self.assertLess(took, 15)
        self.assertEqual(wait_metric(g, "rtmpgate_timeouts_total", 1, deadline="http_idle"), 1)


class OverloadTest(harness.GatewayTest):
    def test_at_the_limit_live_sessions_keep_working_and_new_idle_sockets_are_refused(self):
        g = self.gateway(front_config("  sessionless_idle_timeout: 30s\n", "  max_connections: 3\n"))
        port = g.port("http")
        tunnel = Tunnel(port)  # a live session: its connection is never given away
        players = []
        for _ in range(2):
            c = Client("127.0.0.1", g.port("rtmp"))
            c.handshake()
            self.assertEqual(c.connect("live")[0], "_result")
            players.append(c)
        self.assertEqual(wait_metric(g, "rtmpgate_client_sockets_open", 3), 3)
        # Nothing can give way: new sockets, HTTP or RTMP, are closed at once.
        for listener in ("http", "rtmp", "http"):
            with socket.create_connection(("127.0.0.1", g.port(listener)), timeout=5) as s:
                self.assertTrue(server_closes(s, timeout=3), f"a {listener} socket over the limit was kept")
        self.assertEqual(metric(g, "rtmpgate_refusals_total", reason="max_connections"), 3)
        # The live session's requests are answered throughout.
        for _ in range(3):
            self.assertEqual(tunnel.idle().status, 200)
        tunnel.send(b"\x03" + os.urandom(1536))
        self.assertEqual(len(tunnel.receive(3073)), 3073, "the session's handshake went through")
        # A silent HTTP socket in the place of a player is the first to go for the next client.
        players.pop().close()
        self.assertEqual(wait_metric(g, "rtmpgate_client_sockets_open", 2), 2)
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.assertEqual(wait_metric(g, "rtmpgate_client_sockets_open", 3), 3)
        newcomer = Client("127.0.0.1", g.port("rtmp"))
        newcomer.handshake()
        self.assertEqual(newcomer.connect("live")[0], "_result")
        self.assertTrue(server_closes(idle, timeout=3))
        self.assertEqual(metric(g, "rtmpgate_http_connections_evicted_total"), 1)
        self.assertEqual(tunnel.idle().status, 200, "the session still works")
        for c in players + [newcomer]:
            c.close()
        idle.close()
        tunnel.close()

    def test_live_ffmpeg_rtmpt_session_is_not_cut_by_short_deadlines_or_a_flood(self):
        g = self.gateway(front_config("  sessionless_idle_timeout: 1s\n  request_header_timeout: 1s\n"
                                      "  request_body_timeout: 1s\n", "  max_connections: 6\n"))
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = harness.probe_packets(clip)
        play = self.track(harness.ffmpeg_play(self.workdir, g.url("live/f", "rtmpt"), self.path("out.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/f", "rtmpt")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1, g.log())
        # While it plays: silent sockets keep arriving, each taking the place of an older one.
        flood = []
        while pub.proc.poll() is None and len(flood) < 60:
            flood.append(socket.create_connection(("127.0.0.1", g.port("http")), timeout=5))
            time.sleep(0.05)
        self.assertEqual(pub.wait(timeout=30), 0, pub.output())
        self.assertEqual(play.wait(timeout=20), 0, play.output())
        harness.assert_media(self, self.path("out.flv"), expected)
        self.assertGreater(metric(g, "rtmpgate_http_connections_evicted_total"), 0)
        for s in flood:
            s.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
