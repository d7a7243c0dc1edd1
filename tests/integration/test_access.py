"""Access control on engine routes, over rtmp, rtmps, rtmpt and rtmpts, with real ffmpeg and
rtmpdump: address rules, signed keys made by `rtmpgate sign`, and decide and done hooks against a
real HTTP server and a real HTTPS server (the development CA) started by the test."""

import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import harness
from harness import assert_media, metric, probe_packets, wait_for, wait_metric

TRANSPORTS = ("rtmp", "rtmps", "rtmpt", "rtmpts")


class HookServer:
    """A real HTTP (or HTTPS) server on 127.0.0.1 that records every POST's JSON body and answers
    by path: /allow 200, /deny 403, /hang (answers after 20 s), /rename/<name> 200 with a new
    stream name, /backend/<port> 200 naming rtmp://127.0.0.1:<port>, /garbage 200 with a body
    that is not JSON."""

    def __init__(self, cert_dir=None):
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the gateway's client expects

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle holds the body for
                # the gateway's delayed ACK (40 ms per call on a kept-alive connection).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with outer.lock:
                    outer.connections += 1

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = {"unparsable": body.decode(errors="replace")}
                with outer.lock:
                    outer.requests.append((self.path, parsed))
                status, reply = 200, b"{}"
                if self.path == "/deny":
                    status, reply = 403, b"no"
                elif self.path == "/hang":
                    time.sleep(20)
                elif self.path.startswith("/rename/"):
                    reply = json.dumps({"stream": self.path.split("/", 2)[2]}).encode()
                elif self.path.startswith("/backend/"):
                    reply = json.dumps({"backend": "rtmp://127.0.0.1:" + self.path.split("/", 2)[2]}).encode()
                elif self.path == "/garbage":
                    reply = b"<html>"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the gateway gave up on a hanging hook and closed the connection

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if cert_dir:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(os.path.join(cert_dir, "server.crt"), os.path.join(cert_dir, "server.key"))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def bodies(self, action=None):
        with self.lock:
            return [b for _, b in self.requests if action is None or b.get("action") == action]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def refused_quickly(test, process, limit=15):
    """`process` (a refused ffmpeg or rtmpdump) exits non-zero within `limit` seconds; returns
    the seconds it took."""
    start = time.time()
    code = process.wait(timeout=limit + 5)
    took = time.time() - start
    test.assertNotEqual(code, 0, process.output())
    test.assertLess(took, limit, process.output())
    return took


class AccessTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        self.clip = harness.make_clip("h264_aac_6s.flv")
        self.expected = probe_packets(self.clip)
        self.hooks = []

    def tearDown(self):
        for h in self.hooks:
            h.close()
        super().tearDown()

    def hook_server(self, tls=False):
        h = HookServer(self.certs if tls else None)
        self.hooks.append(h)
        return h

    def secret(self, name, text):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text + "\n")
        return path

    def sign(self, g, secret_file, app, stream, scheme="rtmp", expires="1h", client=None):
        """A URL signed by the real `rtmpgate sign`, moved to `scheme`'s listener."""
        args = [harness.BINARY, "sign", "--secret-file", secret_file, "--app", app, "--stream", stream,
                "--expires", expires, "--url", f"rtmp://127.0.0.1:{g.port('rtmp')}"]
        if client:
            args += ["--client", client]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        url = out.stdout.strip()
        self.assertRegex(url, rf"^rtmp://127\.0\.0\.1:\d+/{app}/{stream}\?.*sig=[0-9a-f]{{64}}")
        return g.url(url.split("/", 3)[3], scheme)

    def decisions(self, g, action, decision, reason):
        text = g.log()
        return len(re.findall(rf"access {action} .* decision={decision} reason={reason}\b", text))

    def test_address_rules_on_every_transport(self):
        g = self.gateway(harness.all_listeners_config(self.certs, """  - app: open
    to: engine
    access:
      publish: {rules: ["allow 10.0.0.0/8", "allow 127.0.0.1", "deny all"]}
      play: {rules: ["deny 192.0.2.0/24", "allow ::1", "allow 127.0.0.0/8"], default: deny}
  - app: closed
    to: engine
    access:
      publish: {rules: ["allow 10.0.0.0/8", "deny 2001:db8::/32"], default: deny}
      play: {rules: ["deny 127.0.0.0/8", "allow all"]}
"""))
        # Allowed: each transport publishes a stream of its own; ffmpeg plays each over the same
        # transport, rtmpdump over rtmp and rtmpt.
        players = []
        for t in TRANSPORTS:
            players.append((t, self.track(harness.ffmpeg_play(self.workdir, g.url(f"open/{t}", t),
                                                               self.path(f"ff-{t}.flv"), f"play-{t}"))))
        for t in ("rtmp", "rtmpt"):
            players.append((t, self.track(harness.rtmpdump_play(self.workdir, g.url(f"open/{t}", t),
                                                                self.path(f"rd-{t}.flv"), f"rtmpdump-{t}"))))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", len(players), timeout=30), len(players),
                         g.log())
        publishers = [self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url(f"open/{t}", t), f"pub-{t}"))
                      for t in TRANSPORTS]
        # Refused, meanwhile: publish and play on "closed", over every transport.
        for t in TRANSPORTS:
            refused_quickly(self, self.track(harness.ffmpeg_publish(
                self.workdir, self.clip, g.url(f"closed/{t}", t), f"refused-pub-{t}")))
            refused_quickly(self, self.track(harness.ffmpeg_play(
                self.workdir, g.url(f"open/{t}", t).replace("/open/", "/closed/"), self.path(f"no-{t}.flv"),
                f"refused-play-{t}")))
        refused_quickly(self, self.track(harness.rtmpdump_play(
            self.workdir, g.url("closed/rtmp"), self.path("no-rd.flv"), "refused-rtmpdump")))
        for p in publishers:
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        for t, p in players:
            p.wait(timeout=30)
        for t in TRANSPORTS:
            assert_media(self, self.path(f"ff-{t}.flv"), self.expected)
        for t in ("rtmp", "rtmpt"):
            assert_media(self, self.path(f"rd-{t}.flv"), self.expected)
        # Nothing of a refused stream exists: nobody publishes closed/*.
        self.assertNotIn('publishing "closed/', g.log())
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="publish", decision="refuse",
                                reason="rule_default"), 4)
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="play", decision="refuse",
                                reason="rule"), 5)
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="publish", decision="allow",
                                reason="rule"), 4)
        for t in TRANSPORTS:
            self.assertRegex(g.log(), rf'access publish app="closed" stream="{t}" client=127\.0\.0\.1:\d+ '
                                      rf'transport={t} route="closed" decision=refuse reason=rule_default')
        self.assertGreaterEqual(metric(g, "rtmpgate_refusals_total", reason="access_denied"), 9)

    def test_signed_keys(self):
        old = self.secret("old.key", "an-old-secret-of-32-octets-or-so")
        new = self.secret("new.key", "the-new-secret-after-a-rotation!")
        wrong = self.secret("wrong.key", "a-secret-this-gateway-never-had")
        g = self.gateway(harness.all_listeners_config(self.certs, f"""  - app: signed
    to: engine
    access:
      publish: {{token: true}}
      play: {{token: true}}
      secret_files: [{old}, {new}]
"""))
        # Valid tokens, signed with the old and with the new secret (both current): a publisher
        # over rtmpts and players over every transport, one of them rtmpdump.
        players = []
        for i, t in enumerate(TRANSPORTS):
            url = self.sign(g, old if i % 2 else new, "signed", "s", t)
            players.append(self.track(harness.ffmpeg_play(self.workdir, url, self.path(f"ff-{t}.flv"), f"play-{t}")))
        players.append(self.track(harness.rtmpdump_play(self.workdir, self.sign(g, old, "signed", "s", "rtmpt"),
                                                        self.path("rd.flv"))))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", len(players), timeout=30), len(players),
                         g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, self.sign(g, new, "signed", "s", "rtmpts")))
        # Refused meanwhile, each over another transport.
        now = int(time.time())
        bad = {
            "expired": self.sign(g, new, "signed", "x", "rtmp", expires=f"@{now - 5}"),
            "wrong-secret": self.sign(g, wrong, "signed", "x", "rtmps"),
            "tampered": self.sign(g, new, "signed", "x", "rtmpt").replace("/signed/x?", "/signed/y?"),
            "no-token": g.url("signed/x", "rtmpts"),
            "other-client": self.sign(g, new, "signed", "x", "rtmp", client="192.0.2.7"),
        }
        for name, url in bad.items():
            refused_quickly(self, self.track(harness.ffmpeg_publish(self.workdir, self.clip, url, f"pub-{name}")))
        refused_quickly(self, self.track(harness.rtmpdump_play(
            self.workdir, bad["tampered"], self.path("no.flv"), "rtmpdump-tampered")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        for p in players:
            p.wait(timeout=30)
        for t in TRANSPORTS:
            assert_media(self, self.path(f"ff-{t}.flv"), self.expected)
        assert_media(self, self.path("rd.flv"), self.expected)
        for reason, n in (("token_expired", 1), ("token_bad_signature", 3), ("token_missing", 1)):
            self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="publish", decision="refuse",
                                    reason=reason), n, reason)
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="play", decision="refuse",
                                reason="token_bad_signature"), 1)
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="play", decision="allow",
                                reason="token_ok"), 5)
        self.assertNotIn('publishing "signed/x"', g.log())

    def test_hooks_over_http_and_https(self):
        plain = self.hook_server()
        secure = self.hook_server(tls=True)
        g = self.gateway(harness.all_listeners_config(self.certs, f"""  - app: http
    to: engine
    access:
      hooks:
        on_publish: {plain.url("/allow")}
        on_play: {plain.url("/rename/renamed")}
        on_publish_done: {plain.url("/done")}
        on_play_done: {plain.url("/done")}
  - app: https
    to: engine
    access:
      hooks:
        on_connect: {secure.url("/allow")}
        on_publish: {secure.url("/allow")}
        on_play: {secure.url("/deny")}
        ca_file: {self.certs}/ca.crt
"""))
        # http: the player asks for "anything" and the hook renames it to "renamed", which the
        # publisher publishes.
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("http/anything?who=viewer", "rtmpt"),
                                                self.path("renamed.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1, timeout=30), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("http/renamed?k=v&n=1", "rtmps")))
        # https: connect and publish allowed, play refused, by a hook behind TLS.
        pub2 = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("https/b", "rtmpts"), "pub-https"))
        refused_quickly(self, self.track(harness.ffmpeg_play(self.workdir, g.url("https/b", "rtmp"),
                                                             self.path("no.flv"), "refused-play")))
        refused_quickly(self, self.track(harness.rtmpdump_play(self.workdir, g.url("https/b", "rtmpt"),
                                                               self.path("no2.flv"), "refused-rtmpdump")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(pub2.wait(timeout=60), 0, pub2.output())
        player.wait(timeout=30)
        assert_media(self, self.path("renamed.flv"), self.expected)

        published = plain.bodies("publish")
        self.assertEqual(len(published), 1, plain.requests)
        body = published[0]
        self.assertEqual((body["app"], body["stream"], body["transport"], body["route"]),
                         ("http", "renamed", "rtmps", "http"), body)
        self.assertEqual(body["client"], "127.0.0.1", body)
        self.assertIn(["k", "v"] if isinstance(body["args"], list) else "k", body["args"], body)
        self.assertRegex(body["connection"], r"^conn \d+$")
        played = plain.bodies("play")
        self.assertEqual([(b["stream"], b["transport"]) for b in played], [("anything", "rtmpt")], played)
        # The done hooks, once each, after the publisher and the player left.
        self.assertTrue(wait_for(lambda: len(plain.bodies("publish_done")) == 1 and
                                 len(plain.bodies("play_done")) == 1, timeout=15), plain.requests)
        self.assertEqual(plain.bodies("play_done")[0]["stream"], "renamed")
        self.assertEqual([b["action"] for b in secure.bodies()].count("connect"), 3, secure.requests)
        self.assertEqual(len(secure.bodies("play")), 2, secure.requests)
        # Kept-alive connections: far fewer than the requests.
        self.assertLess(secure.connections, len(secure.requests), (secure.connections, secure.requests))
        self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="play", decision="refuse",
                                reason="hook_refused"), 2)
        self.assertGreaterEqual(metric(g, "rtmpgate_hook_duration_seconds_count"), 8)

    def test_a_hook_that_hangs_or_is_down_refuses_and_others_go_on(self):
        slow = self.hook_server()
        down_port = harness.free_port()
        g = self.gateway(harness.all_listeners_config(self.certs, f"""  - app: slow
    to: engine
    access:
      hooks: {{on_publish: {slow.url("/hang")}, timeout: 1s}}
  - app: down
    to: engine
    access:
      hooks: {{on_publish: "http://127.0.0.1:{down_port}/x"}}
  - app: lenient
    to: engine
    access:
      hooks: {{on_publish: {slow.url("/hang")}, timeout: 500ms, on_failure: allow}}
  - app: garbage
    to: engine
    access:
      hooks: {{on_publish: {slow.url("/garbage")}}}
  - app: open
    to: engine
"""))
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("open/a"), self.path("a.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1, timeout=30), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("open/a")))
        # While the open stream plays: a hook that never answers refuses within its timeout; a
        # hook server that is down refuses at once; a reply that is not JSON refuses.
        took = refused_quickly(self, self.track(harness.ffmpeg_publish(self.workdir, self.clip,
                                                                       g.url("slow/x", "rtmpt"), "pub-slow")))
        self.assertGreater(took, 0.9)
        took_down = refused_quickly(self, self.track(harness.ffmpeg_publish(self.workdir, self.clip,
                                                                            g.url("down/x"), "pub-down")), limit=5)
        refused_quickly(self, self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("garbage/x"),
                                                                "pub-garbage")))
        lenient = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("lenient/x"), "pub-lenient"))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(player.wait(timeout=30), 0, player.output())
        assert_media(self, self.path("a.flv"), self.expected)
        self.assertEqual(lenient.wait(timeout=60), 0, lenient.output())
        for reason, decision in (("hook_timeout", "refuse"), ("hook_unreachable", "refuse"),
                                 ("hook_bad_reply", "refuse"), ("hook_timeout", "allow")):
            self.assertEqual(metric(g, "rtmpgate_access_decisions_total", action="publish", decision=decision,
                                    reason=reason), 1, reason)
        self.assertLess(took_down, 5)

    def test_a_hook_names_the_backend(self):
        # Routing by key, to a real nginx-rtmp: the on_connect hook of app "keyed" sends the whole
        # connection there; the on_publish hook of app "pushed" lets the engine take the stream
        # and push it there. Both streams then play from nginx-rtmp.
        nginx, port = harness.start_nginx(self, """    application keyed {
      live on;
      play_restart on;
    }
    application pushed {
      live on;
      play_restart on;
    }""")
        hooks = self.hook_server()
        g = self.gateway(harness.all_listeners_config(self.certs, f"""  - app: keyed
    to: engine
    access:
      hooks: {{on_connect: {hooks.url(f"/backend/{port}")}}}
  - app: pushed
    to: engine
    access:
      hooks: {{on_publish: {hooks.url(f"/backend/{port}")}, on_play: {hooks.url(f"/backend/{port}")}}}
"""))
        players = [self.track(harness.ffmpeg_play(self.workdir, f"rtmp://127.0.0.1:{port}/{app}/k1",
                                                  self.path(f"{app}.flv"), f"play-{app}"))
                   for app in ("keyed", "pushed")]
        # nginx-rtmp keeps a player of a stream not yet published waiting (play_restart: and ends
        # it when the publisher leaves).
        for app in ("keyed", "pushed"):
            harness.wait_nginx_players(self, port, app, "k1", 1)
        pubs = [self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("keyed/k1?key=abc", "rtmpt"),
                                                  "pub-keyed")),
                self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("pushed/k1?key=abc", "rtmps"),
                                                  "pub-pushed"))]
        # A play whose hook names a backend cannot be handed over: refused.
        refused_quickly(self, self.track(harness.ffmpeg_play(self.workdir, g.url("pushed/k1"), self.path("no.flv"),
                                                             "refused-play")))
        for p in pubs:
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        for p in players:
            p.wait(timeout=30)
        for app in ("keyed", "pushed"):
            assert_media(self, self.path(f"{app}.flv"), self.expected)
        self.assertEqual(sorted(b["action"] for b in hooks.bodies()), ["connect", "play", "publish"],
                         hooks.requests)
        for action in ("connect", "publish"):
            self.assertRegex(g.log(), rf"access {action} .* decision=allow reason=hook_allowed .*"
                                      rf"backend=rtmp://127\.0\.0\.1:{port}")
        self.assertNotIn('publishing "keyed/k1"', g.log())  # the connection went to nginx-rtmp
        self.assertIn('publishing "pushed/k1"', g.log())  # the engine's, pushed to nginx-rtmp

    def test_address_rules_over_ipv6(self):
        g = self.gateway(f"""listeners:
  rtmp: "[::1]:0"
  admin: 127.0.0.1:0
routes:
  - app: v6
    to: engine
    access:
      publish: {{rules: ["deny 2001:db8::/32", "allow ::1", "deny all"]}}
  - app: v4only
    to: engine
    access:
      publish: {{rules: ["allow 127.0.0.0/8", "deny ::/0"]}}
""")
        url = f"rtmp://[::1]:{g.port('rtmp')}"
        player = self.track(harness.ffmpeg_play(self.workdir, f"{url}/v6/a", self.path("v6.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1, timeout=30), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, f"{url}/v6/a"))
        refused_quickly(self, self.track(harness.ffmpeg_publish(self.workdir, self.clip, f"{url}/v4only/a",
                                                                "refused")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        player.wait(timeout=30)
        assert_media(self, self.path("v6.flv"), self.expected)
        self.assertRegex(g.log(), r'access publish app="v6" stream="a" client=\[::1\]:\d+ transport=rtmp '
                                  r'route="v6" decision=allow reason=rule detail="address rule 1"')
        self.assertRegex(g.log(), r'access publish app="v4only" .* decision=refuse reason=rule detail="address rule 1"')

    def test_done_hooks_only_for_what_was_served_and_at_shutdown(self):
        import rtmp_client
        hooks = self.hook_server()
        g = self.gateway(harness.all_listeners_config(self.certs, f"""  - app: live
    to: engine
    access:
      hooks: {{on_publish: {hooks.url("/allow")}, on_publish_done: {hooks.url("/done")},
              on_play_done: {hooks.url("/done")}}}
"""))
        first = rtmp_client.Client("127.0.0.1", g.port("rtmp"), timeout=5)
        first.handshake()
        self.assertEqual(first.connect("live")[0], "_result")
        _, status = first.publish("busy")
        self.assertEqual(status.get("code"), "NetStream.Publish.Start")
        # A second publisher of the same name is allowed by the hook but refused by the engine
        # (already published): no done hook is owed for it, and it may ask only so often.
        second = rtmp_client.Client("127.0.0.1", g.port("rtmp"), timeout=5)
        second.handshake()
        self.assertEqual(second.connect("live")[0], "_result")
        _, status = second.publish("busy")
        self.assertEqual(status.get("code"), "NetStream.Publish.BadName")
        for _ in range(40):
            second.call("publish", "busy", "live", stream_id=1, csid=8)
        self.assertTrue(rtmp_client.server_closes(second.sock, timeout=10))
        # The socket closes before the connection's close line (which gives the reason) is written.
        reason = "more than 32 publish and play requests on one connection"
        wait_for(lambda: reason in g.log(), timeout=5)
        self.assertIn(reason, g.log())
        self.assertLessEqual(len(hooks.bodies("publish")), 33)
        time.sleep(0.5)
        self.assertEqual(hooks.bodies("publish_done"), [], hooks.requests)
        # SIGTERM while the first still publishes: its done hook is told before the gateway exits.
        self.assertEqual(g.stop(), 0)
        done = hooks.bodies("publish_done")
        self.assertEqual([(b["stream"], b["connection"]) for b in done], [("busy", "conn 1")], hooks.requests)
        first.close()
        second.close()
