"""The client's address behind a load balancer: the PROXY protocol (v1 and v2) read on the rtmp,
http and https listeners from trusted proxies only, and X-Forwarded-For on RTMPT's /open; raw
sockets for every case, then a real HAProxy in front with ffmpeg behind it.

Loopback has room for several sources: the "proxy" (raw sockets standing for one, and HAProxy's
`source`) connects from 127.0.0.3, the only address in trusted_proxies; clients connect from
127.0.0.1, an address the gateway does not trust."""

import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

import harness
from harness import metric, probe_packets, wait_for, wait_metric
from rtmp_client import Client, server_closes
from rtmpt_client import HttpConnection

PROXY = "127.0.0.3"      # trusted
CLIENT = "127.0.0.1"     # not trusted
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_config(cert_dir, http=True, https=True, rtmp=True, header_timeout="1s", extra=""):
    return f"""listeners:
  http: 127.0.0.1:0
  https: 127.0.0.1:0
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
tls:
  certificate: {cert_dir}/server.crt
  private_key: {cert_dir}/server.key
routes:
  - app: "*"
    to: engine
trusted_proxies: [{PROXY}]
proxy_protocol:
  http: {str(http).lower()}
  https: {str(https).lower()}
  rtmp: {str(rtmp).lower()}
  header_timeout: {header_timeout}
{extra}"""


def v1(source, source_port, family="TCP4", destination="127.0.0.1", destination_port=1935):
    return f"PROXY {family} {source} {destination} {source_port} {destination_port}\r\n".encode()


def v2(source, source_port, local=False, tlv=b""):
    """A v2 header: PROXY (or LOCAL) over TCP, IPv4 or IPv6 by the source's form, and `tlv`."""
    six = ":" in source
    family = socket.AF_INET6 if six else socket.AF_INET
    destination = "::1" if six else "127.0.0.1"
    block = (socket.inet_pton(family, source) + socket.inet_pton(family, destination)
             + struct.pack(">HH", source_port, 1935) + tlv)
    return (V2_SIGNATURE + bytes([0x20 if local else 0x21, 0x21 if six else 0x11])
            + struct.pack(">H", len(block)) + block)


