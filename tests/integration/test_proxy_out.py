"""PROXY out (routes[i].send_proxy_protocol): the gateway writes a PROXY protocol header first on
its backend connection, so that the backend sees the client's address and port instead of the
gateway's. Against a bare TCP backend that shows the octets, a real nginx-rtmp listening with
proxy_protocol, and nginx's stream module terminating TLS in front of nginx-rtmp (the header goes
before the TLS handshake)."""

import re
import socket
import struct
import threading

import harness
import rtmp_client
from harness import wait_for

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
# The gateway's log line for a client connection: "<id>: open rtmp from 127.0.0.1:40000".
OPEN = re.compile(r": open rtmp from (\S+):(\d+)")

NGINX_APP = """    application relay {
      live on;
    }"""


def route_config(backend, send_proxy_protocol=None, options=()):
    options = list(options)
    if send_proxy_protocol:
        options.append(f"send_proxy_protocol: {send_proxy_protocol}")
    lines = "".join(f"\n    {o}" for o in options)
    return f"""listeners:
  http: ""
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: relay
    to: {backend}{lines}
"""


def header_length(data):
    """The octets a PROXY header at the start of `data` takes (0 when there is none), or None
    while it is incomplete."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        return None if end < 0 else end + 2
    if data.startswith(V2_SIGNATURE):
        return None if len(data) < 16 else 16 + struct.unpack(">H", data[14:16])[0]
    if len(data) < 12 and (b"PROXY "[:len(data)] == data or V2_SIGNATURE[:len(data)] == data):
        return None
    return 0


class CapturingBackend:
    """A TCP backend that keeps the first octets of each connection (up to the header and an RTMP
    C0C1) and then closes it: what the gateway writes before anything else."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                try:
                    while (n := header_length(data)) is None or len(data) < n + 1537:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                self.received.append(data)

    def close(self):
        self.sock.close()


class SourceRelay:
    """Forwards each connection to 127.0.0.1:`port` from `source`, another loopback address, so
    that the gateway's client has an address the gateway itself does not use: a backend that
    records 127.0.0.2 learnt it from the PROXY header, not from its own socket."""

    def __init__(self, port, source="127.0.0.2"):
        self.target = port
        self.source = source
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.source_ports = []
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
                up = socket.create_connection(("127.0.0.1", self.target), timeout=10,
                                              source_address=(self.source, 0))
            except OSError:
                return
            up.settimeout(None)
            self.source_ports.append(up.getsockname()[1])
            self.held += [conn, up]
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for s in self.held:
            s.close()


