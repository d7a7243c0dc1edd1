#!/usr/bin/env python3
"""Resident memory of a gateway before, during and after a burst of sessions, with and without
giving freed memory back to the system (issue 11: "RSS stays at its peak after 3,000 sessions
come and go").

For each variant it starts the rtmpgate binary with a config of its own, reads its VmRSS, opens
--connections RTMP clients (--parallel at a time) that each do the handshake, connect,
createStream and publish to a stream of their own and send --media-kib of video (a keyframe, then
inter frames of 16 KiB: the engine keeps them in the stream's GOP cache) and, with --rtmpt, as
many RTMPT tunnel sessions that connect (they stay until rtmpt.session_timeout, 45 s, after their
HTTP connection closes: use --linger 50).
With all of them open it reads the peak, then closes them all, waits until /metrics shows no
connection open, and reads VmRSS again (after 1 s, and after --linger seconds). Then it does
the same burst a second time (is what stayed resident reused?).

Variants (--variants, comma separated):
  default    glibc malloc as the gateway runs today
  arena2     GLIBC_TUNABLES=glibc.malloc.arena_max=2 (fewer arenas to fragment)
  trim       a preloaded helper (compiled here with cc) calls malloc_trim(0) when the bench sends
             SIGUSR2, after each burst has closed, and prints its thread CPU time and wall time:
             what a gateway would pay to do it itself after a burst
  trim_threshold  GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072 (the heap top is trimmed
             at free time; fixes the dynamic threshold glibc raises after large frees)
  off        limits.memory_trim_interval: 0ms (gateways that have the key: no trimming)
  builtin    limits.memory_trim_interval: 1s: the gateway's own trimmer (net/memory_trimmer)
             gives memory back once the connections have halved; its log line says what it cost

It prints one table: the RSS figures in MiB, the gateway CPU seconds of each burst, and what
malloc_trim cost. Usage:
  tests/bench/memory_trim_bench.py [--binary build/release/gateway/rtmpgate] [--connections 3000]
      [--media-kib 64] [--variants default,trim] [--rtmpt] [--threads 2]
Loopback only; every wait is bounded; each gateway is stopped at the end of its run."""

import argparse
import asyncio
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idle_cpu_bench  # noqa: E402
from idle_cpu_bench import (amf0, cpu_seconds, raise_nofile, rtmp_connection,  # noqa: E402
                            rtmpt_session, start_gateway, stop_gateway)

MIB = 1 << 20
STEP_TIMEOUT = 60

TRIM_HELPER = r"""
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

static long micros(const struct timespec* a, const struct timespec* b) {
    return (b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
}

static void* trimmer(void* arg) {
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        struct timespec c0, c1, w0, w1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        clock_gettime(CLOCK_MONOTONIC, &w0);
        int released = malloc_trim(0);
        clock_gettime(CLOCK_MONOTONIC, &w1);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        fprintf(stderr, "malloc_trim(0): released=%d cpu_us=%ld wall_us=%ld\n", released,
                micros(&c0, &c1), micros(&w0, &w1));
        fflush(stderr);
    }
    return NULL;
}

/* SIGUSR2 blocked before main: every thread the gateway makes inherits the mask, so only the
   trimmer's sigwait takes it. */
__attribute__((constructor)) static void start_trimmer(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    pthread_create(&t, NULL, trimmer, NULL);
    pthread_detach(t);
}
"""


def chunked(csid, type_id, stream_id, payload, chunk_size=4096, timestamp=0):
    out = bytes([csid]) + timestamp.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + \
        bytes([type_id]) + struct.pack("<I", stream_id)
    return out + bytes([0xC0 | csid]).join(payload[i:i + chunk_size]
                                           for i in range(0, len(payload), chunk_size))


def command(name, tx, *args, stream_id=0):
    payload = amf0(name) + amf0(tx) + amf0(None) + b"".join(amf0(a) for a in args)
    return chunked(3, 20, stream_id, payload, chunk_size=128) if stream_id == 0 else \
        chunked(8, 20, stream_id, payload, chunk_size=128)