def connect_from(source, port):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Prefixed:
    """A socket whose first write goes out behind `prefix`, in the same send(): what a balancer
    does when the client's first bytes are already there."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def sendall(self, data):
        self.sock.sendall(self.prefix + data)
        self.prefix = b""

    def recv(self, n):
        return self.sock.recv(n)

    def close(self):
        self.sock.close()


def http_over(sock):
    """An rtmpt_client.HttpConnection on a socket made here (from a source, or in TLS)."""
    c = HttpConnection.__new__(HttpConnection)
    c.sock, c.buffer = sock, b""
    return c


def tls_client_context(cert_dir):
    ctx = ssl.create_default_context(cafile=os.path.join(cert_dir, "ca.crt"))
    return ctx


class ProxyProtocolRawTest(harness.GatewayTest):
    """Headers written byte by byte, against every listener."""

    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        self.g = self.gateway(proxy_config(self.certs))

    def rtmp_connect(self, sock):
        c = Client(None, None, sock=sock)
        c.handshake()
        self.assertEqual(c.connect("live")[0], "_result")
        c.close()

    def wait_open(self, transport, client, proxy):
        self.assertTrue(wait_for(lambda: (client, proxy) in harness.open_lines(self.g, transport)),
                        f"no 'open {transport} from {client} via {proxy}':\n{self.g.log()}")

    def test_v1_on_rtmp_with_the_handshake_in_the_same_segment(self):
        s = connect_from(PROXY, self.g.port("rtmp"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        self.rtmp_connect(Prefixed(s, v1("203.0.113.7", 40001)))
        self.wait_open("rtmp", "203.0.113.7:40001", proxy)
        self.assertEqual(metric(self.g, "rtmpgate_proxy_headers_total"), 1)

    def test_v2_ipv6_with_a_tlv_on_rtmp(self):
        s = connect_from(PROXY, self.g.port("rtmp"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        noop = bytes([0x04]) + struct.pack(">H", 3) + b"abc"  # PP2_TYPE_NOOP, skipped
        self.rtmp_connect(Prefixed(s, v2("2001:db8::7", 40002, tlv=noop)))
        self.wait_open("rtmp", "[2001:db8::7]:40002", proxy)

    def test_v2_ipv4_mapped_source_is_its_ipv4_address(self):
        s = connect_from(PROXY, self.g.port("rtmp"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        self.rtmp_connect(Prefixed(s, v2("::ffff:198.51.100.4", 40005)))
        self.wait_open("rtmp", "198.51.100.4:40005", proxy)

    def test_local_and_unknown_keep_the_socket_peer(self):
        # A balancer's health check: v2 LOCAL, v1 UNKNOWN.
        for header in (v2("10.9.9.9", 9, local=True), b"PROXY UNKNOWN\r\n"):
            s = connect_from(PROXY, self.g.port("rtmp"))
            me = f"{PROXY}:{s.getsockname()[1]}"
            self.rtmp_connect(Prefixed(s, header))
            self.wait_open("rtmp", me, "")
        self.assertEqual(metric(self.g, "rtmpgate_proxy_headers_total"), 2)

    def test_v1_on_http_with_the_request_in_the_same_segment(self):
        s = connect_from(PROXY, self.g.port("http"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        c = http_over(Prefixed(s, v1("198.51.100.9", 40003)))
        r = c.request("/open/1")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.endswith(b"\n"))
        self.wait_open("rtmpt", "198.51.100.9:40003", proxy)
        c.close()

    def test_v2_on_https_before_tls_then_rtmpt_and_rtmps(self):
        ctx = tls_client_context(self.certs)
        # RTMPT over HTTPS.
        s = connect_from(PROXY, self.g.port("https"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        s.sendall(v2("192.0.2.10", 40004))
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            r = http_over(tls).request("/open/1")
            self.assertEqual(r.status, 200)
            self.wait_open("rtmpts", "192.0.2.10:40004", proxy)
        # RTMP over TLS, with a v1 header.
        s = connect_from(PROXY, self.g.port("https"))
        proxy = f"{PROXY}:{s.getsockname()[1]}"
        s.sendall(v1("192.0.2.11", 40006))
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            self.rtmp_connect(tls)
        self.wait_open("rtmps", "192.0.2.11:40006", proxy)

    def test_an_untrusted_header_is_refused_and_counted(self):
        for listener in ("rtmp", "http", "https"):
            s = connect_from(CLIENT, self.g.port(listener))
            s.sendall(v1("203.0.113.66", 4444))
            self.assertTrue(server_closes(s), listener)
            s.close()
        s = connect_from(CLIENT, self.g.port("rtmp"))
        s.sendall(v2("203.0.113.66", 4444))
        self.assertTrue(server_closes(s))
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", 4, reason="proxy_header_untrusted"), 4)
        self.assertNotIn("203.0.113.66", self.g.log())
        self.assertEqual(metric(self.g, "rtmpgate_proxy_headers_total"), 0)

    def test_an_untrusted_client_without_a_header_is_served_as_itself(self):
        s = connect_from(CLIENT, self.g.port("rtmp"))
        me = f"{CLIENT}:{s.getsockname()[1]}"
        self.rtmp_connect(s)
        self.wait_open("rtmp", me, "")
        # RTMPS: TLS first, nothing in front of it.
        raw = connect_from(CLIENT, self.g.port("https"))
        me = f"{CLIENT}:{raw.getsockname()[1]}"
        with tls_client_context(self.certs).wrap_socket(raw, server_hostname="localhost") as tls:
            self.rtmp_connect(tls)
        self.wait_open("rtmps", me, "")
        # HTTP, its first octet ("P" of POST, also the first of "PROXY") sent alone: the gateway
        # takes it off the socket to see what follows, and must hand it on to the http front.
        s = connect_from(CLIENT, self.g.port("http"))
        me = f"{CLIENT}:{s.getsockname()[1]}"
        s.sendall(b"P")
        time.sleep(0.3)  # not a synchronisation: only makes "P" likely to arrive alone
        c = http_over(s)
        c.sock.sendall(b"OST /open/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)
        self.wait_open("rtmpt", me, "")
        for reason in ("proxy_header_untrusted", "proxy_header_missing", "proxy_header_invalid"):
            self.assertEqual(metric(self.g, "rtmpgate_refusals_total", reason=reason), 0, reason)

    def test_a_trusted_peer_without_a_header_is_closed(self):
        s = connect_from(PROXY, self.g.port("rtmp"))
        s.sendall(b"\x03" + bytes(1536))
        self.assertTrue(server_closes(s))
        s = connect_from(PROXY, self.g.port("http"))
        s.sendall(b"POST /open/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(server_closes(s))
        raw = connect_from(PROXY, self.g.port("https"))
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            tls_client_context(self.certs).wrap_socket(raw, server_hostname="localhost")
        raw.close()
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", 3, reason="proxy_header_missing"), 3)
        self.assertNotRegex(self.g.log(), r": open \w+ from ")

    def test_a_malformed_header_is_refused(self):
        for header in (b"PROXY TCP4 1.2.3.999 127.0.0.1 1 2\r\n",  # not an address
                       b"PROXY TCP4 " + b"1" * 120,                  # no CRLF within 107 octets
                       V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12)):  # version 3
            s = connect_from(PROXY, self.g.port("rtmp"))
            s.sendall(header)
            self.assertTrue(server_closes(s), header)
            s.close()
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", 3, reason="proxy_header_invalid"), 3)

    def test_a_stalled_header_hits_the_deadline(self):
        # header_timeout is 1s; server_closes gives up after 10.
        s = connect_from(PROXY, self.g.port("rtmp"))
        s.sendall(b"PROXY TCP4 203.0.113.1 ")
        started = time.monotonic()
        self.assertTrue(server_closes(s, timeout=10))
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        s = connect_from(PROXY, self.g.port("https"))  # silent: not even a first octet
        self.assertTrue(server_closes(s, timeout=10))
        self.assertEqual(wait_metric(self.g, "rtmpgate_timeouts_total", 2, deadline="proxy_header"), 2)
        self.assertIn("PROXY protocol header timed out", self.g.log())


class ForwardedForRawTest(harness.GatewayTest):
    """X-Forwarded-For on /open, the http listener without the PROXY protocol."""

    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        self.g = self.gateway(proxy_config(self.certs, http=False))

    def open_session(self, source, headers):
        c = http_over(connect_from(source, self.g.port("http")))
        r = c.request("/open/1", extra_headers=headers)
        self.assertEqual(r.status, 200)
        return c, r.body.decode().strip()

    def test_from_a_trusted_proxy_the_right_most_untrusted_address_is_the_client(self):
        c, session = self.open_session(PROXY, ["X-Forwarded-For: 6.6.6.6, 203.0.113.20",
                                               f"X-Forwarded-For: {PROXY}"])
        proxy = f"{PROXY}:{c.sock.getsockname()[1]}"
        self.assertTrue(wait_for(lambda: ("203.0.113.20", proxy) in harness.open_lines(self.g, "rtmpt")),
                        self.g.log())
        # A later request of the session, from elsewhere and with another header, changes nothing.
        other = http_over(connect_from(CLIENT, self.g.port("http")))
        r = other.request(f"/idle/{session}/0", b"\x00", extra_headers=["X-Forwarded-For: 9.9.9.9"])
        self.assertEqual(r.status, 200)
        r = http_over(connect_from(PROXY, self.g.port("http"))).request(
            f"/idle/{session}/1", b"\x00", extra_headers=["X-Forwarded-For: 9.9.9.8"])
        self.assertEqual(r.status, 200)
        self.assertEqual(len(harness.open_lines(self.g, "rtmpt")), 1)
        self.assertNotIn("9.9.9.", self.g.log())

    def test_from_an_untrusted_client_the_header_is_ignored(self):
        c, _ = self.open_session(CLIENT, ["X-Forwarded-For: 203.0.113.21"])
        me = f"{CLIENT}:{c.sock.getsockname()[1]}"
        self.assertTrue(wait_for(lambda: (me, "") in harness.open_lines(self.g, "rtmpt")), self.g.log())
        self.assertNotIn("203.0.113.21", self.g.log())

    def test_a_header_naming_no_address_keeps_the_proxy(self):
        c, _ = self.open_session(PROXY, ["X-Forwarded-For: 203.0.113.22, unknown"])
        proxy = f"{PROXY}:{c.sock.getsockname()[1]}"
        self.assertTrue(wait_for(lambda: (proxy, "") in harness.open_lines(self.g, "rtmpt")), self.g.log())


def haproxy_config(workdir, gw_a, gw_b, ports):
    """TCP frontends sending v1 and v2 to gateway A's rtmp and https; an HTTP frontend with
    option forwardfor to gateway B's http (no PROXY protocol there), and one sending v2 to
    gateway A's http. HAProxy connects to the gateways from PROXY."""
    return f"""global
    maxconn 200
defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend rtmp_v1
    mode tcp
    bind 127.0.0.1:{ports['rtmp_v1']}
    default_backend rtmp_v1
backend rtmp_v1
    mode tcp
    server gw 127.0.0.1:{gw_a.port('rtmp')} send-proxy source {PROXY}
frontend rtmp_v2
    mode tcp
    bind 127.0.0.1:{ports['rtmp_v2']}
    default_backend rtmp_v2
backend rtmp_v2
    mode tcp
    server gw 127.0.0.1:{gw_a.port('rtmp')} send-proxy-v2 source {PROXY}
frontend tls
    mode tcp
    bind 127.0.0.1:{ports['tls']}
    default_backend tls
backend tls
    mode tcp
    server gw 127.0.0.1:{gw_a.port('https')} send-proxy-v2 source {PROXY}
frontend http_forwardfor
    mode http
    bind 127.0.0.1:{ports['http_forwardfor']}
    option http-keep-alive
    option forwardfor
    default_backend http_forwardfor
backend http_forwardfor
    mode http
    server gw 127.0.0.1:{gw_b.port('http')} source {PROXY}
frontend http_v2
    mode http
    bind 127.0.0.1:{ports['http_v2']}
    option http-keep-alive
    default_backend http_v2
backend http_v2
    mode http
    server gw 127.0.0.1:{gw_a.port('http')} send-proxy-v2 source {PROXY}
"""


