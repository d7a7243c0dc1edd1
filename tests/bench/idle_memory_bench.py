#!/usr/bin/env python3
"""Memory per idle connection, rtmpgate next to nginx-rtmp, with the same clients.

For each server (rtmpgate's engine with one thread, nginx-rtmp with one worker and no master) it
reads the server's VmRSS, opens --connections plain RTMP connections (handshake and `connect` for
app "live", until the connect _result has arrived; the clients of idle_cpu_bench.py), reads VmRSS
again after a pause, closes them all and reads VmRSS once the server has seen them go (rtmpgate:
/metrics shows no connection open) and --linger seconds later (rtmpgate's memory trimmer runs every
limits.memory_trim_interval, 5 s by default). For rtmpgate it then starts a fresh gateway, opens as many RTMPT
sessions (one keep-alive HTTP connection each, past connect) and reads VmRSS with them open.

It prints, per server, RSS at start, with the connections open, after they closed and after the
linger, in MiB, and the growth per connection (and per session) in KiB.

Usage: tests/bench/idle_memory_bench.py [--binary build/release/gateway/rtmpgate]
       [--connections 5000] [--linger 7] [--no-rtmpt] [--no-nginx]
Needs nginx with libnginx-mod-rtmp for the comparison. Loopback only; every wait is bounded and
every server is stopped when its run ends."""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_cpu_bench import (metrics, open_all, raise_nofile, rtmp_connection,  # noqa: E402
                            rtmpt_session, start_gateway, stop_gateway)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

SETTLE = 2  # seconds between the last connect _result and reading VmRSS


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def start_nginx(workdir, port, connections):
    config = os.path.join(workdir, "nginx.conf")
    with open(config, "w") as f:
        f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {connections + 256};
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections {connections + 64}; }}
rtmp {{
  server {{
    listen 127.0.0.1:{port};
    application live {{
      live on;
    }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", workdir, "-c", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not harness.can_connect(port):
        time.sleep(0.05)
    if not harness.can_connect(port):
        proc.kill()
        proc.wait()
        raise RuntimeError("nginx did not start")
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def measure(args, proc, rtmp_port, admin_port=None):
    n = args.connections
    row = {"start": rss_kib(proc.pid), "start_file": rss_kib(proc.pid, "RssFile")}
    conns = await open_all(rtmp_connection, rtmp_port, n)
    await asyncio.sleep(SETTLE)
    row["open"], row["count"] = rss_kib(proc.pid), len(conns)
    await asyncio.sleep(args.hold)
    for w in conns:
        w.close()
    deadline = time.monotonic() + 30
    if admin_port:
        while time.monotonic() < deadline and metrics(admin_port)["rtmpgate_connections_open"]:
            await asyncio.sleep(0.1)
    else:
        await asyncio.sleep(1)
    row["closed"] = rss_kib(proc.pid)
    await asyncio.sleep(args.linger)
    row["later"], row["later_file"] = rss_kib(proc.pid), rss_kib(proc.pid, "RssFile")
    if args.mallinfo:
        proc.send_signal(signal.SIGUSR2)
        await asyncio.sleep(0.5)
    return row


async def measure_rtmpt(args, proc, http_port):
    """A fresh gateway: memory freed by the RTMP connections would hide part of the growth."""
    base = rss_kib(proc.pid)
    sessions = await open_all(rtmpt_session, http_port, args.connections)
    await asyncio.sleep(SETTLE)
    row = {"rtmpt_base": base, "rtmpt_open": rss_kib(proc.pid), "rtmpt_count": len(sessions)}
    await asyncio.sleep(args.hold)
    for w in sessions:
        w.close()
    return row


def report(name, r):
    line = f"{name:22}"
    if "open" in r:
        per = (r["open"] - r["start"]) / max(1, r["count"])
        line += (f" start {r['start'] / 1024:6.1f}  open {r['open'] / 1024:6.1f}  "
                 f"closed {r['closed'] / 1024:6.1f}  later {r['later'] / 1024:6.1f} MiB  "
                 f"{per:6.2f} KiB per RTMP connection ({r['count']}); of the RSS, mapped files "
                 f"(code) {r['start_file'] / 1024:.1f} at start, {r['later_file'] / 1024:.1f} later")
    if "rtmpt_open" in r:
        per_session = (r["rtmpt_open"] - r["rtmpt_base"]) / max(1, r["rtmpt_count"])
        line += f"  {per_session:6.2f} KiB per RTMPT session ({r['rtmpt_count']})"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="build/release/gateway/rtmpgate")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--linger", type=float, default=7, help="seconds after the close (default 7)")
    parser.add_argument("--no-rtmp", dest="rtmp", action="store_false")
    parser.add_argument("--no-rtmpt", dest="rtmpt", action="store_false")
    parser.add_argument("--no-nginx", dest="nginx", action="store_false")
    parser.add_argument("--hold", type=float, default=0,
                        help="seconds to keep the connections open after reading RSS (to look at "
                             "the gateway meanwhile)")
    parser.add_argument("--mallinfo", action="store_true",
                        help="send SIGUSR2 after the linger (for an LD_PRELOAD helper that prints "
                             "malloc statistics to the log) and print the log's MALLINFO lines")
    args = parser.parse_args()
    nofile = 2 * args.connections + 256
    raise_nofile(nofile)
    with tempfile.TemporaryDirectory(prefix="idle-memory-bench-") as workdir:
        r, notes = {}, []
        if args.rtmp:
            proc, ports = start_gateway(args.binary, workdir, 1, nofile)
            try:
                r = asyncio.run(measure(args, proc, ports["rtmp"], ports["admin"]))
            finally:
                stop_gateway(proc)
            with open(os.path.join(workdir, "rtmpgate.log")) as f:
                notes = [line.strip() for line in f
                         if "memory: connections fell" in line or "MALLINFO" in line]
        if args.rtmpt:
            proc, ports = start_gateway(args.binary, workdir, 1, nofile)
            try:
                r.update(asyncio.run(measure_rtmpt(args, proc, ports["http"])))
            finally:
                stop_gateway(proc)
        report("rtmpgate (1 thread)", r)
        for line in notes:
            print("  " + line)
        if args.nginx:
            port = harness.free_port()
            proc = start_nginx(workdir, port, args.connections)
            try:
                r = asyncio.run(measure(args, proc, port))
            finally:
                stop(proc)
            report("nginx-rtmp (1 worker)", r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
