"""Several gateways behind a real HAProxy, on loopback: docker/haproxy.cfg run with only its
addresses changed, in front of two gateways configured by docker/gateway-gw1.yaml and
gateway-gw2.yaml (node ids gw1 and gw2, every app to the origin; addresses changed likewise), in
front of one nginx-rtmp origin. Clients are real ffmpeg and rtmpdump over rtmp, rtmpt, rtmps and
rtmpts, all through HAProxy.

Which gateway took a client is read from /metrics: every client here becomes one backend link
(rtmpgate_backend_links_total) on the gateway that serves it, so a client is started only once
the previous one is counted, and the counter that moved names its gateway."""

import os
import re
import shutil
import signal
import subprocess
import unittest

import harness
from harness import metric, probe_packets, wait_for

DOCKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docker")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NODES = ("gw1", "gw2")
# The listeners of docker/gateway-gw*.yaml by their container port, as HAProxy's cfg names them.
LISTENERS = {80: "http", 443: "https", 1935: "rtmp", 8086: "admin"}
# HAProxy's frontends: the scheme a client uses and the container port it reaches.
FRONT = {"rtmp": 1935, "rtmps": 443, "rtmpts": 443, "rtmpt": 80}


def haproxy_config(front_ports, gateways):
    """docker/haproxy.cfg with only the addresses changed: `bind :P` to 127.0.0.1 and
    front_ports[P]; in each `server gwN gwN:P ... port 8086` line, gwN:P to 127.0.0.1 and the
    port of gwN's listener for P, and the check's port 8086 to gwN's admin port."""
    with open(os.path.join(DOCKER, "haproxy.cfg")) as f:
        text = f.read()
    text, binds = re.subn(r"^(\s+bind ):(\d+)$",
                          lambda m: f"{m[1]}127.0.0.1:{front_ports[int(m[2])]}", text, flags=re.M)

    def server(m):
        g = gateways[m["node"]]
        rest = m["rest"].replace(" port 8086", f" port {g.port('admin')}")
        return f"{m['lead']}127.0.0.1:{g.port(LISTENERS[int(m['port'])])}{rest}"

    text, servers = re.subn(r"^(?P<lead>\s+server (?P<node>gw\d) )(?P=node):(?P<port>\d+)(?P<rest>.*)$",
                            server, text, flags=re.M)
    settings = re.sub(r"#.*", "", text)
    if binds != 3 or servers != 8 or re.search(r"\bgw\d:\d|\bport 8086\b|\bbind :", settings):
        raise AssertionError("docker/haproxy.cfg changed shape: update haproxy_config()\n" + text)
    return text


def gateway_config(node, certs, origin_port, ports=None):
    """docker/gateway-<node>.yaml with only the addresses changed: listeners on 127.0.0.1 (port
    0, or `ports[name]` to come back on the same ones), the development certificate, the origin
    on loopback."""
    with open(os.path.join(DOCKER, f"gateway-{node}.yaml")) as f:
        text = f.read()
    ports = ports or {}
    changes = [(f"  {name}: 0.0.0.0:{port}\n", f"  {name}: 127.0.0.1:{ports.get(name, 0)}\n")
               for port, name in LISTENERS.items()]
    changes += [("/etc/rtmpgate/tls/", certs + "/"),
                ("rtmp://origin:1935", f"rtmp://127.0.0.1:{origin_port}"),
                ('trusted_proxies: ["172.28.0.10"]', 'trusted_proxies: ["127.0.0.1"]')]
    for old, new in changes:
        if old not in text:
            raise AssertionError(f"docker/gateway-{node}.yaml has no {old!r}: update gateway_config()")
        text = text.replace(old, new)
    return text


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


