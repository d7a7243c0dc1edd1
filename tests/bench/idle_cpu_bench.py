#!/usr/bin/env python3
"""Idle CPU of a gateway that holds many connected but silent clients.

It starts the rtmpgate binary with a config of its own (rtmp, http and admin listeners on
127.0.0.1:0, `threads` from --threads, every timeout at its maximum so that nothing expires during
the run), then opens --connections plain RTMP connections and as many RTMPT tunnel sessions (one
keep-alive HTTP connection each). Each one completes the RTMP handshake and sends `connect` for
app "live"; it counts once the connect _result has arrived. Then all traffic stops: no client
sends or polls any more. After a 2 s pause the bench reads the gateway's utime+stime from
/proc/<pid>/stat at the start and end of a --seconds window and prints the connections and
sessions open (its own count and the admin /metrics gauges, read just before and just after the
window), the CPU seconds the gateway used in the window, that as a percentage of one core, and the
gateway's thread count.

Usage: tests/bench/idle_cpu_bench.py [--binary build/release/gateway/rtmpgate] [--connections 1000]
       [--seconds 20] [--threads 1]
Exits non-zero when fewer than --connections RTMP connections or RTMPT sessions got their connect
_result. Loopback only; every wait is bounded, and the gateway is stopped when the run ends."""

import argparse
import asyncio
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
LISTENING = re.compile(r"listening (\w+) on 127\.0\.0\.1:(\d+)")
STEP_TIMEOUT = 30  # seconds one connection or session may take to get its connect _result
PARALLEL = 64      # connections and sessions being set up at once

# Every deadline key at the top of its range, so that a silent client is never dropped.
CONFIG = """threads: {threads}
listeners:
  http: 127.0.0.1:0
  https: ""
  rtmp: 127.0.0.1:0
  admin: 127.0.0.1:0
tls:
  handshake_timeout: 5m
limits:
  max_connections: 1000000
  handshake_timeout: 10m
  idle_timeout: 24h
rtmpt:
  session_timeout: 10m
  max_sessions: 1000000
  gap_timeout: 5m
  connection_idle_timeout: 24h
backend:
  connect_timeout: 5m
  handshake_timeout: 5m
shutdown_grace: 0ms
log_level: info  # the "listening" lines that name the ports are info
"""


# ---- the bytes of an RTMP client ------------------------------------------------------------

def amf0(value):
    if isinstance(value, bool):
        return b"\x01" + bytes([value])
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", value)
    if isinstance(value, str):
        return b"\x02" + struct.pack(">H", len(value)) + value.encode()
    if value is None:
        return b"\x05"
    body = b"".join(struct.pack(">H", len(k)) + k.encode() + amf0(v) for k, v in value.items())
    return b"\x03" + body + b"\x00\x00\x09"


def connect_message(app="live"):
    """`connect` (transaction 1) as chunks of 128 octets on chunk stream 3."""
    payload = amf0("connect") + amf0(1) + amf0({
        "app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": f"rtmp://127.0.0.1/{app}",
        "fpad": False, "capabilities": 15, "audioCodecs": 3191, "videoCodecs": 252,
        "videoFunction": 1, "objectEncoding": 0})
    out = b"\x03" + bytes(3) + len(payload).to_bytes(3, "big") + b"\x14" + bytes(4)
    return out + b"\xc3".join(payload[i:i + 128] for i in range(0, len(payload), 128))


C0C1 = b"\x03" + bytes(8) + os.urandom(1528)
CONNECT_RESULT = amf0("_result") + amf0(1)  # how the reply to transaction 1 starts


class ChunkReader:
    """Reads the server's chunk stream incrementally until the connect _result has arrived."""

    def __init__(self):
        self.buf, self.chunk_size, self.streams, self.connected = bytearray(), 128, {}, False

    def feed(self, data):
        self.buf += data
        while not self.connected and self._chunk():
            pass

    def _chunk(self):
        """Takes one whole chunk off the buffer; False when it is not all there yet."""
        b, pos = self.buf, 1
        if not b:
            return False
        fmt, csid = b[0] >> 6, b[0] & 0x3F
        pos += {0: 1, 1: 2}.get(csid, 0)
        head = {0: 11, 1: 7, 2: 3, 3: 0}[fmt]
        if len(b) < pos + head:
            return False
        st = self.streams.setdefault(csid, {"len": 0, "type": 0, "data": b"", "ext": False})
        length, type_id, ext = st["len"], st["type"], st["ext"]
        if fmt < 3:
            ext = b[pos:pos + 3] == b"\xff\xff\xff"
        if fmt < 2:
            length, type_id = int.from_bytes(b[pos + 3:pos + 6], "big"), b[pos + 6]
        pos += head + (4 if ext else 0)
        take = min(self.chunk_size, length - len(st["data"]))
        if len(b) < pos + take:
            return False
        st.update(len=length, type=type_id, ext=ext, data=st["data"] + bytes(b[pos:pos + take]))
        del b[:pos + take]
        if len(st["data"]) == length:
            payload, st["data"] = st["data"], b""
            if type_id == 1:
                self.chunk_size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            elif type_id == 20 and payload.startswith(CONNECT_RESULT):
                self.connected = True
        return True


