"""A small, independent RTMP client for tests that need to look at or forge single messages:
simple handshake, chunk stream both ways (all header formats, extended timestamps), AMF0 for
commands. Written from the RTMP 1.0 and AMF0 specs; it shares no code with rtmpgate."""

import os
import socket
import struct
import time


# ---- AMF0 -----------------------------------------------------------------------------------

def amf0_encode(value):
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, (str, bytes)):
        # bytes: a string with exactly these octets (control bytes, invalid UTF-8) for tests
        # that forge names; beyond 65535 octets, a long string.
        raw = value.encode() if isinstance(value, str) else value
        if len(raw) > 0xFFFF:
            return b"\x0c" + struct.pack(">I", len(raw)) + raw
        return b"\x02" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        out = b"\x03"
        for k, v in value.items():
            raw = k.encode()
            out += struct.pack(">H", len(raw)) + raw + amf0_encode(v)
        return out + b"\x00\x00\x09"
    raise TypeError(type(value))


def amf0_decode(data, pos=0):
    """(value, next position) for the AMF0 value at `pos`."""
    marker = data[pos]
    pos += 1
    if marker == 0x00:
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == 0x01:
        return data[pos] != 0, pos + 1
    if marker == 0x02:
        n = struct.unpack_from(">H", data, pos)[0]
        return data[pos + 2:pos + 2 + n].decode(errors="replace"), pos + 2 + n
    if marker in (0x03, 0x08):
        if marker == 0x08:
            pos += 4
        obj = {}
        while True:
            n = struct.unpack_from(">H", data, pos)[0]
            key = data[pos + 2:pos + 2 + n].decode(errors="replace")
            pos += 2 + n
            if n == 0 and data[pos] == 0x09:
                return obj, pos + 1
            obj[key], pos = amf0_decode(data, pos)
    if marker in (0x05, 0x06):
        return None, pos
    raise ValueError(f"AMF0 marker {marker:#x} not handled by the test client")


def amf0_decode_all(data):
    values, pos = [], 0
    while pos < len(data):
        v, pos = amf0_decode(data, pos)
        values.append(v)
    return values


# ---- chunk stream ---------------------------------------------------------------------------

class Message:
    def __init__(self, csid, timestamp, type_id, stream_id, payload):
        self.csid, self.timestamp, self.type_id, self.stream_id, self.payload = (
            csid, timestamp, type_id, stream_id, payload)
        self.received_at = time.monotonic()

    def command(self):
        return amf0_decode_all(self.payload) if self.type_id == 20 else None


