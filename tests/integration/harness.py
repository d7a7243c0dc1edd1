"""Shared pieces of the integration tests: start the real rtmpgate binary on 127.0.0.1:0 ports,
make test clips with ffmpeg, run real clients, and read what arrived with ffprobe.

Every process started here is bounded by a timeout and killed at tear-down."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import xml.etree.ElementTree as ElementTree

BINARY = os.environ.get("RTMPGATE_BIN", "build/gateway/rtmpgate")
CACHE = os.environ.get("RTMPGATE_TEST_CACHE", os.path.join(tempfile.gettempdir(), "rtmpgate-test-cache"))

LISTENING = re.compile(r"listening (\w+) on (\S+)")
# A report of AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer or ThreadSanitizer.
SANITIZER_REPORT = re.compile(
    r"^(?:==\d+==ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|SUMMARY: \w+Sanitizer|\S+:\d+:\d+: runtime error: )", re.M)
# Worker threads for every gateway whose config does not set `threads` (the ThreadSanitizer job
# sets it so that strands run on several threads whatever the number of cores).
THREADS = os.environ.get("RTMPGATE_TEST_THREADS")
# "thread" when RTMPGATE_BIN is built with ThreadSanitizer.
SANITIZER = os.environ.get("RTMPGATE_TEST_SANITIZER", "")


def make_clip(name, seconds=6, size="640x360", rate=25, gop=25, video="libx264", extra=()):
    """An FLV clip of H.264 + AAC (testsrc2 + sine), made once and kept in CACHE."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, name)
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp.flv"  # test modules run in parallel: each writes its own
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
             "-t", str(seconds), "-c:v", video, "-preset", "ultrafast", "-g", str(gop),
             "-pix_fmt", "yuv420p", *extra, "-c:a", "aac", "-b:a", "64k", "-f", "flv", tmp],
            check=True, timeout=120)
        os.replace(tmp, path)
    return path


