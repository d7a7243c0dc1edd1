"""Port 443: RTMP over TLS and RTMPT over HTTPS on one listener, SNI, refused protocol versions,
plaintext and silent clients, and certificate reload on SIGHUP."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import harness
from harness import assert_media, metric, probe_packets, wait_metric


def tls_config(cert_dir, extra_tls="", handshake_timeout="10s"):
    return f"""listeners:
  http: ""
  https: 127.0.0.1:0
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
tls:
  certificate: {cert_dir}/server.crt
  private_key: {cert_dir}/server.key
  handshake_timeout: {handshake_timeout}
{extra_tls}
routes:
  - app: "*"
    to: engine
"""


def served_subject(port, server_name=None, extra=()):
    """The subject line of the certificate the server presents, via openssl s_client."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *extra]
    if server_name:
        args += ["-servername", server_name]
    out = subprocess.run(args, input=b"", capture_output=True, timeout=20)
    text = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("subject="):
            return line
    return text


class TlsTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")

    def test_rtmps_and_rtmpts_on_one_port_both_directions(self):
        g = self.gateway(tls_config(self.certs))
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = probe_packets(clip)
        # Stream a: published over RTMP-in-TLS, played over RTMPT-in-HTTPS; stream b the reverse.
        players = [
            self.track(harness.ffmpeg_play(self.workdir, g.url("live/a", "rtmpts"), self.path("a.flv"), "play-a")),
            self.track(harness.ffmpeg_play(self.workdir, g.url("live/b", "rtmps"), self.path("b.flv"), "play-b")),
        ]
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 2), 2, g.log())
        pubs = [
            self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/a", "rtmps"), "pub-a")),
            self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/b", "rtmpts"), "pub-b")),
        ]
        for p in pubs:
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        for p in players:
            p.wait(timeout=20)
        assert_media(self, self.path("a.flv"), expected)
        assert_media(self, self.path("b.flv"), expected)
        # Both went through port 443, which speaks nothing but TLS: ffmpeg's rtmps:// (RTMP in
        # TLS) and rtmpts:// (HTTP in TLS) each worked, and the RTMPT side answered requests.
        self.assertGreater(metric(g, "rtmpgate_rtmpt_requests_total"), 0)

    def test_rtmpdump_plays_over_rtmps_and_rtmpts(self):
        # librtmp built with GnuTLS failed its RTMP handshake on TLS 1.3 session tickets (rtmps)
        # and hung on them (rtmpts): the gateway sends none.
        g = self.gateway(tls_config(self.certs))
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = probe_packets(clip)
        players = [self.track(harness.rtmpdump_play(self.workdir, g.url("live/a", scheme),
                                                    self.path(f"{scheme}.flv"), scheme))
                   for scheme in ("rtmps", "rtmpts")]
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 2), 2,
                         g.log() + "".join(p.output() for p in players))
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/a")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        for p in players:
            p.wait(timeout=20)
        for scheme in ("rtmps", "rtmpts"):
            assert_media(self, self.path(f"{scheme}.flv"), expected)

    def test_sni_chooses_the_certificate(self):
        other = harness.dev_certs("other", ["other.test"])
        extra = f"""  sni:
    - certificate: {other}/server.crt
      private_key: {other}/server.key
      server_names: [other.test]"""
        g = self.gateway(tls_config(self.certs, extra))
        port = g.port("https")
        self.assertIn("CN = other.test", served_subject(port, "other.test"))
        self.assertIn("CN = localhost", served_subject(port, "localhost"))
        self.assertIn("CN = localhost", served_subject(port))

    def test_old_tls_versions_are_refused(self):
        g = self.gateway(tls_config(self.certs))
        port = g.port("https")
        for version in ("-tls1", "-tls1_1"):
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version,
                                  "-cipher", "DEFAULT:@SECLEVEL=0"],
                                 input=b"", capture_output=True, timeout=20)
            text = (out.stdout + out.stderr).decode(errors="replace")
            self.assertNotEqual(out.returncode, 0, text)
            # The server's own refusal: a protocol_version alert, not a client-side limit.
            self.assertIn("alert protocol version", text, text)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ctx.maximum_version = version
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as s:
                    self.assertEqual(s.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                   ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version])
        self.assertTrue(g.alive())

    def test_only_forward_secret_aead_ciphers_and_the_servers_choice(self):
        g = self.gateway(tls_config(self.certs))
        port = g.port("https")
        for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"):  # no ECDHE, or no AEAD
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
                                  "-cipher", weak], input=b"", capture_output=True, timeout=20)
            self.assertNotEqual(out.returncode, 0, weak)
            self.assertIn("handshake failure", (out.stdout + out.stderr).decode(errors="replace"), weak)
        # Offered weakest first, the server still picks by its own order.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
                        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ctx.wrap_socket(raw) as tls:
            chosen = tls.cipher()[0]
        # The server lists AES128-GCM first: it wins over the client's CHACHA20 preference.
        self.assertTrue(chosen.startswith("ECDHE-") and "AES128-GCM" in chosen, chosen)
        self.assertTrue(g.alive())

    def test_tls12_sessions_are_resumed(self):
        g = self.gateway(tls_config(self.certs))
        session = self.path("tls.session")
        base = ["openssl", "s_client", "-connect", f"127.0.0.1:{g.port('https')}", "-tls1_2"]
        first = subprocess.run(base + ["-sess_out", session], input=b"", capture_output=True, timeout=20)
        self.assertIn(b"New, TLSv1.2", first.stdout)
        again = subprocess.run(base + ["-sess_in", session], input=b"", capture_output=True, timeout=20)
        self.assertIn(b"Reused, TLSv1.2", again.stdout, again.stdout.decode(errors="replace"))

    def test_alpn_http11_is_selected(self):
        g = self.gateway(tls_config(self.certs))
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.crt"))
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", g.port("https")), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
                s.sendall(b"POST /fcs/ident2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 404 Not Found\r\n"))

    def test_plaintext_and_silent_clients_are_closed(self):
        g = self.gateway(tls_config(self.certs, handshake_timeout="500ms"))
        port = g.port("https")
        for garbage in (b"POST /open/1 HTTP/1.1\r\nContent-Length: 1\r\n\r\n\x00", b"\x03" + bytes(1536)):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(garbage)
                data = s.recv(4096)
                # At most a TLS alert record (content type 21), never an HTTP or RTMP answer.
                self.assertTrue(data == b"" or data[0] == 21, data[:16])
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            self.assertEqual(s.recv(1), b"")  # closed by the gateway
        waited = time.monotonic() - started
        self.assertGreater(waited, 0.3)
        self.assertLess(waited, 3.0)
        self.assertTrue(g.alive())
        # And the port still serves TLS after all that.
        self.assertIn("CN = localhost", served_subject(port))

    def test_rtmpe_after_tls_handshake_is_closed(self):
        g = self.gateway(tls_config(self.certs))
        port = g.port("https")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def first_reply(c0):
            """What the server sends back for C0 `c0` + a C1 inside TLS: (bytes, closed)."""
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.settimeout(3)
                    s.sendall(c0 + os.urandom(1536))
                    data = b""
                    try:
                        while len(data) < 1 + 1536 * 2:
                            chunk = s.recv(65536)
                            if not chunk:
                                return data, True
                            data += chunk
                    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                        return data, True
                    except socket.timeout:
                        return data, False
                    return data, False

        for _ in range(3):
            started = time.monotonic()
            data, closed = first_reply(b"\x06")
            self.assertEqual(data, b"", "no RTMP(E) answer to 0x06")
            self.assertTrue(closed, "the RTMPE client is closed")
            self.assertLess(time.monotonic() - started, 3)
            self.assertTrue(g.alive())
        # The same port still answers RTMP inside TLS: S0 is 0x03, then S1 and S2.
        data, closed = first_reply(b"\x03")
        self.assertEqual(len(data), 1 + 1536 * 2, "an RTMPS client after the refused ones gets its handshake")
        self.assertEqual(data[0], 3)
        self.assertFalse(closed)
        self.assertTrue(g.alive())

    def test_sighup_reloads_certificates_without_dropping_streams(self):
        live = os.path.join(self.workdir, "live-cert")
        shutil.copytree(self.certs, live)
        g = self.gateway(tls_config(live))
        port = g.port("https")
        self.assertIn("CN = localhost", served_subject(port))
        clip = harness.make_clip("h264_aac_6s.flv")
        expected = probe_packets(clip)
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/r", "rtmps"), self.path("r.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/r", "rtmps")))
        time.sleep(2)
        renewed = harness.dev_certs("renewed", ["renewed.test"])
        for f in ("server.crt", "server.key"):
            shutil.copy(os.path.join(renewed, f), os.path.join(live, f))
        g.proc.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "CN = renewed.test" in served_subject(port), timeout=10))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        player.wait(timeout=20)
        assert_media(self, self.path("r.flv"), expected)

    def test_bad_tls_config_names_the_key(self):
        other = harness.dev_certs("other", ["other.test"])
        cases = {
            "tls.private_key": tls_config(self.certs).replace(f"  private_key: {self.certs}/server.key\n", ""),
            "tls.certificate": tls_config(self.certs).replace(f"{self.certs}/server.crt", "/nonexistent/server.crt"),
            "tls.private_key ": tls_config(self.certs).replace(f"{self.certs}/server.key", f"{other}/server.key"),
        }
        for key, text in cases.items():
            path = self.path("bad.yaml")
            with open(path, "w") as f:
                f.write(text)
            out = subprocess.run([harness.BINARY, "--check-config", path], capture_output=True, text=True, timeout=20)
            self.assertNotEqual(out.returncode, 0, key)
            self.assertIn(key.strip(), out.stderr, out.stderr)
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
