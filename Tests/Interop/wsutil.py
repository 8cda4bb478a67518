"""Small utilities for the interop tests.

* `run_async`: run an `async def` test with plain `asyncio.run`, under a timeout.
* `RawWebSocket`: a client over a plain socket that performs the HTTP upgrade
  and builds/parses frames by hand (RFC 6455 section 5), so that tests can send
  frames a well-behaved client library refuses to produce (unmasked frames,
  invalid UTF-8, bad close codes, reserved bits, ...).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

DEFAULT_TEST_TIMEOUT = 120.0


def run_async(fn=None, *, timeout: float = DEFAULT_TEST_TIMEOUT):
    """Decorator: turn `async def test_x(...)` into a plain test run by asyncio.run."""

    def decorate(coro_fn):
        @functools.wraps(coro_fn)
        def wrapper(*args, **kwargs):
            return asyncio.run(asyncio.wait_for(coro_fn(*args, **kwargs), timeout))

        return wrapper

    return decorate(fn) if fn is not None else decorate


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode("ascii")).digest()).decode("ascii")


def mask_payload(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    # XOR with the repeated 4-byte key, done on one big integer for speed.
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    n = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return n.to_bytes(len(payload), "big")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    masking_key: bytes | None = None,
) -> bytes:
    """Encode one frame. `rsv` is the 3-bit RSV1..RSV3 field (0..7)."""
    first = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0x0F)
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return header + payload
    key = masking_key if masking_key is not None else os.urandom(4)
    return header + key + mask_payload(payload, key)


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]

    def __repr__(self) -> str:
        shown = self.payload[:40]
        more = "..." if len(self.payload) > 40 else ""
        return f"Frame(fin={self.fin}, rsv={self.rsv}, opcode={self.opcode:#x}, len={len(self.payload)}, payload={shown!r}{more})"


class ConnectionClosedByPeer(Exception):
    """The TCP connection ended (EOF or reset) before the expected data arrived."""


class RawWebSocket:
    """Blocking WebSocket client over a plain TCP socket, frames built by hand."""

    def __init__(self, host: str, port: int, path: str = "/echo", timeout: float = 5.0):
        self.host = host
        self.port = port
        self.path = path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.response_status: int | None = None
        self.response_headers: dict[str, str] = {}
        self.send_error: OSError | None = None

    # -- connection ---------------------------------------------------------

    def open_tcp(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request_upgrade(self, headers: dict[str, str] | None = None, key: str | None = None) -> tuple[int, dict[str, str]]:
        """Send an upgrade request (headers may override/remove defaults with None) and read the response head."""
        if self.sock is None:
            self.open_tcp()
        key = key if key is not None else base64.b64encode(os.urandom(16)).decode("ascii")
        fields: dict[str, str | None] = {
            "Host": f"{self.host}:{self.port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }
        for name, value in (headers or {}).items():
            fields[name] = value
        lines = [f"GET {self.path} HTTP/1.1"] + [f"{k}: {v}" for k, v in fields.items() if v is not None]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = self._read_until(b"\r\n\r\n", limit=16384)
        text = head.decode("latin-1")
        status_line, *header_lines = text.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError(f"malformed HTTP status line: {status_line!r}")
        self.response_status = int(parts[1])
        self.response_headers = {}
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            self.response_headers[name.strip().lower()] = value.strip()
        self._expected_accept = accept_key(key)
        return self.response_status, self.response_headers

    def connect(self) -> "RawWebSocket":
        """Open the connection and complete a valid handshake, checking the server's answer."""
        status, headers = self.request_upgrade()
        assert status == 101, f"expected 101 Switching Protocols, got {status} {headers}"
        assert headers.get("upgrade", "").lower() == "websocket", f"bad Upgrade header: {headers}"
        assert "upgrade" in [t.strip().lower() for t in headers.get("connection", "").split(",")], f"bad Connection header: {headers}"
        assert headers.get("sec-websocket-accept") == self._expected_accept, (
            f"bad Sec-WebSocket-Accept: {headers.get('sec-websocket-accept')!r}, expected {self._expected_accept!r}"
        )
        assert "sec-websocket-extensions" not in headers, f"server accepted an extension that was not offered: {headers}"
        return self

    def close_socket(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> "RawWebSocket":
        if self.sock is None:
            self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close_socket()

    # -- sending ------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Send bytes. If the server has already closed the connection (for example
        right after failing it for an earlier frame), the error is recorded in
        `send_error` instead of raised: the reads that follow tell what the server did."""
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.send_error = exc

    def send_frame(self, opcode: int, payload: bytes = b"", **kwargs) -> None:
        self.send_raw(build_frame(opcode, payload, **kwargs))

    def send_close(self, code: int | None = 1000, reason: bytes = b"", **kwargs) -> None:
        self.send_frame(OP_CLOSE, close_payload(code, reason), **kwargs)

    # -- receiving ----------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        assert self.sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data from the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data from the server") from None
        except ConnectionResetError:
            raise ConnectionClosedByPeer("connection reset by the server") from None
        if not chunk:
            raise ConnectionClosedByPeer("server closed the TCP connection")
        self.buf += chunk

    def _read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            idx = self.buf.find(marker)
            if idx != -1:
                data = bytes(self.buf[:idx])
                del self.buf[: idx + len(marker)]
                return data
            if len(self.buf) > limit:
                raise AssertionError("HTTP response head too large")
            self._fill(deadline)

    def recv_frame(self, timeout: float | None = None) -> Frame:
        """Read one frame; server frames must not be masked (RFC 6455 5.1)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        b0, b1 = self._read_exact(2, deadline)
        fin = bool(b0 & 0x80)
        rsv = (b0 >> 4) & 0x7
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2, deadline))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8, deadline))
        assert not masked, "server sent a masked frame (RFC 6455 5.1: a server MUST NOT mask)"
        payload = self._read_exact(length, deadline)
        return Frame(fin, rsv, opcode, payload)

    def recv_message(self, timeout: float | None = None) -> tuple[int, bytes]:
        """Read one complete data message (reassembling fragments). Server pings are skipped."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        opcode = None
        parts: list[bytes] = []
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if frame.opcode in (OP_PING, OP_PONG):
                continue
            if frame.opcode == OP_CLOSE:
                raise AssertionError(f"expected a data message, got close code={frame.close_code} reason={frame.close_reason!r}")
            if opcode is None:
                assert frame.opcode in (OP_TEXT, OP_BINARY), f"expected a data frame, got {frame}"
                opcode = frame.opcode
            else:
                assert frame.opcode == OP_CONT, f"expected a continuation frame, got {frame}"
            parts.append(frame.payload)
            if frame.fin:
                return opcode, b"".join(parts)

    def expect_close(self, timeout: float | None = None) -> Frame:
        """Read frames until a close frame arrives and return it.

        Data frames before the close are collected in `self.frames_before_close`.
        Fails if the connection ends without a close frame.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        self.frames_before_close: list[Frame] = []
        while True:
            try:
                frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except ConnectionClosedByPeer as exc:
                raise AssertionError(
                    f"connection ended without a close frame ({exc}); frames seen: {self.frames_before_close}"
                ) from None
            if frame.opcode == OP_CLOSE:
                return frame
            if frame.opcode != OP_PING:
                self.frames_before_close.append(frame)

    def wait_eof(self, timeout: float | None = None) -> bool:
        """True if the server closes the TCP connection within `timeout` (no further frames expected)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        try:
            while True:
                self._fill(deadline)
                self.buf.clear()
        except ConnectionClosedByPeer:
            return True
        except TimeoutError:
            return False


# -- probes of a running server process (Linux /proc) and socket helpers --------


def proc_fd_count(pid: int) -> int:
    """Number of open file descriptors of process `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kib(pid: int) -> int:
    """Resident set size (VmRSS) of process `pid`, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time consumed so far by process `pid` (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Fields after the command name (which may contain spaces) start at field 3 (state).
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


async def close_code(ws, timeout: float = 10):
    """The close code a `websockets` client receives next, or a description of what came
    instead."""
    from websockets.exceptions import ConnectionClosed

    try:
        await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return "message instead of close"


def abort_socket(sock: socket.socket) -> None:
    """Close a socket with a TCP reset instead of a FIN (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def prometheus_value(text: str, name: str) -> float | None:
    """The value of an unlabelled sample `name` in Prometheus text format, or None."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def upgrade_request_bytes(host: str, port: int, path: str = "/echo", extra_headers: str = "") -> bytes:
    """A valid upgrade request with a fresh key; `extra_headers` is "Name: value\\r\\n" lines."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    ).encode("latin-1")
