#!/usr/bin/env python3
"""Records the first 1537 bytes (C0 and C1) a real RTMP client sends, for handshake tests.

Usage: capture_c0c1.py {ffmpeg|rtmpdump} OUTPUT.bin

Listens on an ephemeral port of 127.0.0.1, starts the client against it, keeps the first 1537
bytes, then closes the connection (the client fails its handshake and exits). Everything is
bounded: the listener and the client each give up after TIMEOUT seconds.
"""
import socket
import subprocess
import sys

C0C1_SIZE = 1 + 1536
TIMEOUT = 10.0


def client_command(name: str, port: int) -> list[str]:
    url = f"rtmp://127.0.0.1:{port}/live/x"
    if name == "ffmpeg":
        return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-f", "flv", url]
    if name == "rtmpdump":
        return ["rtmpdump", "-q", "-r", url, "-o", "/dev/null"]
    raise SystemExit(f"unknown client {name!r}: use ffmpeg or rtmpdump")


def capture(name: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        client = subprocess.Popen(client_command(name, port), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                data = b""
                while len(data) < C0C1_SIZE:
                    chunk = conn.recv(C0C1_SIZE - len(data))
                    if not chunk:
                        break
                    data += chunk
        finally:
            try:
                client.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                client.kill()
                client.wait()
    if len(data) != C0C1_SIZE:
        raise SystemExit(f"{name} sent {len(data)} bytes before closing, expected {C0C1_SIZE}")
    return data


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    data = capture(sys.argv[1])
    with open(sys.argv[2], "wb") as out:
        out.write(data)
    print(f"{sys.argv[2]}: C0={data[0]} time={data[1:5].hex()} version={data[5:9].hex()}")


if __name__ == "__main__":
    main()
