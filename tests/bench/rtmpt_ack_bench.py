#!/usr/bin/env python3
"""RTMPT request latency with rtmpt.quick_ack on and off.

ffmpeg (libavformat/rtmphttp.c) writes each POST's headers and body with two send() calls and
leaves Nagle's algorithm on, so its body waits until the server has acknowledged the headers. A
server that delays that ACK holds every request back by the delayed-ACK timer. This bench plays
that client: on one keep-alive connection, headers in one send(), a 1,536-octet body in a second,
Nagle on, then it reads the whole reply. The gateway answers at once (a /send to an unknown
session: 404 with an empty body), so what is measured is the request's trip and nothing else.

Usage: tests/bench/rtmpt_ack_bench.py [--binary build/release/gateway/rtmpgate] [--requests 400]
Prints, per setting, the median and 90th percentile request time and the requests per second.
Loopback only; each run is bounded by --requests and a 60 s deadline."""

import argparse
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

LISTENING = re.compile(r"listening http on 127\.0\.0\.1:(\d+)")


def start_gateway(binary, workdir, quick_ack):
    config = os.path.join(workdir, f"quick_ack_{quick_ack}.yaml")
    with open(config, "w") as f:
        f.write(f"""listeners:
  http: 127.0.0.1:0
  https: ""
  rtmp: ""
  admin: ""
rtmpt:
  quick_ack: {"true" if quick_ack else "false"}
""")
    log = open(os.path.join(workdir, f"quick_ack_{quick_ack}.log"), "w+")
    proc = subprocess.Popen([binary, "--config", config], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline:
        log.seek(0)
        m = LISTENING.search(log.read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("rtmpgate did not start")


def read_reply(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < length:
        rest += sock.recv(4096)
    return head.split(b"\r\n", 1)[0]


def measure(port, requests):
    body = bytes(1536)
    times = []
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # as ffmpeg: Nagle on
        deadline = time.time() + 60
        for seq in range(requests):
            if time.time() > deadline:
                break
            head = (f"POST /send/benchnosession/{seq} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Type: application/x-fcs\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            start = time.perf_counter()
            s.sendall(head)
            s.sendall(body)
            status = read_reply(s)
            times.append(time.perf_counter() - start)
            if b" 404 " not in status:
                raise RuntimeError(f"unexpected reply {status!r}")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="build/release/gateway/rtmpgate")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtmpt-ack-bench-") as workdir:
        for quick_ack in (True, False):
            proc, port = start_gateway(args.binary, workdir, quick_ack)
            try:
                times = measure(port, args.requests)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            times_ms = sorted(t * 1000 for t in times)
            p90 = times_ms[int(len(times_ms) * 0.9) - 1]
            print(f"quick_ack: {str(quick_ack).lower():5}  requests {len(times_ms):4}  "
                  f"median {statistics.median(times_ms):7.3f} ms  p90 {p90:7.3f} ms  "
                  f"{len(times_ms) / sum(times):8.0f} requests/s")


if __name__ == "__main__":
    main()
