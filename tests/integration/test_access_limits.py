"""Per-address limits and the admin drop endpoint, with the real binary and real clients:
limits.max_connections_per_address, rtmpt.max_sessions_per_address,
rtmpt.max_opens_per_second_per_address, POST /streams/<app>/<name>/drop and admin_allow."""

import re
import socket
import time
import unittest
import urllib.error
import urllib.request

import harness
import rtmp_client
from rtmpt_client import HttpConnection, Tunnel
from test_proxy_in import Prefixed, connect_from, http_over, v1

PROXY = "127.0.0.3"  # trusted_proxies in ThroughATrustedProxy; clients elsewhere are 127.0.0.1


def config(extra="", http=True):
    http_line = "127.0.0.1:0" if http else '""'
    return f"""listeners:
  http: {http_line}
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: "*"
    to: engine
shutdown_grace: 1s
{extra}"""


def connected_client(g):
    c = rtmp_client.Client("127.0.0.1", g.port("rtmp"), timeout=5)
    c.handshake()
    reply = c.connect("live")
    assert reply[0] == "_result", reply
    return c


class ConnectionsPerAddress(harness.GatewayTest):
    def test_the_fourth_connection_from_one_address_is_closed_at_once(self):
        g = self.gateway(config("limits:\n  max_connections_per_address: 3\n"))
        clients = [connected_client(g) for _ in range(3)]
        refused = []
        for _ in range(3):
            started = time.monotonic()
            s = socket.create_connection(("127.0.0.1", g.port("rtmp")), timeout=5)
            try:
                s.sendall(b"\x03" + bytes(1536))
            except OSError:
                pass  # already closed: what is tested below
            self.assertTrue(rtmp_client.server_closes(s, timeout=3), "4th connection not closed")
            refused.append(time.monotonic() - started)
            s.close()
        self.assertLess(max(refused), 2.0, refused)
        self.assertEqual(harness.metric(g, "rtmpgate_refusals_total",
                                        reason="max_connections_per_address"), 3)
        # One line for the three refusals of the address (the others only counted).
        self.assertEqual(len(re.findall(r"refused: 3 open from its address", g.log())), 1, g.log())
        # The three first still work.
        for c in clients:
            sid, status = c.publish(f"k{id(c)}")
            self.assertEqual(status.get("code"), "NetStream.Publish.Start")
        # One closes: a new connection is served once the gateway has seen it go.
        clients.pop().close()

        def fifth_works():
            try:
                c = connected_client(g)
            except (OSError, ConnectionError, AssertionError):
                return False
            clients.append(c)
            return True

        self.assertTrue(harness.wait_for(fifth_works, timeout=10, interval=0.2))
        for c in clients:
            c.close()

    def test_no_limit_by_default(self):
        g = self.gateway(config())
        clients = [connected_client(g) for _ in range(12)]
        self.assertEqual(harness.metric(g, "rtmpgate_refusals_total",
                                        reason="max_connections_per_address"), 0)
        for c in clients:
            c.close()


class RtmptPerAddress(harness.GatewayTest):
    def test_a_third_session_from_one_address_gets_503(self):
        g = self.gateway(config("rtmpt:\n  max_sessions_per_address: 2\n"))
        port = g.port("http")
        first, second = Tunnel(port), Tunnel(port)
        third = HttpConnection(port)
        self.assertEqual(third.request("/open/1", b"\x00").status, 503)
        self.assertEqual(third.request("/open/1", b"\x00").status, 503)
        self.assertEqual(harness.metric(g, "rtmpgate_refusals_total",
                                        reason="max_sessions_per_address"), 2)
        self.assertEqual(len(re.findall(r"rtmpt.max_sessions_per_address \(2\) reached", g.log())), 1)
        # The client's /close forgets its session: its place is free at once.
        self.assertEqual(first.close().status, 200)
        self.assertEqual(third.request("/open/1", b"\x00").status, 200)
        second.close()
        third.close()

    def test_opens_per_second_beyond_the_rate_get_503(self):
        g = self.gateway(config("rtmpt:\n  max_opens_per_second_per_address: 3\n"))
        http = HttpConnection(g.port("http"))
        # The second counted begins when the gateway takes the first /open, before its answer:
        # six sent within it give three 503s. A machine too busy to send six in a second tries
        # again once that second is over (at most three times).
        for attempt in range(3):
            if attempt:
                time.sleep(1.2)
            before = harness.metric(g, "rtmpgate_refusals_total", reason="max_opens_per_address")
            statuses = [http.request("/open/1", b"\x00").status]
            first_answered = time.monotonic()
            statuses += [http.request("/open/1", b"\x00").status for _ in range(5)]
            if time.monotonic() - first_answered < 0.9:
                break
        self.assertEqual(statuses, [200, 200, 200, 503, 503, 503])
        refused = harness.metric(g, "rtmpgate_refusals_total", reason="max_opens_per_address")
        self.assertEqual(refused - before, 3)
        # The next second begins with the next /open.
        time.sleep(max(0.0, 1.05 - (time.monotonic() - first_answered)))
        self.assertEqual(http.request("/open/1", b"\x00").status, 200)
        http.close()