def listening(port):
    out = subprocess.run(["ss", "-Htln", f"( sport = :{port} )"], capture_output=True, text=True,
                         timeout=10).stdout
    return bool(out.strip())


class HaproxyTest(harness.GatewayTest):
    """A real HAProxy in front: ffmpeg's own source ports reach the gateway's log."""

    def setUp(self):
        super().setUp()
        if not shutil.which("haproxy"):
            self.skipTest("haproxy is not installed (scripts/install-deps installs it)")
        self.certs = harness.dev_certs("default")
        self.a = self.gateway(proxy_config(self.certs))
        self.b = self.gateway(proxy_config(self.certs, http=False, rtmp=False, https=False))
        self.ports = {name: harness.free_port()
                      for name in ("rtmp_v1", "rtmp_v2", "tls", "http_forwardfor", "http_v2")}
        cfg = self.path("haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(self.workdir, self.a, self.b, self.ports))
        self.haproxy = self.track(harness.Process(["haproxy", "-db", "-f", cfg], self.workdir, "haproxy",
                                                  timeout=300))
        # Listening, seen with ss: a probe connection would reach the gateways as a client.
        self.assertTrue(wait_for(lambda: all(listening(p) for p in self.ports.values())),
                        "haproxy did not start:\n" + self.haproxy.output())

    def watch_ports(self, process, port, found):
        """Polls ss until `process` has a connection to `port`; adds its source ports to `found`."""
        def seen():
            found.update(harness.source_ports(process.proc.pid, port))
            return bool(found) or process.proc.poll() is not None
        wait_for(seen, timeout=20, interval=0.1)

    def test_ffmpeg_over_rtmp_and_rtmps_through_send_proxy(self):
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = probe_packets(clip)
        play_url = f"rtmp://127.0.0.1:{self.ports['rtmp_v2']}/live/a"
        player = self.track(harness.ffmpeg_play(self.workdir, play_url, self.path("a.flv")))
        player_ports = set()
        self.watch_ports(player, self.ports["rtmp_v2"], player_ports)
        self.assertEqual(wait_metric(self.a, "rtmpgate_players_waiting", 1), 1, self.a.log())
        pub_url = f"rtmps://127.0.0.1:{self.ports['tls']}/live/a"
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, pub_url))
        publisher_ports = set()
        self.watch_ports(publisher, self.ports["tls"], publisher_ports)
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.output())
        player.wait(timeout=20)
        harness.assert_media(self, self.path("a.flv"), expected)

        self.assertEqual(len(player_ports), 1, player_ports)
        self.assertEqual(len(publisher_ports), 1, publisher_ports)
        rtmp = harness.open_lines(self.a, "rtmp")
        rtmps = harness.open_lines(self.a, "rtmps")
        self.assertEqual([c for c, _ in rtmp], [f"127.0.0.1:{player_ports.pop()}"], self.a.log())
        self.assertEqual([c for c, _ in rtmps], [f"127.0.0.1:{publisher_ports.pop()}"], self.a.log())
        # Each names HAProxy's own connection as the proxy: another port, from PROXY.
        for client, proxy in rtmp + rtmps:
            self.assertTrue(proxy.startswith(PROXY + ":"), proxy)
            self.assertNotEqual(client.rsplit(":", 1)[1], proxy.rsplit(":", 1)[1])
        self.assertEqual(metric(self.a, "rtmpgate_proxy_headers_total"), 2)

    def test_ffmpeg_over_rtmp_through_send_proxy_v1(self):
        clip = harness.make_clip("h264_aac_6s.flv")
        url = f"rtmp://127.0.0.1:{self.ports['rtmp_v1']}/live/b"
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, url, realtime=False))
        ports = set()
        self.watch_ports(publisher, self.ports["rtmp_v1"], ports)
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.output())
        self.assertEqual(len(ports), 1, ports)
        self.assertEqual([c for c, _ in harness.open_lines(self.a, "rtmp")], [f"127.0.0.1:{ports.pop()}"],
                         self.a.log())

    def test_ffmpeg_over_rtmpt_through_http_mode(self):
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = probe_packets(clip)
        # Player through option forwardfor (X-Forwarded-For, no port) to gateway B; publisher
        # through send-proxy-v2 in HTTP mode (the connection's client, with its port) to A. The
        # two gateways do not share streams: one stream each, played back on the same gateway.
        play_b = self.track(harness.ffmpeg_play(
            self.workdir, f"rtmpt://127.0.0.1:{self.ports['http_forwardfor']}/live/c", self.path("c.flv"),
            "play-c"))
        self.assertEqual(wait_metric(self.b, "rtmpgate_players_waiting", 1), 1, self.b.log())
        pub_b = self.track(harness.ffmpeg_publish(
            self.workdir, clip, f"rtmp://127.0.0.1:{self.b.port('rtmp')}/live/c", "pub-c"))
        pub_a = self.track(harness.ffmpeg_publish(
            self.workdir, clip, f"rtmpt://127.0.0.1:{self.ports['http_v2']}/live/d", "pub-d"))
        a_ports = set()
        self.watch_ports(pub_a, self.ports["http_v2"], a_ports)
        for p in (pub_a, pub_b):
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        play_b.wait(timeout=20)
        harness.assert_media(self, self.path("c.flv"), expected)

        # B: the player's session is ffmpeg's address as X-Forwarded-For gives it (no port),
        # HAProxy's connection the proxy.
        rtmpt_b = harness.open_lines(self.b, "rtmpt")
        self.assertEqual(len(rtmpt_b), 1, self.b.log())
        self.assertEqual(rtmpt_b[0][0], "127.0.0.1")
        self.assertTrue(rtmpt_b[0][1].startswith(PROXY + ":"), rtmpt_b)
        # A: the publisher's session is ffmpeg's own connection, port included.
        rtmpt_a = harness.open_lines(self.a, "rtmpt")
        self.assertEqual(len(a_ports), 1, a_ports)
        self.assertEqual([c for c, _ in rtmpt_a], [f"127.0.0.1:{a_ports.pop()}"], self.a.log())
