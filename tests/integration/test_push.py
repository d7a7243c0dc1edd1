"""The push relay: an engine route with `push:` publishes every stream published on it again on a
real nginx-rtmp (over plain RTMP, and over TLS through nginx's stream module), as nginx-rtmp's own
`push` does, while local players keep playing from the engine."""

import re
import signal
import time

import harness
from harness import assert_media, metric, probe_packets, wait_for, wait_metric

# play_restart: nginx-rtmp tells its players NetStream.Play.Stop when the publisher leaves, so
# that ffmpeg playing straight from it ends.
NGINX_APPS = """    application live {
      live on;
      play_restart on;
    }
    application other {
      live on;
      play_restart on;
    }"""


def push_config(pushes, certs=None):
    tls = f"""tls:
  certificate: {certs}/server.crt
  private_key: {certs}/server.key
""" if certs else ""
    return f"""listeners:
  http: ""
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
{tls}routes:
  - app: live
    to: engine
    push:
{pushes}"""


def push_warnings(g):
    return re.findall(r" warn +conn \d+: push .*$", g.log(), re.M)


class PushTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.clip = harness.make_clip("h264_aac_6s.flv")
        self.expected = probe_packets(self.clip)

    def play_both(self, g, nginx_port, nginx_path, local_path, publish_path):
        """Players on nginx-rtmp (`nginx_path`) and on the gateway (`local_path`) wait, ffmpeg
        publishes the clip to the gateway as `publish_path`; both players get all of it."""
        direct = self.path("direct.flv")
        local = self.path("local.flv")
        players = [
            (self.track(harness.ffmpeg_play(self.workdir, f"rtmp://127.0.0.1:{nginx_port}/{nginx_path}",
                                            direct, "play-nginx")), direct),
            (self.track(harness.ffmpeg_play(self.workdir, g.url(local_path), local, "play-local")), local),
        ]
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        app, name = nginx_path.split("/", 1)
        harness.wait_nginx_players(self, nginx_port, app, name, 1)
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url(publish_path)))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output() + g.log())
        for p, out in players:
            p.wait(timeout=20)
            assert_media(self, out, self.expected, 0.05)

    def test_push_to_nginx_plays_there_and_locally(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{nginx_port}/live\n"))
        self.play_both(g, nginx_port, "live/k", "live/k", "live/k")
        self.assertTrue(wait_for(lambda: re.search(r'push "live/k" to \S+ ended: publisher stopped', g.log())),
                        g.log())
        self.assertEqual(push_warnings(g), [])
        self.assertEqual(metric(g, "rtmpgate_pushes_total"), 1)
        self.assertEqual(metric(g, "rtmpgate_push_failures_total"), 0)
        # The push left the engine as it found it: no stream, no connection.
        self.assertEqual(wait_metric(g, "rtmpgate_connections_open", 0), 0, g.log())
        self.assertEqual(metric(g, "rtmpgate_streams"), 0)

    def test_push_with_a_name_of_its_own_to_two_servers(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        # Two entries: the same stream under another app and name, and to a dead server.
        dead = harness.free_port()
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{nginx_port}/other/renamed\n"
                                     f"      - rtmp://127.0.0.1:{dead}/live\n"))
        self.play_both(g, nginx_port, "other/renamed", "live/n", "live/n")
        # The dead server costs one warning and nothing else.
        self.assertTrue(wait_for(lambda: len(push_warnings(g)) == 1), g.log())
        self.assertIn(f"rtmp://127.0.0.1:{dead}/live/n failed: connect", push_warnings(g)[0])

    def test_push_to_a_dead_backend_leaves_the_publish_and_local_players_alone(self):
        dead = harness.free_port()
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{dead}/live\n"))
        local = self.path("local.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/d"), local, "play-local"))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/d")))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output() + g.log())
        player.wait(timeout=20)
        assert_media(self, local, self.expected, 0.05)
        warnings = push_warnings(g)
        self.assertEqual(len(warnings), 1, g.log())
        self.assertIn(f'push "live/d" to rtmp://127.0.0.1:{dead}/live/d failed: connect', warnings[0])
        self.assertEqual(metric(g, "rtmpgate_pushes_total"), 0)
        self.assertEqual(metric(g, "rtmpgate_push_failures_total"), 1)

    def test_server_lost_mid_stream_ends_only_the_push(self):
        nginx, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{nginx_port}/live\n"))
        local = self.path("local.flv")
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/m"), local, "play-local"))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/m")))
        self.assertEqual(wait_metric(g, "rtmpgate_pushes_total", 1), 1, g.log())
        time.sleep(1)
        nginx.kill()
        nginx.wait(timeout=10)
        self.assertTrue(wait_for(lambda: push_warnings(g), 10), g.log())
        self.assertRegex(push_warnings(g)[0], r"failed: (backend closed|backend: |write: )")
        # The publisher and the local player never noticed.
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        player.wait(timeout=20)
        assert_media(self, local, self.expected, 0.05)
        self.assertEqual(len(push_warnings(g)), 1, g.log())
        self.assertEqual(metric(g, "rtmpgate_push_failures_total"), 1)

    def test_push_to_a_server_that_never_answers_is_timed_out(self):
        silent = harness.SilentServer()
        self.addCleanup(silent.close)
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{silent.port}/live\n") +
                         "backend:\n  handshake_timeout: 1s\n")
        started = time.monotonic()
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/s")))
        self.assertTrue(wait_for(lambda: push_warnings(g), 10), g.log())
        # Within the timeout (and some slack under the sanitizers), while the publisher goes on.
        self.assertLess(time.monotonic() - started, 4)
        self.assertIn("failed: handshake timed out", push_warnings(g)[0])
        self.assertIsNone(pub.proc.poll())
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(metric(g, "rtmpgate_timeouts_total", deadline="handshake"), 1)

    def test_shutdown_ends_a_push_in_progress(self):
        _, nginx_port = harness.start_nginx(self, NGINX_APPS)
        g = self.gateway(push_config(f"      - rtmp://127.0.0.1:{nginx_port}/live\n") +
                         "shutdown_grace: 0ms\n")
        pub = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/q")))
        self.assertEqual(wait_metric(g, "rtmpgate_pushes_total", 1), 1, g.log())
        started = time.monotonic()
        self.assertEqual(g.stop(signal.SIGTERM), 0, g.log())
        # The publisher and the push both close at once, and the push says why it ended.
        self.assertLess(time.monotonic() - started, 4, g.log())
        self.assertRegex(g.log(), r'push "live/q" to \S+ ended: (shutdown|publisher stopped)')
        pub.wait(timeout=20)

    def test_push_over_tls_through_nginx_stream(self):
        certs = harness.dev_certs("default")
        front_port, rtmp_port = harness.free_port(), harness.free_port()
        harness.start_nginx(self, NGINX_APPS, port=rtmp_port, stream=f"""
  server {{
    listen 127.0.0.1:{front_port} ssl;
    ssl_certificate {certs}/server.crt;
    ssl_certificate_key {certs}/server.key;
    proxy_pass 127.0.0.1:{rtmp_port};
  }}""")
        self.assertTrue(wait_for(lambda: harness.can_connect(front_port)), "nginx stream did not start")
        g = self.gateway(push_config(f"""      - url: rtmps://127.0.0.1:{front_port}/live
        ca_file: {certs}/ca.crt
        server_name: localhost
"""))
        self.play_both(g, rtmp_port, "live/t", "live/t", "live/t")
        self.assertEqual(push_warnings(g), [])
        self.assertIn(f'push "live/t" to rtmps://127.0.0.1:{front_port}/live/t: publishing', g.log())

    def test_push_is_refused_on_a_backend_route(self):
        path = self.path("bad.yaml")
        with open(path, "w") as f:
            f.write("""routes:
  - app: relay
    to: rtmp://127.0.0.1:1935
    push:
      - rtmp://127.0.0.1:1936/live
""")
        out = harness.subprocess.run([harness.BINARY, "--check-config", path], capture_output=True,
                                     text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("routes[0].push: only applies to engine routes", out.stdout + out.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
