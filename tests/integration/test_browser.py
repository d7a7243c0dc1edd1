"""A real headless Chromium (Debian's chromium, driven by playwright-core from tests/browser)
plays engine streams through the gateway's player page (web/player.html with mpegts.js) as
WebSocket-FLV and HTTP-FLV, over http and https (development CA), and reads the admin listener's
status page. Screenshots go to RTMPGATE_TEST_OUTPUT/test_browser (ctest: build/<dir>/test-output)."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
WEB_DIR = os.path.join(ROOT, "web")
CHROMIUM = "/usr/bin/chromium"
OUTPUT = os.path.join(os.environ.get("RTMPGATE_TEST_OUTPUT",
                                     os.path.join(tempfile.gettempdir(), "rtmpgate-test-output")),
                      "test_browser")
RATE = 25  # the clip's frames per second
# Frames the video element must show over a sampled interval, against the clip's rate.
FRAME_FRACTION = 0.8


class BrowserTest(harness.GatewayTest):

    @classmethod
    def setUpClass(cls):
        # scripts/install-deps test installs all three; a machine without them fails here, with
        # the reason, rather than skipping.
        missing = [what for what, there in (
            (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
            ("node", shutil.which("node") is not None),
            ("tests/browser/node_modules", os.path.isdir(os.path.join(BROWSER_DIR, "node_modules"))),
            ("web/node_modules/mpegts.js", os.path.isdir(os.path.join(WEB_DIR, "node_modules", "mpegts.js"))),
        ) if not there]
        if missing:
            raise AssertionError("missing " + ", ".join(missing) + ": run scripts/install-deps test")
        os.makedirs(OUTPUT, exist_ok=True)
        # Long enough to play through every step of a test without looping.
        cls.clip = harness.make_clip("browser-45s.flv", seconds=45, rate=RATE, gop=RATE)

    def start(self):
        certs = harness.dev_certs("default")
        # A tunnel whose ffmpeg is gone holds its session until it times out: not for long.
        extra = f"shutdown_grace: 1s\nplayer:\n  enabled: true\n  dir: {WEB_DIR}\n"
        g = self.gateway(harness.all_listeners_config(certs, '  - app: "*"\n    to: engine', extra))
        publisher = self.track(harness.ffmpeg_publish(self.workdir, self.clip, g.url("live/cam")))
        self.assertTrue(harness.wait_for(lambda: self.stream(g, "live/cam", published=True), 15),
                        "the publish did not start")
        return g, publisher

    def admin(self, g):
        return f"http://127.0.0.1:{g.port('admin')}"

    def stream(self, g, key, published=None):
        data = json.loads(urllib.request.urlopen(self.admin(g) + "/streams", timeout=5).read())
        for s in data["streams"]:
            if s["key"] == key and (published is None or s["published"] == published):
                return s
        return None

    def browse(self, steps, timeout=150):
        spec = {"chromium": CHROMIUM, "steps": steps}
        out = subprocess.run(["node", os.path.join(BROWSER_DIR, "check.mjs"), json.dumps(spec)],
                             cwd=BROWSER_DIR, capture_output=True, text=True, timeout=timeout)
        self.assertEqual(out.returncode, 0, f"check.mjs failed:\n{out.stdout}\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def test_status_page_lists_the_stream_and_an_rtmpt_player(self):
        g, _ = self.start()
        player = self.track(harness.ffmpeg_play(self.workdir, g.url("live/cam", "rtmpt"),
                                                self.path("rtmpt.flv"), seconds=30))
        self.assertTrue(harness.wait_for(
            lambda: (self.stream(g, "live/cam") or {}).get("players", {}).get("rtmpt") == 1, 15))
        self.assertEqual(harness.metric(g, "rtmpgate_viewers", transport="rtmpt"), 1)
        self.assertEqual(harness.metric(g, "rtmpgate_viewers", transport="rtmp"), 0)
        s = self.stream(g, "live/cam")
        self.assertEqual(s["publisher"]["transport"], "rtmp")
        self.assertTrue(s["publisher"]["address"].startswith("127.0.0.1:"), s)
        self.assertEqual(s["codecs"], {"video": "H.264", "audio": "AAC"})
        self.assertEqual(s["route"], {"index": 0, "app": "*", "to": "engine"})
        self.assertGreater(s["uptime_seconds"], 0)

        shot = os.path.join(OUTPUT, "status-rtmpt.png")
        [row] = self.browse([{"kind": "status", "admin": self.admin(g), "key": "live/cam",
                              "screenshot": shot}])
        self.assertNotIn("error", row, row)
        # stream, route, publisher, codecs, in, out, players, uptime, player
        cells = row["cells"]
        self.assertEqual(cells[0], "live/cam")
        self.assertRegex(cells[2], r"^rtmp 127\.0\.0\.1:\d+$")
        self.assertEqual(cells[3], "H.264, AAC")
        self.assertGreater(int(cells[4]), 0, "no bitrate in")
        self.assertEqual(cells[6], "rtmpt: 1")
        self.assertEqual(row["link"], f"http://127.0.0.1:{g.port('http')}/play/live/cam")
        self.assertTrue(os.path.getsize(shot) > 0)
        player.kill()

    def check_playback(self, result, transport):
        """A play step's result: the page played with `transport` (ws or http) and its video
        advanced at the clip's rate; the admin saw the browser as a viewer of that transport."""
        self.assertNotIn("error", result, json.dumps(result, indent=1)[:4000])
        first, last = result["first"], result["last"]
        self.assertEqual(last["state"], "playing", last)
        self.assertEqual(last["transport"], transport, last)
        wall = last["wall"] - first["wall"]
        self.assertGreater(last["currentTime"] - first["currentTime"], 0.5 * wall, result)
        frames = last["totalVideoFrames"] - first["totalVideoFrames"]
        print(f"{result['url']}: {frames} frames, currentTime +"
              f"{last['currentTime'] - first['currentTime']:.2f} s in {wall:.2f} s")
        self.assertGreaterEqual(frames, FRAME_FRACTION * RATE * wall,
                                f"{frames} frames in {wall:.2f} s: {result}")
        self.assertEqual((last["width"], last["height"]), (640, 360))
        viewer = {"ws": "ws-flv", "http": "http-flv"}[transport]
        [stream] = [s for s in result["streams"]["streams"] if s["key"] == "live/cam"]
        self.assertEqual(stream["players"], {viewer: 1}, stream)
        self.assertEqual(result["row"]["cells"][6], f"{viewer}: 1")

    def test_player_page_plays_websocket_and_http_flv_over_http_and_https(self):
        g, _ = self.start()
        steps = []
        for scheme in ("http", "https"):
            base = f"{scheme}://127.0.0.1:{g.port(scheme)}/play/live/cam"
            for transport, query in (("ws", ""), ("http", "?transport=http")):
                steps.append({"kind": "play", "url": base + query, "warmup": 1, "seconds": 3,
                              "screenshot": os.path.join(OUTPUT, f"play-{scheme}-{transport}.png"),
                              "statusScreenshot": os.path.join(OUTPUT, f"status-{scheme}-{transport}.png"),
                              "admin": self.admin(g), "key": "live/cam"})
        results = self.browse(steps)
        for step, result in zip(steps, results):
            with self.subTest(url=step["url"]):
                self.check_playback(result, "http" if "transport=http" in step["url"] else "ws")
                self.assertTrue(os.path.getsize(step["screenshot"]) > 0)
        # Every viewer left with its page.
        self.assertTrue(harness.wait_for(
            lambda: harness.metric(g, "rtmpgate_viewers", transport="ws-flv") == 0 and
            harness.metric(g, "rtmpgate_viewers", transport="http-flv") == 0, 10))


if __name__ == "__main__":
    unittest.main()