class ScaleOutTest(harness.GatewayTest):
    def setUp(self):
        super().setUp()
        self.certs = harness.dev_certs("default")
        _, self.origin_port = harness.start_nginx(self, "    application live { live on; }")
        self.nodes = {}
        self.client_ports = {}  # client name: its source ports towards HAProxy
        for node in NODES:
            # The grace of docker/gateway-gw*.yaml (10s) made longer: on a loaded machine the
            # drain test's players may take that long to see their stream end.
            self.nodes[node] = self.gateway(gateway_config(node, self.certs, self.origin_port)
                                            .replace("shutdown_grace: 10s", "shutdown_grace: 30s"))
        self.front = {port: harness.free_port() for port in (80, 443, 1935)}
        cfg = self.path("haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(self.front, self.nodes))
        # -db: in the foreground, server state changes ("Server gateways_rtmp/gw1 is DOWN") on
        # stderr, which is how the tests see what HAProxy's checks concluded.
        self.haproxy = self.track(harness.Process([HAPROXY, "-db", "-f", cfg], self.workdir, "haproxy",
                                                  timeout=600))
        self.assertTrue(wait_for(lambda: all(harness.can_connect(p) for p in self.front.values())),
                        "HAProxy did not start:\n" + self.haproxy.output())

    def tearDown(self):
        # The gateways drain for 5s on SIGTERM (docker/gateway-gw*.yaml): a second signal, once
        # the first is seen, skips that.
        for p in self.processes:
            p.finish()
        for g in self.gateways:
            # Past "stopped" it is exiting (LeakSanitizer's check): a signal now would kill it.
            if g.alive() and "stopped" not in g.log():
                g.proc.send_signal(signal.SIGTERM)
                if wait_for(lambda: "draining for" in g.log(), timeout=5) and g.alive():
                    g.proc.send_signal(signal.SIGTERM)
                try:
                    g.proc.wait(timeout=15)  # another signal while it exits would kill it
                except subprocess.TimeoutExpired:
                    pass
        super().tearDown()

    def url(self, scheme, stream):
        return f"{scheme}://127.0.0.1:{self.front[FRONT[scheme]]}/live/{stream}"

    def links(self):
        """rtmpgate_backend_links_total of each running gateway."""
        return {node: metric(g, "rtmpgate_backend_links_total") for node, g in self.nodes.items()}

    def start(self, tool, scheme, stream, name, seconds=None, clip=None):
        """Starts one client through HAProxy and returns (process, the node that took it)."""
        before = self.links()
        url = self.url(scheme, stream)
        if tool == "publish":
            p = harness.ffmpeg_publish(self.workdir, clip, url, name)
        elif tool == "ffmpeg":
            p = harness.ffmpeg_play(self.workdir, url, self.path(name + ".flv"), name, seconds)
        else:
            p = harness.rtmpdump_play(self.workdir, url, self.path(name + ".flv"), name, seconds)
        self.track(p)
        now = {}

        def counted():
            now.update(self.links())
            return sum(now.values()) > sum(before.values())

        self.assertTrue(wait_for(counted, timeout=20, interval=0.1),
                        f"{name} ({tool} {url}) reached no gateway:\n{p.output()}")
        took = [node for node in now if now[node] > before[node]]
        self.assertEqual(len(took), 1, f"{name}: {before} -> {now}")
        print(f"{name}: {tool} over {scheme} -> {took[0]}")
        # Its own source ports towards HAProxy, while its connection is up (see assert_real_ports).
        self.client_ports[name] = harness.source_ports(p.proc.pid, self.front[FRONT[scheme]])
        return p, took[0]

    def assert_real_ports(self, placed):
        """Each gateway logged, for each client it took, the client's own port towards HAProxy,
        which only HAProxy's PROXY header can have told it (its own connection to the gateway
        has another)."""
        for name, node in placed.items():
            logged = {int(c.rsplit(":", 1)[1]) for c, _ in harness.open_lines(self.nodes[node], r"\S+")}
            self.assertTrue(self.client_ports[name] & logged,
                            f"{name} ({self.client_ports[name]}) not in {node}'s log:\n"
                            f"{self.nodes[node].log()}")

    def haproxy_says(self, node, state, timeout=20):
        """Waits until HAProxy has marked `node` `state` ("DOWN", "UP") in each of its three
        balanced backends."""
        lines = [f"Server {backend}/{node} is {state}"
                 for backend in ("gateways_rtmp", "gateways_tls", "gateways_http")]
        return wait_for(lambda: all(line in self.haproxy.output() for line in lines), timeout, 0.1)

    def end_player(self, p, wait=10):
        """A player whose stream has ended: some see the origin's unpublish and exit; one that
        has not within `wait` s is stopped with SIGINT, which ends its file."""
        try:
            p.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
        p.stop()

    def assert_full_stream(self, name, expected):
        # 10%: a player stopped by SIGINT (see end_player) may miss the clip's last packets.
        harness.assert_media(self, self.path(name + ".flv"), expected, fraction=0.1)
        # No gap: consecutive video frames of the clip (25 fps) are never more than 3 apart.
        pts = [p[1] for p in probe_packets(self.path(name + ".flv")) if p[0] == "video"]
        steps = [b - a for a, b in zip(pts, pts[1:])]
        self.assertLess(max(steps, default=0), 0.13, f"{name}: a gap in the video")

    def assert_receives(self, name, process):
        self.end_player(process)
        got = probe_packets(self.path(name + ".flv"))
        self.assertGreater(harness.count(got, "video"), 10, f"{name}:\n{process.output()}")

    def kill(self, node):
        g = self.nodes.pop(node)
        g.proc.kill()
        g.proc.wait(timeout=10)
        g.log_file.close()
        self.gateways.remove(g)  # not stopped by SIGTERM at tear-down
        return g

    def test_streams_cross_gateways_over_every_transport(self):
        clip = harness.make_clip("h264_aac_320x180_6s.flv", seconds=6, size="320x180")
        expected = probe_packets(clip)
        # Players first (each waits at the origin), then publishers: every transport and both
        # tools, HAProxy spreading them (leastconn on 1935 and 443, round robin on /open).
        players = {"a": [("ffmpeg", "rtmpt"), ("ffmpeg", "rtmps"), ("rtmpdump", "rtmp"), ("rtmpdump", "rtmpts")],
                   "b": [("rtmpdump", "rtmpt"), ("ffmpeg", "rtmpts"), ("ffmpeg", "rtmp"), ("rtmpdump", "rtmps")]}
        placed = {}
        procs = {}
        for stream, clients in players.items():
            for tool, scheme in clients:
                name = f"{stream}-{tool}-{scheme}"
                procs[name], placed[name] = self.start(tool, scheme, stream, name)
        publishers = {"a": "rtmpt", "b": "rtmps"}
        for stream, scheme in publishers.items():
            name = f"pub-{stream}-{scheme}"
            procs[name], placed[name] = self.start("publish", scheme, stream, name, clip=clip)
        # Both streams cross gateways: published on one, played on the other too.
        for stream, scheme in publishers.items():
            pub_node = placed[f"pub-{stream}-{scheme}"]
            play_nodes = {placed[f"{stream}-{t}-{s}"] for t, s in players[stream]}
            self.assertIn(next(n for n in NODES if n != pub_node), play_nodes, placed)
        for name, p in procs.items():
            if name.startswith("pub-"):
                self.assertEqual(p.wait(timeout=60), 0, p.output())
        for stream, clients in players.items():
            for tool, scheme in clients:
                name = f"{stream}-{tool}-{scheme}"
                self.end_player(procs[name])
                self.assert_full_stream(name, expected)
        # Every RTMPT request of a session reached the gateway that made it: both answered many,
        # and neither refused one for an unknown session (what a request routed to the wrong
        # gateway gets).
        for node, g in self.nodes.items():
            requests = metric(g, "rtmpgate_rtmpt_requests_total")
            unknown = metric(g, "rtmpgate_refusals_total", reason="unknown_session")
            print(f"{node}: {requests} RTMPT requests, {unknown} for unknown sessions")
            self.assertGreater(requests, 20, node)
            self.assertEqual(unknown, 0, node)
        rtmpt_nodes = {placed["a-ffmpeg-rtmpt"], placed["b-rtmpdump-rtmpt"], placed["pub-a-rtmpt"]}
        self.assertEqual(rtmpt_nodes, set(NODES), placed)
        self.assert_real_ports(placed)

    def test_killed_gateway_survivor_plays_on_and_restarted_one_takes_sessions(self):
        clip = harness.make_clip("h264_aac_320x180_24s.flv", seconds=24, size="320x180")
        expected = probe_packets(clip)
        # Players first (each waits at the origin, so all get the whole clip), then the
        # publisher: the gateway that takes it survives, the other is killed.
        placed = {}
        procs = {}
        for tool, scheme in (("ffmpeg", "rtmp"), ("ffmpeg", "rtmpts"), ("rtmpdump", "rtmpt"),
                             ("rtmpdump", "rtmp"), ("ffmpeg", "rtmps")):
            name = f"{tool}-{scheme}"
            procs[name], placed[name] = self.start(tool, scheme, "k", name)
        self.assertEqual(set(placed.values()), set(NODES), placed)
        publisher, survivor = self.start("publish", "rtmp", "k", "publisher", clip=clip)
        victim = next(n for n in NODES if n != survivor)
        # Everyone is receiving before the kill.
        for name in procs:
            self.assertTrue(wait_for(lambda: size(self.path(name + ".flv")) > 20000, 20),
                            f"{name}:\n{procs[name].output()}")

        g = self.kill(victim)
        late = {}
        for name, node in placed.items():
            if node == victim:
                procs[name].wait(timeout=30)  # its clients end
        self.assertTrue(self.haproxy_says(victim, "DOWN"), self.haproxy.output())
        # New sessions go to the survivor, on every frontend.
        for tool, scheme in (("ffmpeg", "rtmp"), ("ffmpeg", "rtmpt"), ("ffmpeg", "rtmps")):
            name = f"after-kill-{tool}-{scheme}"
            p, node = self.start(tool, scheme, "k", name, seconds=2)
            self.assertEqual(node, survivor, name)
            late[name] = p

        # The same gateway on the same ports: HAProxy's checks bring it back, and it takes new
        # sessions again (leastconn: it has none).
        ports = {name: int(addr.rsplit(":", 1)[1]) for name, addr in g.ports.items()}
        self.nodes[victim] = self.gateway(gateway_config(victim, self.certs, self.origin_port, ports)
                                          .replace("shutdown_grace: 10s", "shutdown_grace: 30s"))
        self.assertTrue(self.haproxy_says(victim, "UP"), self.haproxy.output())
        for tool, scheme in (("rtmpdump", "rtmp"), ("ffmpeg", "rtmpts")):
            name = f"after-restart-{tool}-{scheme}"
            p, node = self.start(tool, scheme, "k", name, seconds=2)
            self.assertEqual(node, victim, name)
            late[name] = p
        for name, p in late.items():
            self.assert_receives(name, p)

        # The survivor's players played on without a gap, to the end of the clip.
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.output())
        for name, node in placed.items():
            if node == survivor:
                self.end_player(procs[name])
                self.assert_full_stream(name, expected)

    def test_drain_behind_haproxy(self):
        # docker/gateway-gw*.yaml: drain_time 5s (shutdown_grace 30s here, see setUp). The clip
        # outlasts the drain and the sessions started during it, and ends within the grace.
        clip = harness.make_clip("h264_aac_320x180_14s.flv", seconds=14, size="320x180")
        expected = probe_packets(clip)
        placed = {}
        procs = {}
        for tool, scheme in (("ffmpeg", "rtmp"), ("ffmpeg", "rtmps"), ("rtmpdump", "rtmpt"),
                             ("ffmpeg", "rtmpts")):
            name = f"{tool}-{scheme}"
            procs[name], placed[name] = self.start(tool, scheme, "d", name)
        # The gateway that takes the publisher drains: its players and its publisher must last.
        publisher, draining = self.start("publish", "rtmp", "d", "publisher", clip=clip)
        other = next(n for n in NODES if n != draining)
        self.assertIn(draining, placed.values(), placed)
        for name in procs:
            self.assertTrue(wait_for(lambda: size(self.path(name + ".flv")) > 20000, 20),
                            f"{name}:\n{procs[name].output()}")
        g = self.nodes[draining]
        g.proc.send_signal(signal.SIGTERM)
        self.assertTrue(self.haproxy_says(draining, "DOWN"), self.haproxy.output())
        # From here on only the other gateway is asked where a client went (the draining one
        # closes its admin listener when it stops accepting); its log shows that no new client
        # reached it.
        self.nodes.pop(draining)
        seen = len(g.log())
        late = {}
        # HAProxy has taken it out while it still serves: new sessions go to the other gateway,
        # during the drain and after the draining one stops accepting.
        for tool, scheme in (("ffmpeg", "rtmp"), ("ffmpeg", "rtmpt"), ("ffmpeg", "rtmps")):
            name = f"draining-{tool}-{scheme}"
            p, node = self.start(tool, scheme, "d", name, seconds=2)
            self.assertEqual(node, other, name)
            late[name] = p
        self.assertTrue(wait_for(lambda: "stopping" in g.log(), timeout=15), g.log())
        for tool, scheme in (("ffmpeg", "rtmpts"), ("rtmpdump", "rtmpt")):
            name = f"stopped-{tool}-{scheme}"
            p, node = self.start(tool, scheme, "d", name, seconds=2)
            self.assertEqual(node, other, name)
            late[name] = p
        for name, p in late.items():
            self.assert_receives(name, p)
        # No live session on the draining gateway was cut: the publisher finished its clip and
        # its players got all of it.
        self.assertEqual(publisher.wait(timeout=60), 0, publisher.output())
        # Players through a proxy mostly miss the origin's unpublish: all are given 5 s together,
        # then stopped (SIGINT ends their files), long before the grace ends.
        wait_for(lambda: all(p.proc.poll() is not None for p in procs.values()), timeout=5)
        for name in procs:
            procs[name].stop()
            if placed[name] == draining:
                self.assert_full_stream(name, expected)
        # It exits 0 once its connections are gone or the grace is over: the tunnel sessions of
        # players stopped by a signal send no /close and stay until rtmpt.session_timeout.
        self.assertEqual(g.proc.wait(timeout=40), 0, g.log())
        self.assertNotIn(": open ", g.log()[seen:])


if __name__ == "__main__":
    unittest.main()
