"""The in-process engine on plain RTMP, driven by real ffmpeg, rtmpdump and nginx-rtmp."""

import os
import random
import signal
import socket
import time
import unittest

import harness
from harness import count, metric, probe_codecs, probe_packets, wait_metric
from rtmp_client import Client, server_closes


def increasing(packets, kind):
    times = [p[1] for p in packets if p[0] == kind]
    return all(b >= a for a, b in zip(times, times[1:])) and len(times) > 0


def within(actual, expected, fraction=0.03, slack=2):
    return abs(actual - expected) <= max(slack, expected * fraction)


class EngineTest(harness.GatewayTest):
    clip_seconds = 6

    def clip(self):
        return harness.make_clip("h264_aac_6s.flv", seconds=self.clip_seconds)

    def test_players_waiting_before_publish_get_the_whole_stream(self):
        """Play before publish (ffmpeg and rtmpdump), then publish: both receive every packet with
        the input's codecs, timestamps increase, and both end cleanly when the publisher leaves."""
        g = self.gateway()
        clip = self.clip()
        expected = probe_packets(clip)
        ff = self.track(harness.ffmpeg_play(self.workdir, g.url("live/a"), self.path("ff.flv")))
        rd = self.track(harness.rtmpdump_play(self.workdir, g.url("live/a"), self.path("rd.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 2), 2,
                         "players did not reach the waiting state")
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/a")))
        # While it streams, the gateway has it as the stream's publisher and both as playing.
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        self.assertEqual(metric(g, "rtmpgate_players"), 2)
        self.assertEqual(metric(g, "rtmpgate_players_waiting"), 0)
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(ff.wait(timeout=20), 0, ff.output())
        rd.wait(timeout=20)
        # All three gone, the engine forgets the stream.
        self.assertEqual(wait_metric(g, "rtmpgate_streams", 0), 0)
        self.assertEqual(metric(g, "rtmpgate_publishers"), 0)
        for name in ("ff.flv", "rd.flv"):
            got = probe_packets(self.path(name))
            self.assertEqual(probe_codecs(self.path(name)), {"video": "h264", "audio": "aac"}, name)
            self.assertTrue(within(count(got, "video"), count(expected, "video")),
                            f"{name}: {count(got, 'video')} video packets, published {count(expected, 'video')}")
            self.assertTrue(within(count(got, "audio"), count(expected, "audio")),
                            f"{name}: {count(got, 'audio')} audio packets, published {count(expected, 'audio')}")
            self.assertTrue(increasing(got, "audio") and increasing(got, "video"), name)

    def test_late_joiner_starts_on_a_keyframe_at_once(self):
        g = self.gateway()
        clip = harness.make_clip("h264_aac_10s_gop2s.flv", seconds=10, gop=50)
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/late")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        time.sleep(3.1)  # mid-GOP: the last keyframe was ~1 s ago
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        self.assertEqual(c.connect("live")[0], "_result")
        started = time.monotonic()
        c.play("late")
        kinds = []
        first_video = None
        while first_video is None:
            m = c.read_message()
            if m.type_id == 18 and b"|RtmpSampleAccess" in m.payload[:20]:
                continue
            if m.type_id in (8, 9, 18):
                kinds.append(m.type_id)
            if m.type_id == 9 and not (m.payload[0] == 0x17 and m.payload[1] == 0x00):
                first_video = m
        elapsed = first_video.received_at - started
        c.close()
        self.assertEqual(kinds[0], 18, "metadata first")
        self.assertIn(9, kinds[:3], "AVC sequence header before frames")
        self.assertEqual(first_video.payload[0] >> 4, 1, "first video frame after the header is a keyframe")
        self.assertLess(elapsed, 0.5, f"first keyframe after {elapsed:.3f}s")
        pub.stop()

    def test_second_publisher_is_refused_and_first_undisturbed(self):
        g = self.gateway()
        clip = self.clip()
        expected = probe_packets(clip)
        ff = self.track(harness.ffmpeg_play(self.workdir, g.url("live/one"), self.path("ff.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        first = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/one"), name="first"))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        c.connect("live")
        _, status = c.publish("one")
        self.assertEqual(status["code"], "NetStream.Publish.BadName")
        self.assertEqual(status["level"], "error")
        c.close()
        self.assertEqual(metric(g, "rtmpgate_publishers"), 1)
        self.assertEqual(wait_metric(g, "rtmpgate_players", 1), 1)
        second = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/one"), name="second"))
        self.assertNotEqual(second.wait(timeout=20), 0, "second ffmpeg publisher must fail")
        self.assertEqual(first.wait(timeout=60), 0, first.output())
        self.assertEqual(ff.wait(timeout=20), 0)
        got = probe_packets(self.path("ff.flv"))
        self.assertTrue(within(count(got, "video"), count(expected, "video")))

    def test_unpublish_notifies_players(self):
        g = self.gateway()
        clip = self.clip()
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/bye")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        c = Client("127.0.0.1", g.port("rtmp"))
        c.handshake()
        c.connect("live")
        c.play("bye")
        status = c.wait_command(lambda cmd: cmd[0] == "onStatus" and cmd[3]["code"] == "NetStream.Play.Start")
        self.assertEqual(status[3]["level"], "status")
        pub.stop()
        c.wait_command(lambda cmd: cmd[0] == "onStatus" and cmd[3]["code"] == "NetStream.Play.UnpublishNotify",
                       timeout=10)
        eof = None
        while eof is None:
            m = c.read_message()
            if m.type_id == 4 and m.payload[:2] == b"\x00\x01":
                eof = m
        c.close()

    def test_nginx_rtmp_relays_into_the_engine(self):
        g = self.gateway()
        clip = self.clip()
        expected = probe_packets(clip)
        nginx_port = harness.free_port()
        conf = self.path("nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/nginx-error.log info;
events {{ worker_connections 64; }}
rtmp {{
  server {{
    listen 127.0.0.1:{nginx_port};
    application live {{
      live on;
      push rtmp://127.0.0.1:{g.port('rtmp')}/live;
    }}
  }}
}}
""")
        nginx = self.track(harness.Process(["nginx", "-p", self.workdir, "-c", conf], self.workdir, "nginx"))
        self.assertTrue(harness.wait_for(lambda: self._can_connect(nginx_port)), "nginx did not start")
        ff = self.track(harness.ffmpeg_play(self.workdir, g.url("live/relayed"), self.path("ff.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1, g.log())
        pub = self.track(harness.ffmpeg_publish(
            self.workdir, clip, f"rtmp://127.0.0.1:{nginx_port}/live/relayed"))
        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(ff.wait(timeout=20), 0, ff.output())
        nginx.kill()
        got = probe_packets(self.path("ff.flv"))
        self.assertEqual(probe_codecs(self.path("ff.flv")), {"video": "h264", "audio": "aac"})
        # nginx-rtmp starts its push relay like one of its players, on the next keyframe after
        # the relay is up: up to one GOP (25 frames here) of the start never reaches rtmpgate.
        video = count(got, "video")
        self.assertGreaterEqual(video, count(expected, "video") - 25 - 2, f"{video} video packets")
        self.assertLessEqual(video, count(expected, "video"))
        self.assertTrue(got and got[0][0] in ("video", "audio"))
        self.assertTrue([p for p in got if p[0] == "video"][0][2], "first video packet is not a keyframe")
        # nginx-rtmp's relay introduces itself with this flashVer (ffmpeg says FMLE/3.0). Log
        # only: the gateway shows a client's flashVer nowhere else (not on the wire, not in
        # /metrics), and this is what tells that the relay, not ffmpeg, reached the engine.
        self.assertIn('flashVer="LNX.11,1,102,55"', g.log())

    def test_twenty_players_and_three_streams(self):
        g = self.gateway()
        clip = self.clip()
        expected = probe_packets(clip)
        players = []
        for i in range(20):
            players.append(self.track(harness.ffmpeg_play(
                self.workdir, g.url("live/s0"), self.path(f"p{i}.flv"), name=f"p{i}")))
        for s in (1, 2):
            players.append(self.track(harness.ffmpeg_play(
                self.workdir, g.url(f"live/s{s}"), self.path(f"q{s}.flv"), name=f"q{s}")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 22, timeout=30), 22)
        pubs = [self.track(harness.ffmpeg_publish(self.workdir, clip, g.url(f"live/s{s}"), name=f"pub{s}"))
                for s in range(3)]
        for p in pubs:
            self.assertEqual(p.wait(timeout=60), 0, p.output())
        for p in players:
            self.assertEqual(p.wait(timeout=30), 0, p.output())
        for name in [f"p{i}.flv" for i in range(20)] + ["q1.flv", "q2.flv"]:
            got = probe_packets(self.path(name))
            self.assertTrue(within(count(got, "video"), count(expected, "video")), name)
            self.assertTrue(within(count(got, "audio"), count(expected, "audio")), name)

    @staticmethod
    def _can_connect(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False


class SlowPlayerTest(harness.GatewayTest):
    def test_stalled_player_drops_frames_and_memory_stays_bounded(self):
        g = self.gateway(harness.engine_config("engine:\n  player_queue_bytes: 256KiB\n"), measures_memory=True)
        big = harness.make_clip("h264_720p_3M_6s.flv", seconds=6, size="1280x720",
                                extra=("-b:v", "3M", "-maxrate", "3M", "-bufsize", "3M"))
        stalled = self.track(harness.ffmpeg_play(self.workdir, g.url("live/slow"), self.path("stalled.flv"),
                                                 "stalled"))
        healthy_out = self.path("healthy.flv")
        healthy = self.track(harness.ffmpeg_play(self.workdir, g.url("live/slow"), healthy_out, "healthy"))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 2), 2, g.log())
        os.kill(stalled.proc.pid, signal.SIGSTOP)  # it stops reading; its socket and queue fill
        self.addCleanup(lambda: stalled.proc.poll() is None and os.kill(stalled.proc.pid, signal.SIGCONT))
        before = harness.rss_kib(g.proc.pid)
        loops = 7  # 8 x 2.3 MB at eight times real time: 24 Mb/s for 6 s
        pub = self.track(harness.Process(
            ["ffmpeg", "-nostdin", "-v", "warning", "-readrate", "8", "-stream_loop", str(loops), "-i", big,
             "-c", "copy", "-f", "flv", g.url("live/slow")], self.workdir, "publisher-loop", 120))
        self.assertEqual(pub.wait(timeout=120), 0, pub.output())
        after = harness.rss_kib(g.proc.pid)
        pushed_kib = (loops + 1) * os.path.getsize(big) // 1024
        print(f"gateway RSS {before} KiB -> {after} KiB while {pushed_kib} KiB went past a stalled engine player")
        self.assertLess(after - before, pushed_kib // 2)
        self.assertLess(after - before, 12 * 1024)
        healthy.wait(timeout=30)
        self.assertGreater(count(probe_packets(healthy_out), "video"),
                           (loops + 1) * count(probe_packets(big), "video") * 9 // 10)
        # A connection adds what its queue dropped to the counter when it ends: what the
        # stalled player lost shows once it is gone.
        dropped_before = metric(g, "rtmpgate_media_dropped_messages_total")
        stalled.kill()
        self.assertTrue(harness.wait_for(
            lambda: metric(g, "rtmpgate_media_dropped_messages_total") > dropped_before, timeout=10),
            f"no drop counted for the stalled player ({dropped_before} before it ended)")
        self.assertTrue(g.alive())


class EnhancedRtmpTest(harness.GatewayTest):
    """HEVC in Enhanced RTMP (FourCC 'hvc1'): the Debian ffmpeg 5.1 flv muxer cannot write it, so a
    synthetic stream from the test client is published and must reach a player byte for byte."""

    def test_fourcc_video_passes_through_byte_for_byte(self):
        g = self.gateway()
        pub = Client("127.0.0.1", g.port("rtmp"))
        pub.handshake()
        pub.connect("live")
        pub.set_chunk_size(4096)
        sid, status = pub.publish("hevc")
        self.assertEqual(status["code"], "NetStream.Publish.Start")
        player = Client("127.0.0.1", g.port("rtmp"))
        player.handshake()
        player.connect("live")
        player.play("hevc")
        player.wait_command(lambda c: c[0] == "onStatus" and c[3]["code"] == "NetStream.Play.Start")

        rng = random.Random(7)
        sent = []
        # ExVideoTagHeader: IsExHeader | FrameType << 4 | PacketType, then FourCC.
        sequence_start = bytes([0x80 | 1 << 4 | 0]) + b"hvc1" + bytes(rng.randrange(256) for _ in range(40))
        sent.append(sequence_start)
        for i in range(30):
            frame_type = 1 if i % 10 == 0 else 2
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(50, 9000)))
            sent.append(bytes([0x80 | frame_type << 4 | 1]) + b"hvc1" + b"\x00\x00\x00" + body)
        for i, payload in enumerate(sent):
            pub.send_message(6, 9, sid, payload, timestamp=i * 40)
        got = []
        while len(got) < len(sent):
            m = player.read_message()
            if m.type_id == 9:
                got.append(m.payload)
        self.assertEqual(got, sent)
        pub.close()
        player.close()


class BadInputTest(harness.GatewayTest):
    """Bad input closes only the offending connection; a flowing stream's players see no gap."""

    def test_each_bad_input_closes_only_its_connection(self):
        g = self.gateway(harness.engine_config("limits:\n  max_message_length: 1MiB\n"))
        clip = harness.make_clip("h264_aac_6s.flv", seconds=6)
        expected = probe_packets(clip)
        ff = self.track(harness.ffmpeg_play(self.workdir, g.url("live/steady"), self.path("ff.flv")))
        self.assertEqual(wait_metric(g, "rtmpgate_players_waiting", 1), 1)
        pub = self.track(harness.ffmpeg_publish(self.workdir, clip, g.url("live/steady")))
        self.assertEqual(wait_metric(g, "rtmpgate_publishers", 1), 1)
        port = g.port("rtmp")
        failed_before = metric(g, "rtmpgate_connections_failed_total")

        def raw():
            return socket.create_connection(("127.0.0.1", port), timeout=5)

        # random bytes instead of a handshake
        s = raw()
        s.sendall(bytes(random.Random(1).randrange(256) for _ in range(4000)))
        self.assertTrue(server_closes(s), "random bytes")
        s.close()
        # truncated handshake, then silence: the handshake deadline ends it (limits.handshake_timeout)
        s = raw()
        s.sendall(b"\x03" + b"\x00" * 700)
        s.shutdown(socket.SHUT_WR)
        self.assertTrue(server_closes(s), "truncated handshake")
        s.close()

        def handshaken():
            c = Client("127.0.0.1", port)
            c.handshake()
            return c

        # format-3 chunk on a chunk stream never seen
        c = handshaken()
        c.send_raw(bytes([0xC0 | 9]) + b"\x00" * 64)
        self.assertTrue(server_closes(c.sock), "format 3 on unknown chunk stream")
        c.close()
        # message longer than the bound (2 MiB declared, bound 1 MiB)
        c = handshaken()
        c.send_raw(bytes([3]) + b"\x00\x00\x00" + (2 << 20).to_bytes(3, "big") + b"\x09" + b"\x01\x00\x00\x00")
        self.assertTrue(server_closes(c.sock), "message too long")
        c.close()
        # a command with broken AMF
        c = handshaken()
        c.send_message(3, 20, 0, b"\x02\x00\x07connect\x00\x3f\xf0\x00\x00\x00\x00\x00\x00\x03\x00\x03app\x02\xff\xff")
        self.assertTrue(server_closes(c.sock), "broken AMF")
        c.close()

        self.assertEqual(pub.wait(timeout=60), 0, pub.output())
        self.assertEqual(ff.wait(timeout=20), 0, ff.output())
        self.assertTrue(g.alive())
        got = probe_packets(self.path("ff.flv"))
        self.assertTrue(within(count(got, "video"), count(expected, "video")))
        audio = [p[1] for p in got if p[0] == "audio"]
        worst = max(b - a for a, b in zip(audio, audio[1:]))
        self.assertLess(worst, 0.1, f"gap of {worst:.3f}s in the player's audio")
        # Random bytes, the unknown chunk stream, the long message and the broken AMF count as
        # failed connections (the truncated handshake is a timeout).
        self.assertGreaterEqual(metric(g, "rtmpgate_connections_failed_total") - failed_before, 4)
        # Log only: why each connection ended is written nowhere but in its close line.
        log = g.log()
        for reason in ("handshake", "chunk", "message longer", "connect"):
            self.assertIn(reason, log)


if __name__ == "__main__":
    unittest.main()