class Drop(harness.GatewayTest):
    def test_drop_ends_a_real_publisher_and_its_players_and_the_name_can_be_published_again(self):
        clip = harness.make_clip("h264_aac_20s.flv", seconds=20)
        g = self.gateway(config(http=False))
        url = g.url("live/dropme")
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, url))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_publishers", 1), 1)
        ffplay = self.track(harness.ffmpeg_play(self.workdir, url, self.path("ffmpeg.flv")))
        dump = self.track(harness.rtmpdump_play(self.workdir, url, self.path("rtmpdump.flv")))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_players", 2), 2)
        time.sleep(1)  # media flows to both

        status, body = harness.admin_request(g, "/streams/live/dropme/drop")
        dropped_at = time.monotonic()
        self.assertEqual(status, 200, body)
        self.assertEqual(body, "dropped publisher=1 players=2\n")
        for p in (publisher, ffplay, dump):
            try:
                p.wait(timeout=5)
            except Exception:
                self.fail(f"{p.args[0]} still runs 5 s after the drop:\n{p.output()}")
        self.assertLess(time.monotonic() - dropped_at, 5)
        self.assertEqual(harness.wait_metric(g, "rtmpgate_streams", 0), 0)
        self.assertEqual(harness.metric(g, "rtmpgate_streams_dropped_total"), 1)
        self.assertEqual(harness.metric(g, "rtmpgate_refusals_total", reason="dropped_by_admin"), 3)
        self.assertEqual(len(re.findall(r'admin 127\.0\.0\.1: dropped "live/dropme": publisher=1 players=2',
                                        g.log())), 1, g.log())
        self.assertEqual(len(re.findall(r"reason=dropped by the admin", g.log())), 3, g.log())
        # Each player got media before it ended.
        self.assertGreater(harness.count(harness.probe_packets(self.path("ffmpeg.flv")), "video"), 0)

        # The name is free again: a new publisher is served, and a player gets its media.
        again = self.track(harness.ffmpeg_publish(self.workdir, clip, url, name="publisher2"))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_publishers", 1), 1)
        player = self.track(harness.ffmpeg_play(self.workdir, url, self.path("again.flv"),
                                                name="player2", seconds=2))
        self.assertEqual(player.wait(timeout=30), 0, player.output())
        self.assertGreater(harness.count(harness.probe_packets(self.path("again.flv")), "video"), 10)
        self.assertIsNone(again.proc.poll(), "the new publisher was ended too")

    def test_drop_ends_an_rtmpt_publisher(self):
        clip = harness.make_clip("h264_aac_20s.flv", seconds=20)
        g = self.gateway(config())
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/tunnel", "rtmpt")))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_publishers", 1), 1)
        self.assertEqual(harness.admin_request(g, "/streams/live/tunnel/drop"),
                         (200, "dropped publisher=1 players=0\n"))
        try:
            publisher.wait(timeout=5)
        except Exception:
            self.fail(f"ffmpeg over rtmpt still runs 5 s after the drop:\n{publisher.output()}")
        self.assertEqual(harness.wait_metric(g, "rtmpgate_streams", 0), 0)
        self.assertEqual(harness.metric(g, "rtmpgate_refusals_total", reason="dropped_by_admin"), 1)

    def test_drop_ends_a_player_waiting_for_the_stream(self):
        g = self.gateway(config(http=False))
        c = connected_client(g)
        c.play("notyet")
        self.assertEqual(harness.wait_metric(g, "rtmpgate_players_waiting", 1), 1)
        status, body = harness.admin_request(g, "/streams/live/notyet/drop")
        self.assertEqual((status, body), (200, "dropped publisher=0 players=1\n"))
        self.assertTrue(rtmp_client.server_closes(c.sock, timeout=5))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_streams", 0), 0)

    def test_unknown_stream_other_methods_and_bad_paths(self):
        g = self.gateway(config(http=False))
        self.assertEqual(harness.admin_request(g, "/streams/live/nothing/drop")[0], 404)
        self.assertEqual(harness.admin_request(g, "/streams/live/nothing/drop", method="GET")[0], 405)
        self.assertEqual(harness.admin_request(g, "/streams/live/a%zz/drop")[0], 400)
        self.assertEqual(harness.metric(g, "rtmpgate_streams_dropped_total"), 0)

    def test_a_drop_from_a_web_page_is_refused(self):
        # A page in the operator's browser may POST to loopback without a preflight; the browser
        # names the page's origin, and the drop is refused.
        g = self.gateway(config("", http=False))
        c = connected_client(g)
        sid, status = c.publish("kept")
        self.assertEqual(status.get("code"), "NetStream.Publish.Start")
        self.assertEqual(harness.admin_request(g, "/streams/live/kept/drop", headers={"Origin": "https://example.com"})[0],
                         403)
        self.assertEqual(harness.metric(g, "rtmpgate_publishers"), 1)
        self.assertFalse(rtmp_client.server_closes(c.sock, timeout=0.5))
        self.assertEqual(harness.admin_request(g, "/streams/live/kept/drop")[0], 200)
        self.assertTrue(rtmp_client.server_closes(c.sock, timeout=5))
        c.close()

    def test_403_when_admin_allow_excludes_the_requester(self):
        g = self.gateway(config("admin_allow: [10.0.0.0/8]\n", http=False))
        c = connected_client(g)
        sid, status = c.publish("kept")
        self.assertEqual(status.get("code"), "NetStream.Publish.Start")
        self.assertEqual(harness.admin_request(g, "/streams/live/kept/drop")[0], 403)
        self.assertEqual(harness.admin_request(g, "/streams/live/unknown/drop")[0], 403)
        # /healthz and /metrics answer as before; the stream lives on.
        self.assertEqual(harness.admin_request(g, "/healthz", method="GET")[0], 200)
        self.assertEqual(harness.metric(g, "rtmpgate_publishers"), 1)
        self.assertEqual(harness.metric(g, "rtmpgate_streams_dropped_total"), 0)
        self.assertFalse(rtmp_client.server_closes(c.sock, timeout=0.5))
        c.close()


