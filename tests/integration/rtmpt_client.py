"""A raw HTTP/1.1 client for RTMPT protocol tests: exact bytes out, exact bytes in."""

import socket


class Response:
    def __init__(self, status_line, header_text, headers, body):
        self.status_line, self.header_text, self.headers, self.body = status_line, header_text, headers, body

    @property
    def status(self):
        return int(self.status_line.split()[1])


class HttpConnection:
    def __init__(self, port, host="127.0.0.1", timeout=5):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send_request(self, path, body=b"", version="HTTP/1.1", method="POST", extra_headers=()):
        head = f"{method} {path} {version}\r\nHost: 127.0.0.1\r\nContent-Type: application/x-fcs\r\n"
        head += "Connection: Keep-Alive\r\n" if version == "HTTP/1.0" else ""
        for h in extra_headers:
            head += h + "\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode() + body)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def read_response(self):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buffer) < n:
            self._fill()
        body, self.buffer = self.buffer[:n], self.buffer[n:]
        return Response(lines[0], head.decode("latin-1"), headers, body)

    def request(self, path, body=b"", **kw):
        self.send_request(path, body, **kw)
        return self.read_response()

    def closed_by_peer(self, timeout=3):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class Tunnel:
    """One RTMPT session over one HTTP connection, numbering requests from `first_seq`."""

    def __init__(self, port, first_seq=0):
        self.http = HttpConnection(port)
        r = self.http.request("/open/1", b"\x00")
        assert r.status == 200, r.status_line
        self.id = r.body.decode().rstrip("\n")
        self.seq = first_seq
        self.received = b""

    def send(self, data):
        r = self.http.request(f"/send/{self.id}/{self.seq}", data)
        self.seq += 1
        self.received += r.body[1:]
        return r

    def idle(self):
        r = self.http.request(f"/idle/{self.id}/{self.seq}", b"\x00")
        self.seq += 1
        self.received += r.body[1:]
        return r

    def receive(self, n, max_requests=200):
        for _ in range(max_requests):
            if len(self.received) >= n:
                break
            self.idle()
        out, self.received = self.received[:n], self.received[n:]
        return out

    def close(self):
        r = self.http.request(f"/close/{self.id}/{self.seq}", b"\x00")
        self.http.close()
        return r


class TunnelSocket:
    """An RTMPT session as the socket of an rtmp_client.Client: sendall is /send, recv polls
    /idle until something arrives (b"" when nothing does, as at a closed socket)."""

    def __init__(self, port):
        self.tunnel = Tunnel(port)

    def sendall(self, data):
        self.tunnel.send(data)

    def recv(self, n):
        for _ in range(25):
            if self.tunnel.received:
                break
            if self.tunnel.idle().status != 200:
                break
        out = self.tunnel.received[:n]
        self.tunnel.received = self.tunnel.received[n:]
        return out

    def settimeout(self, _):
        pass

    def close(self):
        self.tunnel.http.close()