def client_ports(gateway):
    """The (address, port) of every client the gateway logged, in order."""
    return [(a, int(p)) for a, p in OPEN.findall(gateway.log())]


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class ProxyOutTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.clip = harness.make_clip("h264_aac_2s.flv", seconds=2)

    def connect_through(self, g):
        """An RTMP client's connect to app relay through gateway `g` (the backend fails it);
        returns the client's own port."""
        c = rtmp_client.Client("127.0.0.1", g.port("rtmp"))
        try:
            port = c.sock.getsockname()[1]
            c.handshake()
            reply = c.connect("relay")
            self.assertEqual(reply[0], "_error")  # the capturing backend never answers C0C1
        finally:
            c.close()
        return port

    def capture(self, send_proxy_protocol):
        backend = CapturingBackend()
        self.addCleanup(backend.close)
        g = self.gateway(route_config(f"rtmp://127.0.0.1:{backend.port}", send_proxy_protocol))
        port = self.connect_through(g)
        self.assertTrue(wait_for(lambda: backend.received, 10), g.log())
        return g, port, backend.received[0]

    def test_v1_header_comes_first_and_names_the_client(self):
        g, port, data = self.capture("v1")
        line = f"PROXY TCP4 127.0.0.1 127.0.0.1 {port} {g.port('rtmp')}\r\n".encode()
        self.assertEqual(data[:len(line)], line, data[:120])
        self.assertEqual(data[len(line):len(line) + 1], b"\x03", "the RTMP C0 follows the header")

    def test_v2_header_comes_first_and_names_the_client(self):
        g, port, data = self.capture("v2")
        self.assertEqual(data[:12], V2_SIGNATURE, data[:40])
        version_command, family, length = struct.unpack(">BBH", data[12:16])
        self.assertEqual((version_command, family, length), (0x21, 0x11, 12))  # PROXY, TCP4
        src, dst, src_port, dst_port = struct.unpack(">4s4sHH", data[16:28])
        self.assertEqual((socket.inet_ntoa(src), socket.inet_ntoa(dst)), ("127.0.0.1", "127.0.0.1"))
        self.assertEqual((src_port, dst_port), (port, g.port("rtmp")))
        self.assertEqual(data[28:29], b"\x03", "the RTMP C0 follows the header")

    def test_without_the_option_the_backend_gets_no_header(self):
        _, _, data = self.capture(None)
        self.assertEqual(data[:1], b"\x03", data[:40])

    def test_nginx_rtmp_records_the_client_address(self):
        """ffmpeg -> relay (from 127.0.0.2) -> gateway -> nginx-rtmp listening with
        proxy_protocol, whose access log writes the address it took from the header. nginx-rtmp
        (1.2.2) reads v1 only, and its log has no port: the stream server tests below show v2
        and ffmpeg's own port."""
        access_log = self.path("rtmp-access.log")
        _, nginx_port = harness.start_nginx(
            self, NGINX_APP, listen_options="proxy_protocol",
            rtmp_extra=f"  log_format client '$remote_addr $command $app $name';\n"
                       f"  access_log {access_log} client;")
        g = self.gateway(route_config(f"rtmp://127.0.0.1:{nginx_port}", "v1"))
        relay = SourceRelay(g.port("rtmp"))
        self.addCleanup(relay.close)
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip,
                                                f"rtmp://127.0.0.1:{relay.port}/relay/v1"))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output() + g.log())
        # The gateway's client is the relay's connection from 127.0.0.2.
        self.assertEqual(client_ports(g), [("127.0.0.2", relay.source_ports[0])], g.log())
        # nginx-rtmp writes its access log line when the session ends, after the publisher left.
        expected = "127.0.0.2 PUBLISH relay v1"
        self.assertTrue(wait_for(lambda: expected in read_file(access_log), 15),
                        f"access log: {read_file(access_log)!r}\n" +
                        read_file(self.path("nginx-error.log"))[-3000:])
        self.assertEqual(harness.metric(g, "rtmpgate_backend_failures_total"), 0)

    def publish_through_nginx_stream(self, version, tls):
        """ffmpeg -> gateway -> nginx's stream module (listen proxy_protocol, with ssl for an
        rtmps:// route: the dev CA's certificate) -> nginx-rtmp. The stream server logs the
        header's source and destination, and its own peer."""
        certs = harness.dev_certs("default")
        front_port, rtmp_port = harness.free_port(), harness.free_port()
        stream_log = self.path("stream-access.log")
        ssl = "ssl " if tls else ""
        certificates = (f"ssl_certificate {certs}/server.crt;\n"
                        f"    ssl_certificate_key {certs}/server.key;") if tls else ""
        harness.start_nginx(self, NGINX_APP, port=rtmp_port, stream=f"""
  log_format pp '$proxy_protocol_addr:$proxy_protocol_port '
                '$proxy_protocol_server_addr:$proxy_protocol_server_port $remote_addr:$remote_port';
  access_log {stream_log} pp;
  server {{
    listen 127.0.0.1:{front_port} {ssl}proxy_protocol;
    {certificates}
    proxy_pass 127.0.0.1:{rtmp_port};
  }}""")
        # nginx opens the stream port with the rtmp one that start_nginx waited for (a probe of
        # its own would be one more session in the stream log).
        if tls:
            g = self.gateway(route_config(f"rtmps://127.0.0.1:{front_port}", version,
                                          (f"ca_file: {certs}/ca.crt", "server_name: localhost")))
        else:
            g = self.gateway(route_config(f"rtmp://127.0.0.1:{front_port}", version))
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url(f"relay/{version}")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output() + g.log())
        [(address, port)] = client_ports(g)  # ffmpeg's own address and source port
        # nginx writes a stream session's log line when it ends.
        self.assertTrue(wait_for(lambda: read_file(stream_log).strip(), 15),
                        "no stream log\n" + read_file(self.path("nginx-error.log"))[-3000:])
        lines = read_file(stream_log).splitlines()
        self.assertEqual(len(lines), 1, lines)
        source, destination, peer = lines[0].split()
        self.assertEqual(source, f"{address}:{port}")
        self.assertEqual(destination, f"127.0.0.1:{g.port('rtmp')}")
        self.assertNotEqual(peer, source, "the stream server's own peer is the gateway")
        self.assertEqual(harness.metric(g, "rtmpgate_backend_links_total"), 1)
        self.assertEqual(harness.metric(g, "rtmpgate_backend_failures_total"), 0)

    def test_stream_server_reads_v1(self):
        self.publish_through_nginx_stream("v1", tls=False)

    def test_stream_server_reads_v2(self):
        self.publish_through_nginx_stream("v2", tls=False)

    def test_tls_backend_reads_v1_before_tls(self):
        self.publish_through_nginx_stream("v1", tls=True)

    def test_tls_backend_reads_v2_before_tls(self):
        self.publish_through_nginx_stream("v2", tls=True)
