"""The integration tests' clients, driven by asyncio so that one process runs hundreds of sessions.

rtmp_client.Client (handshake, chunk stream, AMF0 commands) and rtmpt_client.HttpConnection (exact
HTTP requests, response parsing) are written for blocking sockets. Here each gets an `Outbox` in
place of its socket: what it sends collects there and is written to an asyncio stream (plain RTMP)
or carried in RTMPT /send bodies; what arrives is appended to its buffer, and its parser runs on
that. A parser that runs out of bytes raises NeedMore; its state is put back as it was and it runs
again once more bytes came, so a message cut anywhere is parsed once, whole."""

import asyncio
import copy
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import rtmp_client  # noqa: E402
import rtmpt_client  # noqa: E402

READ_SIZE = 65536


class NeedMore(Exception):
    """A parser needs bytes that have not arrived yet."""


class SessionError(Exception):
    """The gateway answered something a well-behaved session does not expect."""


class Outbox:
    """Stands in for the blocking socket of the integration clients: collects what they send and
    has nothing to read."""

    def __init__(self):
        self.data = bytearray()

    def sendall(self, data):
        self.data += data

    def recv(self, _size):
        raise NeedMore()

    def take(self):
        out = bytes(self.data)
        self.data.clear()
        return out

    def close(self):
        pass


def reset_on_close(writer):
    """Makes closing `writer`'s socket send RST instead of FIN: a client that vanishes."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.fileno() >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def open_tcp(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


def close_writer(writer, abrupt=False):
    if writer is None or writer.is_closing():
        return
    if abrupt:
        reset_on_close(writer)
    writer.close()


class Http:
    """One HTTP/1.1 connection: rtmpt_client.HttpConnection's requests and parser over asyncio."""

    def __init__(self):
        self.reader = self.writer = None
        # HttpConnection's state, without the blocking socket its __init__ opens.
        self.conn = rtmpt_client.HttpConnection.__new__(rtmpt_client.HttpConnection)
        self.conn.sock = Outbox()
        self.conn.buffer = b""

    async def open(self, port):
        self.reader, self.writer = await open_tcp(port)

    async def request(self, path, body=b"", **kw):
        self.conn.send_request(path, body, **kw)
        self.writer.write(self.conn.sock.take())
        await self.writer.drain()
        return await self.read_response()

    async def read_response(self):
        while True:
            saved = self.conn.buffer
            try:
                return self.conn.read_response()
            except NeedMore:
                self.conn.buffer = saved
            data = await self.reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("HTTP connection closed by the gateway")
            self.conn.buffer += data

    def close(self, abrupt=False):
        close_writer(self.writer, abrupt)


class SocketTransport:
    """Plain RTMP: one TCP connection. recv() raises ConnectionError at the end of the stream."""

    tunnelled = False

    def __init__(self):
        self.reader = self.writer = None

    async def open(self, port):
        self.reader, self.writer = await open_tcp(port)

    async def send(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self):
        data = await self.reader.read(READ_SIZE)
        if not data:
            raise ConnectionError("closed by the gateway")
        return data

    async def close(self, abrupt=False):
        close_writer(self.writer, abrupt)


class TunnelError(SessionError):
    def __init__(self, verb, status):
        super().__init__(f"/{verb} answered {status}")
        self.status = status


class TunnelTransport:
    """RTMPT: one session over one HTTP connection, as ffmpeg and librtmp keep it. recv() is one
    /idle poll (the gateway holds an empty one for rtmpt.idle_hold) and may return b"";
    any answer but 200 raises TunnelError."""

    tunnelled = True

    def __init__(self):
        self.http = Http()
        self.id = None
        self.seq = 0
        self.inbox = b""

    async def open(self, port):
        await self.http.open(port)
        r = await self.http.request("/open/1", b"\x00")
        if r.status != 200:
            raise TunnelError("open", r.status)
        self.id = r.body.decode().rstrip("\n")

    async def exchange(self, verb, body):
        r = await self.http.request(f"/{verb}/{self.id}/{self.seq}", body)
        self.seq += 1
        if r.status != 200:
            raise TunnelError(verb, r.status)
        return r.body[1:]  # after the poll byte

    async def send(self, data):
        self.inbox += await self.exchange("send", data)

    async def recv(self):
        if not self.inbox:
            return await self.exchange("idle", b"\x00")
        out, self.inbox = self.inbox, b""
        return out

    async def close(self, abrupt=False):
        """/close, unless `abrupt`: then the connection just ends and the session is left to expire."""
        if not abrupt and self.id is not None:
            try:
                await self.http.request(f"/close/{self.id}/{self.seq}", b"\x00")
            except (OSError, ConnectionError):
                pass
        self.http.close(abrupt)


