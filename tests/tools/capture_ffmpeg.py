#!/usr/bin/env python3
"""Records the bytes a real ffmpeg sends to an RTMP server, for replay in unit tests.

A throwaway RTMP server on 127.0.0.1 (an ephemeral port) that speaks just enough for ffmpeg to
publish or to play, and writes every byte ffmpeg sends after C2 to a file. It starts ffmpeg itself
and stops by itself: every socket read has a timeout and the whole run has a deadline.

    capture_ffmpeg.py publish tests/protocol/data/ffmpeg51_publish.bin
    capture_ffmpeg.py play    tests/protocol/data/ffmpeg51_play.bin

What the server does:
  - simple handshake: S1 has a zero version field (bytes 4..7), so ffmpeg skips its digest checks
    (rtmpproto.c verifies the server digest only when that field is non-zero and it plays);
    S2 echoes C1;
  - on connect: Window Acknowledgement Size, Set Peer Bandwidth, then _result with
    NetConnection.Connect.Success;
  - on createStream: _result with stream id 1;
  - publish mode, on publish: onStatus NetStream.Publish.Start, then records until ffmpeg has sent
    the requested number of audio and video messages (or closes), and truncates the capture at the
    end of the message that completed the count;
  - play mode, on play: StreamBegin and onStatus NetStream.Play.Start, records whatever ffmpeg
    sends in the next moment, then closes the connection.

The AMF0 the server sends is written here byte by byte. The small chunk parser below exists only to
know which command ffmpeg sent and where its messages end; it is not the project's decoder.
"""

import argparse
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time

DEADLINE_SECONDS = 20.0      # the whole run, ffmpeg included
READ_TIMEOUT_SECONDS = 5.0   # one recv()
PLAY_LINGER_SECONDS = 0.5    # after Play.Start: how long to keep recording before closing

FFMPEG = os.environ.get("FFMPEG", "ffmpeg")


# --- AMF0 (Adobe AMF0 spec 2.2-2.10) ------------------------------------------------------------

def amf_number(v):
    return b"\x00" + struct.pack(">d", float(v))


def amf_bool(v):
    return b"\x01" + (b"\x01" if v else b"\x00")


