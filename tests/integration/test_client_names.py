"""What clients put in names can neither forge the log nor grow without bound: app names with
CR/LF, NUL, invalid UTF-8 are logged escaped on one line; app, tcUrl and stream names over
limits.max_name_length / max_url_length are refused with the reply a client expects (connect
_error, publish/play onStatus), the connection closed and the refusal counted in /metrics, over
plain RTMP, RTMPT and on a backend route before the backend is contacted. Raw RTMP from the
independent test client (rtmp_client.py)."""

import re
import unittest

import harness
from harness import metric, wait_metric
from rtmp_client import Client, server_closes
from rtmpt_client import TunnelSocket

FORGED = b"a\r\n2026-01-01T00:00:00.000Z error FORGED: admin login from 10.0.0.1"
# A timestamp and a level at the start of a line: what only the gateway may write.
RECORD = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) ")


def connect_raw(client, app, tc_url=b"rtmp://127.0.0.1/live", **extra):
    """connect with exactly these octets as app and tcUrl; the _result or _error."""
    obj = {"app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url, "objectEncoding": 0}
    obj.update(extra)
    tx = client.call("connect", command_object=obj)
    return client.wait_command(lambda c: c[0] in ("_result", "_error") and c[1] == tx)


def log_bytes(g):
    with open(g.log_path, "rb") as f:
        return f.read()


class ClientNames(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.g = self.gateway()

    def client(self):
        c = Client("127.0.0.1", self.g.port("rtmp"))
        c.handshake()
        return c

    def wait_log(self, pattern):
        if not harness.wait_for(lambda: re.search(pattern, log_bytes(self.g)), timeout=5):
            self.fail(f"{pattern!r} not in the log:\n" + log_bytes(self.g).decode(errors="replace"))

    def assert_log_is_safe(self):
        """Every line of the log is a record the gateway wrote, without a control byte."""
        raw = log_bytes(self.g)
        for line in raw.split(b"\n")[:-1]:
            self.assertRegex(line, RECORD, "a line the gateway did not start")
            self.assertNotRegex(line, rb"[\x00-\x09\x0b-\x1f\x7f]", "a raw control byte")
            self.assertLess(len(line), 9000)
        self.assertNotIn(b"\r", raw)

    def test_cr_lf_in_app_cannot_forge_a_line(self):
        c = self.client()
        self.assertEqual(connect_raw(c, FORGED)[0], "_result")  # the "*" route takes any app
        c.close()
        # The close line comes after the connect line: both are in by then.
        self.wait_log(rb"close rtmp .* app=\"a\\x0d\\x0a2026")
        raw = log_bytes(self.g)
        self.assertNotRegex(raw, rb"(^|\n)2026-01-01T00:00:00.000Z error FORGED", raw)
        self.assertIn(b'connect app="a\\x0d\\x0a2026-01-01T00:00:00.000Z error FORGED: admin login '
                      b'from 10.0.0.1" tcUrl=', raw)
        self.assert_log_is_safe()

    def test_nul_and_invalid_utf8_in_names_are_escaped(self):
        c = self.client()
        reply = connect_raw(c, b"live", tc_url=b"rtmp://h/live\x00\xff\xc3\xa9\x7f",
                            flashVer=b"FMLE\x00\x1b[2J")
        self.assertEqual(reply[0], "_result")
        sid, status = c.publish(b"key\x00\r\n\xe2\x80\xa8end")
        self.assertEqual(status["code"], "NetStream.Publish.Start")
        self.wait_log(rb"publishing \"live/key")
        c.close()
        self.wait_log(rb"close rtmp .* role=publisher")
        raw = log_bytes(self.g)
        self.assertIn(b'tcUrl="rtmp://h/live\\x00\\xff\xc3\xa9\\x7f"', raw)  # é is kept
        self.assertIn(b'flashVer="FMLE\\x00\\x1b[2J"', raw)
        self.assertIn(b'publishing "live/key\\x00\\x0d\\x0a\\xe2\\x80\\xa8end"', raw)
        self.assert_log_is_safe()

    def test_a_60000_byte_app_is_refused_and_not_logged(self):
        before = metric(self.g, "rtmpgate_refusals_total", reason="connect_string_too_long")
        c = self.client()
        c.set_chunk_size(65536)
        reply = connect_raw(c, "a" * 60000)
        self.assertEqual(reply[0], "_error")
        self.assertEqual(reply[3]["code"], "NetConnection.Connect.Rejected")
        self.assertEqual(reply[3]["description"], "app longer than 1024 bytes.")
        self.assertTrue(server_closes(c.sock))
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", before + 1,
                                     reason="connect_string_too_long"), before + 1)
        self.wait_log(rb"reason=connect: app over limits.max_name_length \(1024\)")
        self.assertNotIn(b"a" * 600, log_bytes(self.g))
        self.assert_log_is_safe()
        # At the limit, an app is served.
        c = self.client()
        self.assertEqual(connect_raw(c, "b" * 1024)[0], "_result")
        c.close()

    def test_a_long_tcurl_is_refused(self):
        c = self.client()
        reply = connect_raw(c, "live", tc_url="rtmp://127.0.0.1/live/" + "u" * 3000)
        self.assertEqual((reply[0], reply[3]["code"], reply[3]["description"]),
                         ("_error", "NetConnection.Connect.Rejected", "tcUrl longer than 2048 bytes."))
        self.assertTrue(server_closes(c.sock))
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", 1,
                                     reason="connect_string_too_long"), 1)

    def test_long_stream_names_are_refused_with_on_status(self):
        for command, code in (("publish", "NetStream.Publish.BadName"),
                              ("play", "NetStream.Play.Failed")):
            c = self.client()
            self.assertEqual(connect_raw(c, "live")[0], "_result")
            sid = c.create_stream()
            c.call(command, "key?token=" + "t" * 2000, stream_id=sid, csid=8)
            status = c.wait_command(lambda m: m[0] == "onStatus")[3]
            self.assertEqual((status["level"], status["code"]), ("error", code), command)
            self.assertTrue(server_closes(c.sock), command)
        self.assertEqual(wait_metric(self.g, "rtmpgate_refusals_total", 2,
                                     reason="stream_name_too_long"), 2)
        self.wait_log(rb"reason=play: stream name of 2010 bytes, over limits.max_name_length")
        self.assertNotIn(b"t" * 600, log_bytes(self.g))
        self.assertEqual(metric(self.g, "rtmpgate_streams"), 0)