def media(kib, stream_id):
    """A keyframe of 16 KiB then inter frames of 16 KiB, `kib` KiB in all, 40 ms apart, after a
    Set Chunk Size of 4096."""
    out = chunked(2, 1, 0, struct.pack(">I", 4096), chunk_size=128)
    frames = max(1, kib // 16)
    for i in range(frames):
        body = bytes([0x17 if i == 0 else 0x27, 1, 0, 0, 0]) + bytes(16 * 1024 - 5)
        out += chunked(6, 9, stream_id, body, timestamp=40 * i)
    return out


async def publisher(port, index, kib):
    writer = await rtmp_connection(port)
    # createStream gives message stream 1 (the first of the connection); publish on it.
    writer.write(command("createStream", 2) + command("publish", 3, f"s{index}", "live", stream_id=1) +
                 media(kib, 1))
    await writer.drain()
    return writer


async def tunnel_client(port, index, kib):
    return await rtmpt_session(port)


async def burst(args, ports, proc):
    gate = asyncio.Semaphore(args.parallel)

    async def one(make, port, i):
        async with gate:
            try:
                return await asyncio.wait_for(make(port, i, args.media_kib), STEP_TIMEOUT)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                print(f"{make.__name__}: {e!r}", file=sys.stderr)
                return None
    jobs = [one(publisher, ports["rtmp"], i) for i in range(args.connections)]
    if args.rtmpt:
        jobs += [one(tunnel_client, ports["http"], i) for i in range(args.connections)]
    cpu0 = cpu_seconds(proc.pid)
    clients = [c for c in await asyncio.gather(*jobs) if c is not None]
    # Wait until the gateway has read what the publishers sent (their GOP caches are full).
    deadline = time.monotonic() + 60
    want = args.connections * args.media_kib * 1024
    while time.monotonic() < deadline and metric(ports["admin"], "rtmpgate_received_bytes_total") < want:
        await asyncio.sleep(0.2)
    peak = rss_mib(proc.pid)
    for writer in clients:
        writer.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and metric(ports["admin"], "rtmpgate_connections_open") != 0:
        await asyncio.sleep(0.2)
    cpu = cpu_seconds(proc.pid) - cpu0
    return len(clients), peak, cpu


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return int(re.search(rf"^{name} (\d+)$", r.read().decode(), re.M).group(1))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def trim_lines(workdir):
    with open(os.path.join(workdir, "rtmpgate.log")) as f:
        return re.findall(r"malloc_trim\(0\): released=(\d) cpu_us=(\d+) wall_us=(\d+)", f.read())


def builtin_lines(workdir):
    with open(os.path.join(workdir, "rtmpgate.log")) as f:
        return re.findall(r"memory: connections fell from \d+ to \d+; freed memory given back to the "
                          r"system in (\d+) ms, resident (\d+) -> (\d+) MiB", f.read())


async def measure(args, variant, proc, ports, workdir):
    row = {"variant": variant, "before": rss_mib(proc.pid)}
    for n in (1, 2):
        opened, peak, cpu = await burst(args, ports, proc)
        await asyncio.sleep(1)
        row[f"open{n}"], row[f"peak{n}"], row[f"cpu{n}"] = opened, peak, cpu
        row[f"closed{n}"] = rss_mib(proc.pid)
        if variant == "trim":
            proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(trim_lines(workdir)) < n:
                await asyncio.sleep(0.05)
            row[f"trim{n}"] = trim_lines(workdir)[n - 1]
        await asyncio.sleep(args.linger)
        row[f"later{n}"] = rss_mib(proc.pid)
    if variant == "builtin":
        row["builtin"] = builtin_lines(workdir)
    return row


def run_variant(args, variant, helper):
    env = dict(os.environ)
    if variant == "arena2":
        env["GLIBC_TUNABLES"] = "glibc.malloc.arena_max=2"
    elif variant == "trim_threshold":
        env["GLIBC_TUNABLES"] = "glibc.malloc.trim_threshold=131072"
    elif variant == "trim":
        env["LD_PRELOAD"] = helper
    nofile = 2 * args.connections + 256
    interval = {"off": "0ms", "builtin": "1s"}.get(variant)
    config = idle_cpu_bench.CONFIG
    if interval:
        idle_cpu_bench.CONFIG = config.replace("limits:\n", f"limits:\n  memory_trim_interval: {interval}\n")
    with tempfile.TemporaryDirectory(prefix="memory-trim-bench-") as workdir:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            proc, ports = start_gateway(args.binary, workdir, args.threads, nofile)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            idle_cpu_bench.CONFIG = config
        try:
            return asyncio.run(measure(args, variant, proc, ports, workdir))
        finally:
            stop_gateway(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="build/release/gateway/rtmpgate")
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--parallel", type=int, default=200, help="set up at once (default 200)")
    parser.add_argument("--media-kib", type=int, default=64, help="video each publisher sends")
    parser.add_argument("--rtmpt", action="store_true", help="as many RTMPT sessions too")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--linger", type=float, default=10, help="seconds to wait after a burst")
    parser.add_argument("--variants", default="default,arena2,trim_threshold,trim")
    args = parser.parse_args()
    raise_nofile(4 * args.connections + 256)

    rows = []
    with tempfile.TemporaryDirectory(prefix="memory-trim-helper-") as tmp:
        helper = os.path.join(tmp, "trim_helper.so")
        source = os.path.join(tmp, "trim_helper.c")
        with open(source, "w") as f:
            f.write(TRIM_HELPER)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", helper, source, "-lpthread"], check=True)
        for variant in args.variants.split(","):
            rows.append(run_variant(args, variant, helper))

    print(f"{args.connections} RTMP publishers{' + RTMPT sessions' if args.rtmpt else ''}, "
          f"{args.media_kib} KiB of video each, threads {args.threads}; RSS in MiB")
    head = (f"{'variant':15} {'before':>7} {'peak1':>7} {'closed1':>8} {'later1':>7} "
            f"{'peak2':>7} {'closed2':>8} {'later2':>7} {'cpu1 s':>7} {'cpu2 s':>7}  malloc_trim")
    print(head)
    for r in rows:
        trims = "; ".join(f"released={t[0]} cpu {int(t[1]) / 1000:.1f} ms wall {int(t[2]) / 1000:.1f} ms"
                          for t in (r.get("trim1"), r.get("trim2")) if t)
        print(f"{r['variant']:15} {r['before']:7.1f} {r['peak1']:7.1f} {r['closed1']:8.1f} "
              f"{r['later1']:7.1f} {r['peak2']:7.1f} {r['closed2']:8.1f} {r['later2']:7.1f} "
              f"{r['cpu1']:7.2f} {r['cpu2']:7.2f}  {trims or '-'}")
        for ms, before, after in r.get("builtin", []):
            print(f"  gateway's own trim: {ms} ms, resident {before} -> {after} MiB")
        if r["open1"] != args.connections * (2 if args.rtmpt else 1):
            print(f"  (only {r['open1']} / {r['open2']} clients opened)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