def amf_string(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_null():
    return b"\x05"


def amf_object(pairs):
    out = b"\x03"
    for name, encoded in pairs:
        n = name.encode()
        out += struct.pack(">H", len(n)) + n + encoded
    return out + b"\x00\x00\x09"


def amf_read(buf, pos):
    """Decodes one AMF0 value (the few types commands use); returns (value, new position)."""
    marker = buf[pos]
    pos += 1
    if marker == 0x00:
        return struct.unpack_from(">d", buf, pos)[0], pos + 8
    if marker == 0x01:
        return buf[pos] != 0, pos + 1
    if marker == 0x02:
        (n,) = struct.unpack_from(">H", buf, pos)
        return buf[pos + 2:pos + 2 + n].decode(errors="replace"), pos + 2 + n
    if marker in (0x05, 0x06):
        return None, pos
    if marker in (0x03, 0x08):
        if marker == 0x08:
            pos += 4
        obj = {}
        while True:
            (n,) = struct.unpack_from(">H", buf, pos)
            name = buf[pos + 2:pos + 2 + n].decode(errors="replace")
            pos += 2 + n
            if n == 0 and buf[pos] == 0x09:
                return obj, pos + 1
            obj[name], pos = amf_read(buf, pos)
    raise ValueError("AMF0 marker 0x%02x not handled by this tool" % marker)


def amf_read_all(buf):
    values, pos = [], 0
    while pos < len(buf):
        try:
            v, pos = amf_read(buf, pos)
        except (ValueError, IndexError, struct.error):
            values.append("<undecoded>")
            break
        values.append(v)
    return values


# --- chunk writing (RTMP 1.0 spec 5.3.1): format 0, then format 3 continuations --------------------

OUT_CHUNK_SIZE = 128


def chunk_message(csid, type_id, stream_id, payload, timestamp=0):
    out = bytes([csid]) + struct.pack(">I", timestamp)[1:] + struct.pack(">I", len(payload))[1:]
    out += bytes([type_id]) + struct.pack("<I", stream_id)
    for i in range(0, len(payload), OUT_CHUNK_SIZE):
        if i:
            out += bytes([0xC0 | csid])
        out += payload[i:i + OUT_CHUNK_SIZE]
    return out


def window_ack_size(size):
    return chunk_message(2, 5, 0, struct.pack(">I", size))


def set_peer_bandwidth(size, limit):
    return chunk_message(2, 6, 0, struct.pack(">I", size) + bytes([limit]))


def stream_begin(stream_id):
    return chunk_message(2, 4, 0, struct.pack(">HI", 0, stream_id))


def command(csid, stream_id, *values):
    return chunk_message(csid, 20, stream_id, b"".join(values))


def connect_result(txn):
    return command(
        3, 0, amf_string("_result"), amf_number(txn),
        amf_object([("fmsVer", amf_string("FMS/3,0,1,123")), ("capabilities", amf_number(31))]),
        amf_object([("level", amf_string("status")),
                    ("code", amf_string("NetConnection.Connect.Success")),
                    ("description", amf_string("Connection succeeded.")),
                    ("objectEncoding", amf_number(0))]))


def create_stream_result(txn, stream_id):
    return command(3, 0, amf_string("_result"), amf_number(txn), amf_null(),
                   amf_number(stream_id))


def on_status(stream_id, code, description):
    return command(5, stream_id, amf_string("onStatus"), amf_number(0), amf_null(),
                   amf_object([("level", amf_string("status")), ("code", amf_string(code)),
                               ("description", amf_string(description))]))


# --- chunk parsing, just enough to follow ffmpeg ---------------------------------------------------

class ChunkParser:
    """Feeds on the bytes after C2; yields (end_offset, message) once each message completes.

    end_offset is the position in the capture just after the message's last chunk. The parser
    keeps the whole capture and re-parses from its own cursor, so partial chunks need no state.
    """

    def __init__(self):
        self.data = bytearray()
        self.pos = 0
        self.chunk_size = 128
        self.streams = {}   # csid -> dict(ts, delta, length, type, msid, body, extended)

    def feed(self, b):
        self.data += b
        done = []
        while True:
            r = self._one_chunk()
            if r is None:
                break
            if r is not True:
                done.append(r)
        return done

    def _one_chunk(self):
        d, p = self.data, self.pos
        if p >= len(d):
            return None
        fmt, csid = d[p] >> 6, d[p] & 0x3F
        p += 1
        if csid == 0:
            if p + 1 > len(d):
                return None
            csid = 64 + d[p]
            p += 1
        elif csid == 1:
            if p + 2 > len(d):
                return None
            csid = 64 + d[p] + 256 * d[p + 1]
            p += 2
        st = self.streams.setdefault(csid, dict(ts=0, delta=0, length=0, type=0, msid=0,
                                                 body=bytearray(), extended=False))
        header = {0: 11, 1: 7, 2: 3, 3: 0}[fmt]
        if p + header > len(d):
            return None
        if fmt <= 2:
            field = int.from_bytes(d[p:p + 3], "big")
            st["extended"] = field == 0xFFFFFF
        if fmt <= 1:
            st["length"] = int.from_bytes(d[p + 3:p + 6], "big")
            st["type"] = d[p + 6]
        if fmt == 0:
            st["msid"] = int.from_bytes(d[p + 7:p + 11], "little")
        p += header
        if st["extended"]:
            if p + 4 > len(d):
                return None
            field = int.from_bytes(d[p:p + 4], "big")
            p += 4
        starting = len(st["body"]) == 0
        if fmt == 0:
            st["ts"], st["delta"] = field, 0
        elif fmt in (1, 2):
            st["delta"] = field
            st["ts"] = (st["ts"] + field) & 0xFFFFFFFF
        elif starting:
            st["ts"] = (st["ts"] + st["delta"]) & 0xFFFFFFFF
        take = min(self.chunk_size, st["length"] - len(st["body"]))
        if p + take > len(d):
            return None
        st["body"] += d[p:p + take]
        p += take
        self.pos = p
        if len(st["body"]) < st["length"]:
            return True
        body = bytes(st["body"])
        st["body"] = bytearray()
        msg = dict(csid=csid, fmt=fmt, type=st["type"], msid=st["msid"], ts=st["ts"], body=body)
        if msg["type"] == 1:
            self.chunk_size = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
        return (p, msg)


def describe(msg):
    t, body = msg["type"], msg["body"]
    head = "csid=%d type=%d msid=%d ts=%d len=%d" % (msg["csid"], t, msg["msid"], msg["ts"],
                                                     len(body))
    if t in (20, 18):
        return head + " amf0 " + repr(amf_read_all(body))
    if t in (1, 3, 5):
        return head + " value=%d" % struct.unpack(">I", body[:4])[0]
    if t == 4:
        return head + " user-control " + body.hex()
    if t in (8, 9):
        return head + " media " + body[:2].hex()
    return head


# --- the server -------------------------------------------------------------------------------------

def recv_exact(conn, n, deadline):
    buf = b""
    while len(buf) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("deadline passed during handshake")
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed during handshake")
        buf += chunk
    return buf


def handshake(conn, deadline):
    c0c1 = recv_exact(conn, 1537, deadline)
    if c0c1[0] != 3:
        raise ValueError("C0 is %d, not 3" % c0c1[0])
    rng = random.Random(1935)   # deterministic S1: the capture does not depend on it anyway
    s1 = struct.pack(">II", 0, 0) + bytes(rng.getrandbits(8) for _ in range(1528))
    conn.sendall(b"\x03" + s1 + c0c1[1:])
    recv_exact(conn, 1536, deadline)   # C2: not recorded


def serve(conn, mode, args, deadline):
    handshake(conn, deadline)
    parser = ChunkParser()
    capture = bytearray()
    cut = None          # capture length to keep (publish: at a message boundary)
    log = []
    audio = video = 0
    linger_until = None
    conn.setblocking(False)
    while time.monotonic() < deadline:
        if linger_until is not None and time.monotonic() > linger_until:
            break
        ready, _, _ = select.select([conn], [], [], 0.05)
        if not ready:
            continue
        try:
            data = conn.recv(65536)
        except (ConnectionResetError, BlockingIOError):
            data = b""
        if not data:
            break
        capture += data
        for end, msg in parser.feed(data):
            log.append((end, describe(msg)))
            reply = b""
            if msg["type"] == 20:
                values = amf_read_all(msg["body"])
                name, txn = values[0], values[1] if len(values) > 1 else 0
                if name == "connect":
                    reply = (window_ack_size(2500000) + set_peer_bandwidth(2500000, 2)
                             + connect_result(txn))
                elif name == "createStream":
                    reply = create_stream_result(txn, 1)
                elif name == "publish" and mode == "publish":
                    reply = on_status(1, "NetStream.Publish.Start", "Start publishing")
                elif name == "play" and mode == "play":
                    reply = stream_begin(1) + on_status(1, "NetStream.Play.Start", "Start live")
                    linger_until = time.monotonic() + PLAY_LINGER_SECONDS
            elif msg["type"] == 8:
                audio += 1
            elif msg["type"] == 9:
                video += 1
            if reply:
                conn.sendall(reply)
            if mode == "publish" and cut is None and audio >= args.audio and video >= args.video:
                cut = end
        if cut is not None:
            break
    if mode == "publish" and cut is None:
        raise RuntimeError("ffmpeg stopped before %d audio and %d video messages (got %d, %d)"
                           % (args.audio, args.video, audio, video))
    if cut is None:
        cut = max((end for end, _ in log), default=0)   # play: the last complete message
    return bytes(capture[:cut]), [(end, text) for end, text in log if end <= cut]


def ffmpeg_command(mode, port):
    url = "rtmp://127.0.0.1:%d/live/key" % port
    if mode == "publish":
        return [FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc=size=128x72:rate=10",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-g", "10", "-c:a", "aac", "-t", "1", "-f", "flv", url]
    return [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", url, "-t", "1", "-f", "null", "-"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["publish", "play"])
    ap.add_argument("out", help="where to write the bytes ffmpeg sent after C2")
    ap.add_argument("--audio", type=int, default=3, help="publish: audio messages to keep")
    ap.add_argument("--video", type=int, default=3, help="publish: video messages to keep")
    ap.add_argument("--log", action="store_true", help="print each recorded message")
    args = ap.parse_args()

    deadline = time.monotonic() + DEADLINE_SECONDS
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(READ_TIMEOUT_SECONDS)
    port = listener.getsockname()[1]
    cmd = ffmpeg_command(args.mode, port)
    print("running:", " ".join(cmd), file=sys.stderr)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        conn.settimeout(READ_TIMEOUT_SECONDS)
        with conn:
            data, log = serve(conn, args.mode, args, deadline)
    finally:
        listener.close()
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if err:
            print("ffmpeg said:", err.decode(errors="replace").strip(), file=sys.stderr)

    with open(args.out, "wb") as f:
        f.write(data)
    print("wrote %d bytes to %s (%d messages)" % (len(data), args.out, len(log)), file=sys.stderr)
    if args.log:
        for end, text in log:
            print("%6d  %s" % (end, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