class ClientNamesConfigured(harness.GatewayTest):
    def test_limits_come_from_the_config(self):
        g = self.gateway(harness.engine_config(
            "limits:\n  max_name_length: 64\n  max_url_length: 100\n"))
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        self.assertEqual(connect_raw(c, "l" * 64, tc_url="rtmp://h/" + "u" * 91)[0], "_result")
        _, status = c.publish("k" * 64)
        self.assertEqual(status["code"], "NetStream.Publish.Start")
        c.close()
        for app, tc_url in (("l" * 65, "rtmp://h/l"), ("live", "rtmp://h/" + "u" * 92)):
            c = Client("127.0.0.1", g.port("rtmp"))
            c.handshake()
            self.assertEqual(connect_raw(c, app, tc_url=tc_url)[0], "_error")
            self.assertTrue(server_closes(c.sock))
        self.assertEqual(wait_metric(g, "rtmpgate_refusals_total", 2,
                                     reason="connect_string_too_long"), 2)


class ClientNamesElsewhere(harness.GatewayTest):
    def test_over_rtmpt(self):
        g = self.gateway(harness.engine_config().replace('http: ""', "http: 127.0.0.1:0"))
        c = Client(None, None, sock=TunnelSocket(g.port("http")))
        c.handshake()
        reply = connect_raw(c, b"x" * 5000 + b"\r\n")
        self.assertEqual((reply[0], reply[3]["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertEqual(wait_metric(g, "rtmpgate_refusals_total", 1,
                                     reason="connect_string_too_long"), 1)
        self.assertNotIn(b"x" * 600, log_bytes(g))

    def test_on_a_backend_route_before_the_backend_is_contacted(self):
        # Nothing listens on the backend's port: had the gateway tried it, the client would get
        # NetConnection.Connect.Failed and rtmpgate_backend_failures_total would count it.
        g = self.gateway(harness.engine_config().replace(
            "to: engine", f"to: rtmp://127.0.0.1:{harness.free_port()}"))
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        reply = connect_raw(c, "a" * 1025)
        self.assertEqual((reply[0], reply[3]["code"]), ("_error", "NetConnection.Connect.Rejected"))
        self.assertTrue(server_closes(c.sock))
        self.assertEqual(wait_metric(g, "rtmpgate_refusals_total", 1,
                                     reason="connect_string_too_long"), 1)
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 0)
        self.assertEqual(metric(g, "rtmpgate_backend_links_total"), 0)


if __name__ == "__main__":
    unittest.main()
