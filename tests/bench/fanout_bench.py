#!/usr/bin/env python3
"""Fan-out next to nginx-rtmp: one live 720p stream, N players, same machine, same clients.

For each server (rtmpgate's engine with one thread, and nginx-rtmp with one worker) it starts the
server on loopback, publishes a 3 Mb/s H.264/AAC clip with `ffmpeg -re` for --seconds, and plays
it with --players raw RTMP players (handshake, connect, createStream, play, then read and count
octets; no decoding, so the players cost little next to the server). It prints, per server, the
CPU time the server process used, its largest resident size, and the octets each player got.

Usage: tests/bench/fanout_bench.py [--binary build/release/gateway/rtmpgate] [--players 50]
       [--seconds 10]
Needs ffmpeg and nginx with libnginx-mod-rtmp (scripts/install-deps test installs both).
Loopback only; every process it starts is stopped when its run ends."""

import argparse
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from rtmp_client import Client  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def wait_port(port, deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        if harness.can_connect(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def start_rtmpgate(binary, workdir, port):
    config = os.path.join(workdir, "rtmpgate.yaml")
    with open(config, "w") as f:
        f.write(f"""threads: 1
listeners:
  http: ""
  https: ""
  rtmp: 127.0.0.1:{port}
  admin: ""
log_level: warn
""")
    proc = subprocess.Popen([binary, "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port)
    return proc


def start_nginx(workdir, port):
    config = os.path.join(workdir, "nginx.conf")
    with open(config, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen 127.0.0.1:{port};
    chunk_size 4096;
    application live {{
      live on;
    }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", workdir, "-c", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    wait_port(port)
    return proc


def open_player(port, name):
    """A socket past play; what follows is the stream."""
    c = Client("127.0.0.1", port)
    c.handshake()
    c.connect("live")
    c.play(name)
    c.sock.setblocking(False)
    return c.sock, len(c.buffer)


def read_players(sockets, counts, stop):
    sel = selectors.DefaultSelector()
    for i, s in enumerate(sockets):
        sel.register(s, selectors.EVENT_READ, i)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                continue
            counts[key.data] += len(data)


def run(server_name, proc, port, clip, players, seconds, workdir):
    sockets, counts = [], []
    for _ in range(players):
        s, already = open_player(port, "fan")
        sockets.append(s)
        counts.append(already)
    stop = threading.Event()
    reader = threading.Thread(target=read_players, args=(sockets, counts, stop))
    reader.start()
    cpu_before = cpu_seconds(proc.pid)
    publisher = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", clip, "-t", str(seconds),
         "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{port}/live/fan"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    peak = 0
    deadline = time.time() + seconds + 30
    while publisher.poll() is None and time.time() < deadline:
        peak = max(peak, rss_kib(proc.pid))
        time.sleep(0.2)
    if publisher.poll() is None:
        publisher.kill()
    time.sleep(1)
    cpu = cpu_seconds(proc.pid) - cpu_before
    stop.set()
    reader.join()
    for s in sockets:
        s.close()
    got = sorted(counts)
    print(f"{server_name:22} players {players:4}  server CPU {cpu:6.2f} s  peak RSS {peak / 1024:7.1f} MiB  "
          f"per player {got[0] / 1e6:6.2f}..{got[-1] / 1e6:6.2f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="build/release/gateway/rtmpgate")
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    clip = harness.make_clip("h264_720p_3M_noise_6s.flv", seconds=6, size="1280x720",
                             extra=("-vf", "noise=alls=20:allf=t", "-b:v", "3M", "-minrate", "3M",
                                    "-maxrate", "3M", "-bufsize", "3M"))
    with tempfile.TemporaryDirectory(prefix="fanout-bench-") as workdir:
        for name, start in (("rtmpgate (1 thread)", lambda p: start_rtmpgate(args.binary, workdir, p)),
                            ("nginx-rtmp (1 worker)", lambda p: start_nginx(workdir, p))):
            port = harness.free_port()
            proc = start(port)
            try:
                run(name, proc, port, clip, args.players, args.seconds, workdir)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