# ---- the clients ----------------------------------------------------------------------------

async def rtmp_connection(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(C0C1)
    s0s1s2 = await reader.readexactly(1 + 2 * 1536)
    writer.write(s0s1s2[1:1537] + connect_message())  # C2 echoes S1
    chunks = ChunkReader()
    while not chunks.connected:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("closed by the gateway")
        chunks.feed(data)
    return writer  # kept open, silent, until the end of the run


async def rtmpt_session(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def post(path, body):
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-fcs\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        if head.split(b" ", 2)[1] != b"200":
            raise ConnectionError(f"{path}: {head.splitlines()[0].decode(errors='replace')}")
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        return await reader.readexactly(int(length.group(1)) if length else 0)

    session = (await post("/open/1", b"\x00")).decode().strip()
    seq = 0

    async def request(kind, body=b"\x00"):
        nonlocal seq
        reply = await post(f"/{kind}/{session}/{seq}", body)
        seq += 1
        return reply[1:]  # the first octet is the polling interval

    received = await request("send", C0C1)
    while len(received) < 1 + 2 * 1536:  # bounded by STEP_TIMEOUT
        received += await request("idle")
    chunks = ChunkReader()
    chunks.feed(received[1 + 2 * 1536:])
    chunks.feed(await request("send", received[1:1537] + connect_message()))
    while not chunks.connected:
        chunks.feed(await request("idle"))
    return writer


async def open_all(make, port, count):
    """Opens `count` clients, PARALLEL at a time; returns the writers of those that connected."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one():
        async with gate:
            try:
                return await asyncio.wait_for(make(port), STEP_TIMEOUT)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError) as e:
                print(f"{make.__name__}: {e!r}", file=sys.stderr)
                return None
    return [w for w in await asyncio.gather(*(one() for _ in range(count))) if w is not None]


# ---- the gateway ----------------------------------------------------------------------------

def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            hard = need  # only root may raise the hard limit; a ValueError says so otherwise
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    names = ("rtmpgate_connections_open", "rtmpgate_rtmpt_sessions_open", "rtmpgate_client_sockets_open",
             "rtmpgate_received_bytes_total", "rtmpgate_sent_bytes_total", "rtmpgate_rtmpt_requests_total")
    return {n: int(re.search(rf"^{n} (\d+)$", text, re.M).group(1)) for n in names}


def start_gateway(binary, workdir, threads, nofile):
    config = os.path.join(workdir, "rtmpgate.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(threads=threads))
    log = open(os.path.join(workdir, "rtmpgate.log"), "w+")
    proc = subprocess.Popen([binary, "--config", config], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, preexec_fn=lambda: raise_nofile(nofile))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        ports = dict((name, int(port)) for name, port in LISTENING.findall(log.read()))
        if all(k in ports for k in ("rtmp", "http", "admin")):
            return proc, ports
        time.sleep(0.05)
    log.seek(0)
    proc.kill()
    proc.wait()
    raise RuntimeError("rtmpgate did not start:\n" + log.read())


def stop_gateway(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def run(args, proc, ports):
    n = args.connections
    started = time.monotonic()
    rtmp, rtmpt = await asyncio.gather(open_all(rtmp_connection, ports["rtmp"], n),
                                       open_all(rtmpt_session, ports["http"], n))
    print(f"set-up: {time.monotonic() - started:.1f} s")
    if proc.poll() is not None:
        raise RuntimeError(f"rtmpgate exited with {proc.returncode}")
    before = metrics(ports["admin"])  # the last request to the gateway before the window
    await asyncio.sleep(2)
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    await asyncio.sleep(args.seconds)
    cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
    after = metrics(ports["admin"])
    threads = thread_count(proc.pid)
    used = cpu1 - cpu0
    print(f"RTMP connections open:  {len(rtmp)} of {n}")
    print(f"RTMPT sessions open:    {len(rtmpt)} of {n}")
    for name in before:
        print(f"{name + ':':32} {before[name]} before the window, {after[name]} after")
    print(f"window:                 {t1 - t0:.2f} s")
    print(f"gateway CPU in window:  {used:.2f} s ({100 * used / (t1 - t0):.2f} % of one core)")
    print(f"gateway threads:        {threads} (config threads: {args.threads})")
    for w in rtmp + rtmpt:
        w.close()
    return len(rtmp) == n and len(rtmpt) == n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="build/release/gateway/rtmpgate")
    parser.add_argument("--connections", type=int, default=1000,
                        help="RTMP connections, and as many RTMPT sessions (default 1000)")
    parser.add_argument("--seconds", type=float, default=20, help="sampling window (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="the gateway's `threads` (default 1)")
    args = parser.parse_args()

    nofile = 2 * args.connections + 256  # one socket per connection and per session, and spares
    raise_nofile(nofile)
    with tempfile.TemporaryDirectory(prefix="idle-cpu-bench-") as workdir:
        proc, ports = start_gateway(args.binary, workdir, args.threads, nofile)
        try:
            ok = asyncio.run(run(args, proc, ports))
        finally:
            stop_gateway(proc)
    if not ok:
        print("FAIL: not every connection and session got its connect _result", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
