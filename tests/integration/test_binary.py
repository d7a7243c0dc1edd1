"""The rtmpgate binary's command line, configuration errors and signals."""

import os
import resource
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import metric
from rtmp_client import Client, server_closes
from rtmpt_client import Tunnel


def cpu_seconds(pid):
    """User and system CPU time of process `pid` so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(gateway):
    with open(gateway.log_path, "rb") as f:
        return sum(1 for _ in f)


class BinaryTest(harness.GatewayTest):
    def run_binary(self, *args):
        return subprocess.run([harness.BINARY, *args], capture_output=True, text=True, timeout=20)

    def test_version_and_help(self):
        v = self.run_binary("--version")
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^rtmpgate \d+\.\d+\.\d+")
        h = self.run_binary("--help")
        self.assertEqual(h.returncode, 0)
        self.assertIn("--check-config", h.stdout)
        self.assertNotEqual(self.run_binary("--bogus").returncode, 0)

    def test_check_config_accepts_the_default_and_names_bad_keys(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        # The default config names certs/dev/, relative to the working directory.
        certs = harness.dev_certs("default")
        os.makedirs(self.path("certs"))
        os.symlink(certs, self.path("certs/dev"))
        ok = subprocess.run([os.path.abspath(harness.BINARY), "--check-config",
                             os.path.join(root, "config", "rtmpgate.yaml")],
                            capture_output=True, text=True, timeout=20, cwd=self.workdir)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        bad = self.path("bad.yaml")
        with open(bad, "w") as f:
            f.write(harness.engine_config("engine:\n  chunk_sise: 4096\n"))
        r = self.run_binary("--check-config", bad)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("engine.chunk_sise", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        missing = self.run_binary("--check-config", self.path("nope.yaml"))
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("nope.yaml", missing.stderr)

    def test_unreadable_backend_ca_file_stops_check_and_start_up(self):
        cfg = self.path("ca.yaml")
        with open(cfg, "w") as f:
            f.write(harness.engine_config().replace(
                "routes:\n", "routes:\n  - app: relay\n    to: rtmps://127.0.0.1:1\n"
                             f"    ca_file: {self.path('no-such-ca.pem')}\n"))
        for mode in ("--check-config", "--config"):
            r = subprocess.run([harness.BINARY, mode, cfg], capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0, mode)
            self.assertIn("routes[0].ca_file", r.stderr, mode)
            self.assertIn("no-such-ca.pem", r.stderr, mode)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_sighup_without_https_keeps_running(self):
        g = self.gateway()
        g.proc.send_signal(signal.SIGHUP)
        # Log only: that the signal was handled (and when) shows nowhere else; alive() after it
        # is the point.
        self.assertTrue(harness.wait_for(lambda: "SIGHUP" in g.log(), timeout=5), g.log())
        self.assertTrue(g.alive())

    def test_admin_scrapes_are_not_client_sockets(self):
        g = self.gateway(harness.engine_config("threads: 2\n"))
        # A scrape's own connection used to take a place of max_connections for a moment, racing
        # with the reply on the other thread (about one read in five said 1 on an idle gateway).
        readings = [metric(g, "rtmpgate_client_sockets_open") for _ in range(300)]
        self.assertEqual(set(readings), {0})

    def test_max_connections_counts_every_client_socket(self):
        g = self.gateway(harness.engine_config("limits:\n  max_connections: 2\n").replace(
            'http: ""', "http: 127.0.0.1:0"))
        # An HTTP connection that carries an RTMPT session and an RTMP client in its handshake
        # take both places; neither gives way to a new socket (an idle HTTP connection without a
        # session would: test_http_front).
        tunnel = Tunnel(g.port("http"))
        held = [harness.socket.create_connection(("127.0.0.1", g.port("rtmp")), timeout=5), tunnel.http.sock]
        self.assertTrue(harness.wait_for(lambda: metric(g, "rtmpgate_client_sockets_open") == 2, timeout=5))
        refused = harness.socket.create_connection(("127.0.0.1", g.port("rtmp")), timeout=5)
        self.assertTrue(server_closes(refused, timeout=3), "a third socket was served")
        self.assertEqual(tunnel.idle().status, 200, "the session's connection was kept")
        held.pop().close()
        self.assertTrue(harness.wait_for(lambda: metric(g, "rtmpgate_client_sockets_open") == 1, timeout=5))
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()  # a place is free again
        self.assertEqual(c.connect("live")[0], "_result")
        self.assertGreaterEqual(metric(g, "rtmpgate_connections_rejected_total"), 1)
        for s in held + [refused]:
            s.close()
        c.close()

    def test_out_of_descriptors_pauses_accepting_then_serves_again(self):
        g = self.gateway(harness.engine_config("limits:\n  accept_pause: 200ms\n"))
        pid = g.proc.pid
        # A few descriptors above what the gateway holds once started and the 16 it keeps free
        # for itself: it runs out after a few clients, and the rest wait in the listen backlog.
        limit = len(os.listdir(f"/proc/{pid}/fd")) + 16 + 6
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limit))
        held = [harness.socket.create_connection(("127.0.0.1", g.port("rtmp")), timeout=5) for _ in range(40)]
        try:
            self.assertTrue(harness.wait_for(lambda: "not accepting for 200ms" in g.log(), timeout=10), g.log()[-2000:])
            cpu_before, lines_before, started = cpu_seconds(pid), log_lines(g), time.monotonic()
            time.sleep(3)
            cpu, lines = cpu_seconds(pid) - cpu_before, log_lines(g) - lines_before
            elapsed = time.monotonic() - started
            print(f"out of descriptors for {elapsed:.1f}s: {cpu:.2f}s of CPU, {lines} log lines")
            # Spinning took a core (5.7 s of CPU in 5 s) and wrote ~170,000 lines a second; a pause
            # of 200 ms writes about 5 a second.
            self.assertLess(cpu, elapsed / 3, "the accept loop spins")
            self.assertLess(lines, elapsed / 0.2 * 2 + 10, "more than one line per pause")
            # The admin listener may use the descriptors kept free: /metrics answers meanwhile.
            self.assertGreaterEqual(metric(g, "rtmpgate_accept_pauses_total"), 2)
        finally:
            for s in held:
                s.close()

        def pauses():
            try:
                return metric(g, "rtmpgate_accept_pauses_total")
            except (OSError, AssertionError):  # the admin listener may be paused too
                return 0
        self.assertTrue(harness.wait_for(lambda: pauses() >= 2, timeout=10))
        # Served again once the held connections are gone.
        def served():
            try:
                c = Client("127.0.0.1", g.port("rtmp"), timeout=3)
                c.handshake()
                ok = c.connect("live")[0] == "_result"
                c.close()
                return ok
            except OSError:
                return False
        self.assertTrue(harness.wait_for(served, timeout=15, interval=0.5), g.log()[-2000:])

    def test_port_in_use_names_the_listener(self):
        with harness.socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            cfg = self.path("busy.yaml")
            with open(cfg, "w") as f:
                f.write(harness.engine_config().replace("rtmp: 127.0.0.1:0", f"rtmp: 127.0.0.1:{port}"))
            r = subprocess.run([harness.BINARY, "--config", cfg], capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("listeners.rtmp", r.stderr)

    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            g = self.gateway()
            self.assertEqual(g.stop(sig), 0, g.log())
            # Log only: the last line of an orderly stop; the exit code above is the rest of it.
            self.assertIn("stopped", g.log())
            self.gateways.remove(g)

    def healthz(self, g):
        """(status, body) of the gateway's /healthz; (None, "") once the admin listener is closed."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{g.port('admin')}/healthz", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

    def test_drain_answers_503_while_serving_then_stops_and_lets_players_finish(self):
        # A 10 s clip in real time: the drain (5 s) and the stop fall in the middle of it, and
        # shutdown_grace (30 s) is long enough for the rest.
        g = self.gateway(harness.engine_config("drain_time: 5s\nshutdown_grace: 30s\n"))
        clip = harness.make_clip("h264_aac_10s.flv", seconds=10)
        expected = harness.probe_packets(clip)
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/d"), self.path("d.flv")))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        publisher = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/d")))
        self.assertEqual(harness.wait_metric(g, "rtmpgate_players", 1), 1, g.log())
        self.assertEqual(self.healthz(g), (200, "ok\n"))

        g.proc.send_signal(signal.SIGTERM)
        self.assertTrue(harness.wait_for(lambda: self.healthz(g) == (503, "draining\n"), timeout=5),
                        g.log())
        self.assertIn("draining for 5000ms", g.log())
        # Still accepting and serving: a new player gets in (its connect answered after /healthz
        # said 503), and /metrics still answers.
        late = Client("127.0.0.1", g.port("rtmp"))
        try:
            late.handshake()
            self.assertEqual(late.connect("live")[0], "_result")
            late.play("d")
            self.assertEqual(harness.wait_metric(g, "rtmpgate_players", 2), 2, g.log())
        finally:
            late.close()

        # Then the listeners close, while the player and the publisher go on.
        self.assertTrue(harness.wait_for(lambda: not harness.can_connect(g.port("rtmp")), 15, 0.25),
                        g.log())
        self.assertIn("stopping", g.log())
        self.assertIsNone(player.proc.poll(), player.output())
        self.assertIsNone(publisher.proc.poll(), publisher.output())
        # The clip ends, the player with it, and the gateway exits 0 once they are gone, before
        # the grace is over: no connection was closed by the stop.
        self.assertEqual(publisher.wait(timeout=30), 0, publisher.output())
        player.wait(timeout=20)
        self.assertEqual(g.proc.wait(timeout=20), 0, g.log())
        self.assertNotIn("shutdown_grace over", g.log())
        harness.assert_media(self, self.path("d.flv"), expected)
        order = [g.log().index(line) for line in ("draining for", "stopping", "stopped")]
        self.assertEqual(order, sorted(order), g.log())

    def test_second_signal_during_the_drain_stops_at_once(self):
        g = self.gateway(harness.engine_config("drain_time: 10m\n"))
        g.proc.send_signal(signal.SIGINT)
        self.assertTrue(harness.wait_for(lambda: self.healthz(g)[0] == 503, timeout=5), g.log())
        g.proc.send_signal(signal.SIGTERM)
        # Not 10 minutes: the stop follows at once, and with nothing open it is immediate.
        self.assertEqual(g.proc.wait(timeout=15), 0, g.log())
        self.assertIn("stopping", g.log())


if __name__ == "__main__":
    unittest.main()