class ThroughATrustedProxy(harness.GatewayTest):
    """Behind a balancer the address counted is the client's it declares, not the balancer's."""

    def setUp(self):
        super().setUp()
        self.g = self.gateway(config(f"""trusted_proxies: [{PROXY}]
proxy_protocol:
  rtmp: true
limits:
  max_connections_per_address: 1
rtmpt:
  max_sessions_per_address: 1
"""))

    def proxied_client(self, declared, port):
        c = rtmp_client.Client(None, None, sock=Prefixed(connect_from(PROXY, self.g.port("rtmp")),
                                                         v1(declared, port)))
        c.handshake()
        return c

    def test_connections_are_counted_by_the_declared_client(self):
        first = self.proxied_client("203.0.113.5", 40001)
        self.assertEqual(first.connect("live")[0], "_result")
        second = Prefixed(connect_from(PROXY, self.g.port("rtmp")), v1("203.0.113.5", 40002))
        second.sendall(b"\x03" + bytes(1536))
        self.assertTrue(rtmp_client.server_closes(second.sock, timeout=3))
        # Another client behind the same proxy has its own count.
        other = self.proxied_client("203.0.113.6", 40003)
        self.assertEqual(other.connect("live")[0], "_result")
        self.assertEqual(harness.metric(self.g, "rtmpgate_refusals_total",
                                        reason="max_connections_per_address"), 1)
        self.assertIn("connection from 203.0.113.5:40002 via 127.0.0.3:", self.g.log())
        first.close()
        other.close()

    def test_rtmpt_sessions_are_counted_by_the_forwarded_client(self):
        def open_for(client):
            c = http_over(connect_from(PROXY, self.g.port("http")))
            status = c.request("/open/1", b"\x00", extra_headers=[f"X-Forwarded-For: {client}"]).status
            c.close()
            return status

        self.assertEqual(open_for("203.0.113.20"), 200)
        self.assertEqual(open_for("203.0.113.20"), 503)
        self.assertEqual(open_for("203.0.113.21"), 200)
        self.assertEqual(harness.metric(self.g, "rtmpgate_refusals_total",
                                        reason="max_sessions_per_address"), 1)


if __name__ == "__main__":
    unittest.main()