class Client:
    """`sock`: anything with sendall, recv and close (an RTMPT tunnel) instead of a TCP socket."""

    def __init__(self, host, port, timeout=10, sock=None):
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buffer = b""
        self.in_chunk_size = 128
        self.out_chunk_size = 128
        self.streams = {}  # csid -> dict(header fields, partial payload)
        self.transaction = 1
        self.received = []

    # raw bytes
    def send_raw(self, data):
        self.sock.sendall(data)

    def _need(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buffer += chunk

    def _take(self, n):
        self._need(n)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def handshake(self):
        c1 = struct.pack(">II", 0, 0) + os.urandom(1528)
        self.send_raw(b"\x03" + c1)
        s0 = self._take(1)
        if s0 != b"\x03":
            raise ValueError(f"S0 {s0!r}")
        s1 = self._take(1536)
        s2 = self._take(1536)
        if s2[8:] != c1[8:]:
            raise ValueError("S2 does not echo C1")
        self.send_raw(s1)  # C2 echoes S1

    # writing
    def send_message(self, csid, type_id, stream_id, payload, timestamp=0):
        assert csid < 64
        ts = min(timestamp, 0xFFFFFF)
        header = bytes([csid]) + struct.pack(">I", ts)[1:] + struct.pack(">I", len(payload))[1:] + \
            bytes([type_id]) + struct.pack("<I", stream_id)
        ext = struct.pack(">I", timestamp) if timestamp >= 0xFFFFFF else b""
        out = header + ext + payload[:self.out_chunk_size]
        for i in range(self.out_chunk_size, len(payload), self.out_chunk_size):
            out += bytes([0xC0 | csid]) + ext + payload[i:i + self.out_chunk_size]
        self.send_raw(out)

    def set_chunk_size(self, size):
        self.send_message(2, 1, 0, struct.pack(">I", size))
        self.out_chunk_size = size

    def call(self, name, *args, stream_id=0, csid=3, command_object=None):
        tx = self.transaction
        self.transaction += 1
        payload = amf0_encode(name) + amf0_encode(tx) + amf0_encode(command_object)
        for a in args:
            payload += amf0_encode(a)
        self.send_message(csid, 20, stream_id, payload)
        return tx

    # reading
    def read_message(self):
        while True:
            first = self._take(1)[0]
            fmt, csid = first >> 6, first & 0x3F
            if csid == 0:
                csid = 64 + self._take(1)[0]
            elif csid == 1:
                b = self._take(2)
                csid = 64 + b[0] + b[1] * 256
            st = self.streams.get(csid)
            if st is None:
                if fmt != 0:
                    raise ValueError(f"format {fmt} on new chunk stream {csid}")
                st = self.streams[csid] = {"ts": 0, "delta": 0, "len": 0, "type": 0, "sid": 0,
                                           "data": b"", "ext": False}
            if fmt <= 2:
                raw = self._take(3)
                t = int.from_bytes(raw, "big")
                if fmt <= 1:
                    h = self._take(4)
                    st["len"] = int.from_bytes(h[:3], "big")
                    st["type"] = h[3]
                if fmt == 0:
                    st["sid"] = struct.unpack("<I", self._take(4))[0]
                st["ext"] = t == 0xFFFFFF
                if st["ext"]:
                    t = struct.unpack(">I", self._take(4))[0]
                if fmt == 0:
                    st["ts"] = t
                    st["delta"] = 0
                else:
                    st["delta"] = t
                    st["ts"] = (st["ts"] + t) & 0xFFFFFFFF
            else:
                if st["ext"]:
                    self._take(4)
                if not st["data"]:
                    st["ts"] = (st["ts"] + st["delta"]) & 0xFFFFFFFF
            want = min(self.in_chunk_size, st["len"] - len(st["data"]))
            st["data"] += self._take(want)
            if len(st["data"]) == st["len"]:
                m = Message(csid, st["ts"], st["type"], st["sid"], st["data"])
                st["data"] = b""
                if m.type_id == 1:
                    self.in_chunk_size = struct.unpack(">I", m.payload[:4])[0] & 0x7FFFFFFF
                elif m.type_id == 4 and m.payload[:2] == b"\x00\x06":  # PingRequest
                    self.send_message(2, 4, 0, b"\x00\x07" + m.payload[2:6])
                self.received.append(m)
                return m

    def wait_command(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.read_message()
            cmd = m.command()
            if cmd and predicate(cmd):
                return cmd
        raise TimeoutError("command not received")

    # the usual sequences
    def connect(self, app, tc_url="rtmp://127.0.0.1/"):
        tx = self.call("connect", command_object={"app": app, "flashVer": "LNX 9,0,124,2",
                                                  "tcUrl": tc_url + app, "fpad": False,
                                                  "capabilities": 15, "audioCodecs": 3191,
                                                  "videoCodecs": 252, "videoFunction": 1,
                                                  "objectEncoding": 0})
        return self.wait_command(lambda c: c[0] in ("_result", "_error") and c[1] == tx)

    def create_stream(self):
        tx = self.call("createStream")
        reply = self.wait_command(lambda c: c[0] in ("_result", "_error") and c[1] == tx)
        return int(reply[3])

    def publish(self, name):
        sid = self.create_stream()
        self.call("publish", name, "live", stream_id=sid, csid=8)
        status = self.wait_command(lambda c: c[0] == "onStatus")
        return sid, status[3]

    def play(self, name):
        sid = self.create_stream()
        self.call("play", name, -2000, stream_id=sid, csid=8)
        return sid

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def server_closes(sock, timeout=5):
    """True when the peer closes `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False
