"""Access control on backend routes (issue 14): the gateway holds each publish and play a client
sends towards nginx-rtmp until the route's access rules allow it. A refused one never reaches
nginx-rtmp (its access log says what each session did); an allowed one goes through unchanged.
Uses the `access:` keys of routes (config/rtmpgate.yaml documents them)."""

import os
import time

import harness
from harness import assert_media, metric, probe_packets, wait_for, wait_metric

# The client's bytes reach nginx-rtmp unchanged, connect included: its applications carry the
# gateway's route names. play_restart: a player reading from nginx ends when the publisher leaves.
NGINX_APPS = """    application closed {
      live on;
    }
    application noplay {
      live on;
    }
    application open {
      live on;
      play_restart on;
    }"""


def guard_config(certs, port):
    return harness.all_listeners_config(certs, f"""  - app: closed
    to: rtmp://127.0.0.1:{port}
    access:
      publish:
        rules: ["deny all"]
  - app: noplay
    to: rtmp://127.0.0.1:{port}
    access:
      play:
        rules: ["deny all"]
  - app: open
    to: rtmp://127.0.0.1:{port}""")


def read_file(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


class BackendGuardTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        self.clip = harness.make_clip("h264_aac_6s.flv")
        self.expected = probe_packets(self.clip)
        # nginx-rtmp writes one line per session when it ends: app, stream name, and the
        # commands the session ran (publish, play).
        self.access_log = self.path("rtmp-access.log")
        _, self.nginx_port = harness.start_nginx(
            self, NGINX_APPS,
            rtmp_extra=f"  log_format sessions '[$app] [$name] [$command]';\n"
                       f"  access_log {self.access_log} sessions;")

    def sessions(self, app):
        return [line for line in read_file(self.access_log).splitlines()
                if line.startswith(f"[{app}]")]

    def test_refused_publish_never_reaches_nginx(self):
        g = self.gateway(guard_config(self.certs, self.nginx_port))
        for scheme in ("rtmp", "rtmpt"):
            started = time.monotonic()
            pub = self.track(harness.ffmpeg_publish(
                self.workdir, self.clip, g.url(f"closed/secret-{scheme}", scheme), f"pub-{scheme}",
                timeout=30))
            code = pub.wait(timeout=30)
            took = time.monotonic() - started
            self.assertNotEqual(code, 0, pub.output())
            self.assertLess(took, 10, pub.output())
            self.assertIn("Publish refused", pub.output())
        # Both sessions reached nginx (connect went through) and ended without a publish.
        self.assertTrue(wait_for(lambda: len(self.sessions("closed")) == 2, 15),
                        read_file(self.access_log) + g.log())
        for line in self.sessions("closed"):
            self.assertNotIn("secret", line)
            self.assertNotIn("publish", line.lower())
        self.assertEqual(metric(g, "rtmpgate_backend_links_total"), 2)
        # Refused is the client's doing, not the backend's.
        self.assertEqual(metric(g, "rtmpgate_backend_failures_total"), 0)

    def test_refused_play_never_reaches_nginx(self):
        g = self.gateway(guard_config(self.certs, self.nginx_port))
        started = time.monotonic()
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("noplay/hidden"),
                                                self.path("refused.flv"), timeout=30))
        self.assertNotEqual(player.wait(timeout=30), 0, player.output())
        self.assertLess(time.monotonic() - started, 10, player.output())
        dump = self.track(harness.rtmpdump_play(self.workdir, g.url("noplay/hidden", "rtmpt"),
                                                self.path("refused-dump.flv"), timeout=30))
        self.assertNotEqual(dump.wait(timeout=30), 0, dump.output())
        self.assertTrue(wait_for(lambda: len(self.sessions("noplay")) == 2, 15),
                        read_file(self.access_log) + g.log())
        for line in self.sessions("noplay"):
            self.assertNotIn("hidden", line)
            self.assertNotIn("play", line.lower().replace("[noplay]", ""))
        # Publishing on that route is allowed: only play is closed.
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("noplay/open"),
                                                realtime=False))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())

    def test_allowed_publish_plays_from_nginx_via_the_gateway(self):
        g = self.gateway(guard_config(self.certs, self.nginx_port))
        players = []
        for scheme in ("rtmp", "rtmps"):
            out = self.path(f"via-{scheme}.flv")
            players.append((self.track(harness.ffmpeg_play(
                self.workdir, g.url("open/s?token=1", scheme), out, f"play-{scheme}")), out))
        self.assertEqual(wait_metric(g, "rtmpgate_backend_links_total", 2), 2, g.log())
        harness.wait_nginx_players(self, self.nginx_port, "open", "s", 2)
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("open/s", "rtmpt")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        for p, out in players:
            p.wait(timeout=20)
            assert_media(self, out, self.expected, 0.05)
        self.assertTrue(wait_for(lambda: len(self.sessions("open")) == 3, 15),
                        read_file(self.access_log))
        commands = " ".join(self.sessions("open")).lower()
        self.assertEqual(commands.count("publish"), 1, commands)
        self.assertEqual(commands.count("play"), 2, commands)


if __name__ == "__main__":
    import unittest
    unittest.main()