def probe_packets(path):
    """[(codec_type, pts_seconds, is_keyframe)] of a media file, in file order."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=codec_type,pts_time,flags",
         "-of", "json", path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or not out.stdout:
        return []
    packets = json.loads(out.stdout).get("packets", [])
    return [(p.get("codec_type"), float(p.get("pts_time", "nan")), "K" in p.get("flags", ""))
            for p in packets]


def probe_codecs(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", path],
        capture_output=True, text=True, timeout=60)
    streams = json.loads(out.stdout or "{}").get("streams", [])
    return {s["codec_type"]: s["codec_name"] for s in streams}


def count(packets, kind):
    return sum(1 for p in packets if p[0] == kind)


class Gateway:
    """The rtmpgate binary with a config of its own; ports are 127.0.0.1:0, read back from the log."""

    def __init__(self, workdir, config_text, name="rtmpgate", measures_memory=False):
        self.workdir = workdir
        self.config_path = os.path.join(workdir, name + ".yaml")
        if THREADS and not re.search(r"^threads:", config_text, re.M):
            config_text = config_text.rstrip("\n") + f"\nthreads: {THREADS}\n"
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(workdir, name + ".log")
        self.log_file = open(self.log_path, "w")
        env = dict(os.environ)
        if measures_memory:
            # AddressSanitizer keeps freed blocks in quarantine (256 MB by default), which a test
            # that reads the resident size would take for a leak: release them at once there.
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0"]))
        self.proc = subprocess.Popen([BINARY, "--config", self.config_path],
                                     stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        self.ports = {}
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            self.ports = dict((name, addr) for name, addr in LISTENING.findall(self.log()))
            if self.ports and all(k in self.ports for k in self.expected()):
                return
            time.sleep(0.05)
        raise RuntimeError("rtmpgate did not start:\n" + self.log())

    def expected(self):
        with open(self.config_path) as f:
            text = f.read()
        names = []
        for name in ("http", "https", "rtmp", "admin"):
            if re.search(rf"^\s+{name}:\s*\S+", text, re.M) and not re.search(rf"^\s+{name}:\s*\"\"", text, re.M):
                names.append(name)
        return names

    def port(self, name):
        return int(self.ports[name].rsplit(":", 1)[1])

    def url(self, path, scheme="rtmp"):
        listener = {"rtmp": "rtmp", "rtmpt": "http", "rtmps": "https", "rtmpts": "https"}[scheme]
        return f"{scheme}://127.0.0.1:{self.port(listener)}/{path}"

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


def engine_config(extra=""):
    """Plain RTMP to the engine, and the admin listener for /metrics (what tests wait on)."""
    return f"""listeners:
  http: ""
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
routes:
  - app: "*"
    to: engine
{extra}"""


class Process:
    """A client process with its output in a file; killed at the latest by `timeout`."""

    def __init__(self, args, workdir, name, timeout=60):
        self.args = args
        self.log_path = os.path.join(workdir, name + ".log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        # A daemon timer: one still armed when the tests end must not hold the interpreter open.
        self.timer = threading.Timer(timeout, self.kill)
        self.timer.daemon = True
        self.timer.start()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()

    def finish(self):
        """Kills the process if it still runs, reaps it and disarms its timer (tear-down)."""
        self.kill()
        self.wait(timeout=10)

    def wait(self, timeout=None):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is not None:
                self.timer.cancel()
                self.log_file.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.wait()

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def ffmpeg_publish(workdir, clip, url, name="publisher", realtime=True, timeout=90, extra=()):
    args = ["ffmpeg", "-nostdin", "-v", "warning"]
    if realtime:
        args.append("-re")
    args += ["-i", clip, "-c", "copy", *extra, "-f", "flv", url]
    return Process(args, workdir, name, timeout)


def ffmpeg_play(workdir, url, out, name="player", seconds=None, timeout=90):
    args = ["ffmpeg", "-nostdin", "-v", "warning", "-y", "-i", url, "-c", "copy"]
    if seconds:
        args += ["-t", str(seconds)]
    args += ["-f", "flv", out]
    return Process(args, workdir, name, timeout)


def rtmpdump_play(workdir, url, out, name="rtmpdump", seconds=None, timeout=90):
    args = ["rtmpdump", "-q", "-v", "-r", url, "-o", out]
    if seconds:
        args += ["-B", "0.5", "--stop", str(seconds)]
    return Process(args, workdir, name, timeout)


def wait_for(predicate, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayTest(unittest.TestCase):
    """Base: a temporary directory per test; subclasses start gateways with self.gateway()."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="rtmpgate-it-")
        self.gateways = []
        self.processes = []

    def tearDown(self):
        for p in self.processes:
            p.finish()
        failures = []
        for g in self.gateways:
            code = g.stop()
            log = g.log()
            # ctest shows this only when the test fails.
            print(f"--- rtmpgate log (exit {code}), last lines:")
            print("\n".join(log.splitlines()[-40:]))
            # SIGTERM ends a gateway with 0; anything else (a crash, a sanitizer's exit code, a
            # gateway that had to be killed) or a sanitizer report in its log fails the test.
            report = SANITIZER_REPORT.search(log)
            if report:
                failures.append(f"{g.log_path}: sanitizer report:\n" + log[report.start():][:6000])
            elif code != 0:
                failures.append(f"{g.log_path}: rtmpgate exited {code} after SIGTERM")
        if os.environ.get("RTMPGATE_KEEP"):
            print("kept", self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if failures:
            self.fail("\n".join(failures))

    def gateway(self, config_text=None, measures_memory=False):
        if measures_memory and SANITIZER == "thread":
            self.skipTest("the resident size of a ThreadSanitizer process is mostly shadow memory; "
                          "the AddressSanitizer build measures it")
        # A second gateway in one test gets files of its own.
        name = "rtmpgate" if not self.gateways else f"rtmpgate-{len(self.gateways) + 1}"
        g = Gateway(self.workdir, config_text or engine_config(), name, measures_memory)
        self.gateways.append(g)
        return g

    def track(self, process):
        self.processes.append(process)
        return process

    def path(self, name):
        return os.path.join(self.workdir, name)


def within(actual, expected, fraction=0.03, slack=2):
    return abs(actual - expected) <= max(slack, expected * fraction)


def assert_media(test, path, expected, fraction=0.03):
    """`path` has H.264 + AAC and as many packets of each kind as `expected`, within `fraction`."""
    got = probe_packets(path)
    test.assertEqual(probe_codecs(path), {"video": "h264", "audio": "aac"}, path)
    for kind in ("video", "audio"):
        test.assertTrue(within(count(got, kind), count(expected, kind), fraction),
                        f"{path}: {count(got, kind)} {kind} packets of {count(expected, kind)}")
    dts_ok = [p[1] for p in got if p[0] == "audio"]
    test.assertEqual(dts_ok, sorted(dts_ok), f"{path}: audio timestamps go backwards")


def dev_certs(name, names=()):
    """A development CA and server certificate made by certs/make-dev-cert, kept in CACHE.
    Returns the directory holding ca.crt, server.crt and server.key. Test modules run in
    parallel: each makes its set in a directory of its own and renames it into place, and the
    first to get there wins."""
    out = os.path.join(CACHE, "certs-" + name)
    if not os.path.exists(os.path.join(out, "server.crt")):
        os.makedirs(CACHE, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f"certs-{name}.", dir=CACHE)
        script = os.path.join(os.path.dirname(__file__), "..", "..", "certs", "make-dev-cert")
        args = [script, "--out", work]
        for n in names:
            args += ["--name", n]
        subprocess.run(args, check=True, timeout=60, capture_output=True)
        try:
            os.rename(work, out)
        except OSError:  # made by another module meanwhile
            shutil.rmtree(work, ignore_errors=True)
        if not os.path.exists(os.path.join(out, "server.crt")):
            raise RuntimeError(f"{out} exists without server.crt: remove it")
    return out


def admin_request(g, path, method="POST", headers=None):
    """(status, body) of one request to the gateway's admin listener."""
    req = urllib.request.Request(f"http://127.0.0.1:{g.port('admin')}{path}", method=method,
                                 data=b"" if method == "POST" else None, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def rss_kib(pid):
    """The resident size of process `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def metric(gateway, name, **labels):
    """The value of Prometheus metric `name` on the gateway's admin listener; keyword arguments
    pick one series of a labelled family: metric(g, "rtmpgate_timeouts_total", deadline="connect")."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{gateway.port('admin')}/metrics", timeout=5).read().decode()
    series = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    found = re.search(rf"^{re.escape(series)} (\d+)$", text, re.M)
    if not found:
        raise AssertionError(f"/metrics has no {series}:\n{text}")
    return int(found.group(1))


def wait_metric(gateway, name, value, timeout=15, **labels):
    """Waits until metric `name` (with `labels`, as for metric) reads `value`; returns the last
    value read, so that a test's assertEqual(wait_metric(...), value) shows what the gateway
    counted if the wait gave up."""
    last = [None]

    def reached():
        last[0] = metric(gateway, name, **labels)
        return last[0] == value

    wait_for(reached, timeout, interval=0.1)
    return last[0]


def can_connect(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def source_ports(pid, port):
    """The local ports of process `pid`'s established TCP connections to port `port` (from ss):
    what a gateway behind a balancer must name as the client's."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    found = set()
    for line in out.splitlines():
        # "<recv-q> <send-q> <local address:port> <peer address:port> users:((...,pid=N,...))"
        local = re.search(rf"\s\S+:(\d+)\s+\S+:{port}\s", line)
        if local and f"pid={pid}," in line:
            found.add(int(local.group(1)))
    return found


def open_lines(g, transport):
    """(client, proxy or None) of each "open <transport> from <client>[ via <proxy>]" line."""
    return re.findall(rf": open {transport} from (\S+)(?: via (\S+))?$", g.log(), re.M)


# The rtmp_stat port of each nginx start_nginx started, by its rtmp port.
_nginx_stat_ports = {}


def start_nginx(test, applications, listen_options="", rtmp_extra="", stream="", port=None):
    """A real nginx-rtmp on a free loopback port with the given `application` blocks; returns
    (process, port). The test tracks the process, so tear-down kills it. `listen_options` go on
    the rtmp listen line ("proxy_protocol"), `rtmp_extra` in the rtmp block (log_format,
    access_log); `stream`, when given, is the body of a stream block (nginx's TCP/TLS proxy).
    `port`: the rtmp port, when the caller needs it before nginx starts (default: a free one).
    Its rtmp_stat page, on a port of its own, tells who is on a stream (nginx_clients)."""
    port = port or free_port()
    stat_port = free_port()
    conf = test.path("nginx.conf")
    stream_module = "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n" if stream else ""
    stream_block = f"stream {{\n{stream}\n}}\n" if stream else ""
    # The http block's access log would go to <prefix>/logs, which does not exist.
    http_block = f"""http {{
  access_log off;
  server {{
    listen 127.0.0.1:{stat_port};
    location /stat {{ rtmp_stat all; }}
  }}
}}
"""
    with open(conf, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
{stream_module}daemon off;
master_process off;
pid {test.workdir}/nginx.pid;
error_log {test.workdir}/nginx-error.log info;
events {{ worker_connections 256; }}
rtmp {{
{rtmp_extra}
  server {{
    listen 127.0.0.1:{port} {listen_options};
    chunk_size 4096;
{applications}
  }}
}}
{stream_block}{http_block}""")
    nginx = test.track(Process(["nginx", "-e", "stderr", "-p", test.workdir, "-c", conf],
                               test.workdir, "nginx", timeout=300))
    test.assertTrue(wait_for(lambda: can_connect(port) and can_connect(stat_port)),
                    "nginx did not start:\n" + nginx.output())
    _nginx_stat_ports[port] = stat_port
    return nginx, port


def nginx_clients(port, app, name):
    """[(flashver, publishing)] of the clients of stream `app`/`name` now on the nginx-rtmp that
    start_nginx started on `port`, from its rtmp_stat page."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{_nginx_stat_ports[port]}/stat", timeout=5).read()
    found = []
    for application in ElementTree.fromstring(text).iter("application"):
        if application.findtext("name") != app:
            continue
        for stream in application.iter("stream"):
            if stream.findtext("name") != name:
                continue
            for client in stream.iter("client"):
                found.append((client.findtext("flashver") or "", client.find("publishing") is not None))
    return found


def nginx_players(port, app, name):
    return [c for c in nginx_clients(port, app, name) if not c[1]]


def wait_nginx_players(test, port, app, name, count, timeout=20):
    """Waits until nginx-rtmp on `port` has `count` players of `app`/`name` (it counts a player once
    its play command is in): a player that came after the publisher would miss frames."""
    test.assertTrue(wait_for(lambda: len(nginx_players(port, app, name)) >= count, timeout=timeout),
                    f"nginx-rtmp has {len(nginx_players(port, app, name))} players of {app}/{name}, "
                    f"not {count}")


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte: a backend or server stuck
    before its handshake."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def all_listeners_config(certs, routes, extra=""):
    """Every listener on 127.0.0.1:0 (http, https with the certificates in `certs`, rtmp, admin),
    then `routes` (the YAML lines under routes:) and `extra`."""
    return f"""listeners:
  http: 127.0.0.1:0
  https: 127.0.0.1:0
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
tls:
  certificate: {certs}/server.crt
  private_key: {certs}/server.key
routes:
{routes}
{extra}"""