class Rtmp(rtmp_client.Client):
    """rtmp_client.Client over a transport (SocketTransport or TunnelTransport)."""

    def __init__(self, transport):  # pylint: disable=super-init-not-called
        # Client's state, without the blocking socket its __init__ opens.
        self.sock = Outbox()
        self.buffer = b""
        self.in_chunk_size = 128
        self.out_chunk_size = 128
        self.streams = {}
        self.transaction = 1
        self.received = []
        self.transport = transport
        self.awaited = None

    async def flush(self):
        data = self.sock.take()
        if data:
            await self.transport.send(data)

    async def feed(self):
        data = await self.transport.recv()
        self.buffer += data
        return len(data)

    async def handshake_async(self):
        c1 = struct.pack(">II", 0, 0) + os.urandom(1528)
        self.send_raw(b"\x03" + c1)
        await self.flush()
        while len(self.buffer) < 1 + 2 * 1536:
            await self.feed()
        s0, s1, s2 = self.buffer[:1], self.buffer[1:1537], self.buffer[1537:3073]
        self.buffer = self.buffer[3073:]
        if s0 != b"\x03" or s2[8:] != c1[8:]:
            raise SessionError("bad S0/S2")
        self.send_raw(s1)  # C2 echoes S1
        await self.flush()

    async def next_message(self):
        while True:
            saved = (self.buffer, copy.deepcopy(self.streams), self.in_chunk_size, len(self.received))
            try:
                m = self.read_message()
            except NeedMore:
                self.buffer, self.streams, self.in_chunk_size, n = saved
                del self.received[n:]
                await self.feed()
                continue
            await self.flush()  # read_message answers PingRequest
            return m

    async def wait_for(self, predicate):
        while True:
            cmd = (await self.next_message()).command()
            if cmd and predicate(cmd):
                return cmd

    def wait_command(self, predicate, timeout=10):
        # Client.connect sends connect and then blocks here: keep what it waits for.
        self.awaited = predicate

    async def connect_async(self, app):
        self.connect(app)
        await self.flush()
        reply = await self.wait_for(self.awaited)
        if reply[0] != "_result":
            raise SessionError(f"connect {app}: {reply[0]} {reply[3:]}")

    async def command(self, name, *args, stream_id=0, csid=3):
        tx = self.call(name, *args, stream_id=stream_id, csid=csid)
        await self.flush()
        return await self.wait_for(lambda c: c[0] in ("_result", "_error") and c[1] == tx)

    async def create_stream_async(self):
        reply = await self.command("createStream")
        if reply[0] != "_result":
            raise SessionError(f"createStream: {reply}")
        return int(reply[3])

    async def status_after(self, name, *args, stream_id):
        """Sends `name` on the stream and returns the code of the first onStatus but Play.Reset."""
        self.call(name, *args, stream_id=stream_id, csid=8)
        await self.flush()
        while True:
            status = await self.wait_for(lambda c: c[0] == "onStatus")
            info = status[3] if len(status) > 3 else None
            code = info.get("code") if isinstance(info, dict) else None
            if code != "NetStream.Play.Reset":
                return code

    def acknowledge(self, total):
        """An Acknowledgement of `total` octets received (RTMP 1.0, 5.4.3)."""
        self.send_message(2, 3, 0, struct.pack(">I", total & 0xFFFFFFFF))


def read_flv_tags(path):
    """[(type_id, timestamp_ms, payload)] of the audio, video and script tags of an FLV file."""
    with open(path, "rb") as f:
        data = f.read()
    pos = struct.unpack_from(">I", data, 5)[0] + 4  # header, then PreviousTagSize0
    tags = []
    while pos + 11 <= len(data):
        type_id = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        payload = data[pos + 11:pos + 11 + size]
        if len(payload) < size:
            break
        tags.append((type_id, ts, payload))
        pos += 11 + size + 4
    return tags
