"""The `websockets` library (and a hand-built raw client) against our /echo endpoint."""

from __future__ import annotations

import asyncio
import os

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import SharedServer
from wsutil import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawWebSocket,
    run_async,
)

MiB = 1024 * 1024
SIZES = [0, 125, 126, 65535, 65536, 16 * MiB]


@pytest.fixture(scope="module")
def _module_server(pushwave_bin, tmp_path_factory):
    """The module's server, taking the 16 MiB messages of SIZES (the default limit is 1 MiB)."""
    shared = SharedServer(pushwave_bin, tmp_path_factory.mktemp("server"), ["--max-message-size", str(16 * MiB)])
    yield shared
    problem = shared.stop()
    if problem:
        pytest.fail(problem, pytrace=False)
CLIENT_MAX_SIZE = 16 * MiB

# Close codes from RFC 6455 section 7.4.1 / 11.7.
NORMAL = 1000
PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009


def text_of_size(n: int) -> str:
    """A string whose UTF-8 encoding is exactly n bytes, mixing 1-, 2-, 3- and 4-byte characters."""
    unit = "pushwave é ✓ 🌊 "
    unit_bytes = len(unit.encode())
    s = unit * (n // unit_bytes)
    remaining = n - len(s.encode())
    s += "x" * remaining
    assert len(s.encode()) == n
    return s


def echo_connect(server, **kwargs):
    options = dict(max_size=CLIENT_MAX_SIZE, compression=None, open_timeout=10, close_timeout=10, ping_interval=None)
    options.update(kwargs)
    return connect(server.ws_url("/echo"), **options)


# ---------------------------------------------------------------------------
# Well-formed traffic through the websockets client library
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
@run_async
async def test_text_echo(server, size):
    message = text_of_size(size)
    async with echo_connect(server) as ws:
        await ws.send(message)
        reply = await asyncio.wait_for(ws.recv(), 60)
        assert isinstance(reply, str), "a text message must be echoed as text"
        assert len(reply) == len(message)
        assert reply == message


@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
@run_async
async def test_binary_echo(server, size):
    message = os.urandom(size)
    async with echo_connect(server) as ws:
        await ws.send(message)
        reply = await asyncio.wait_for(ws.recv(), 60)
        assert isinstance(reply, bytes), "a binary message must be echoed as binary"
        assert len(reply) == len(message)
        assert reply == message


@run_async
async def test_many_messages_in_order(server):
    async with echo_connect(server) as ws:
        sent = [f"message {i} " + "z" * (i * 37 % 300) for i in range(300)]
        for m in sent:
            await ws.send(m)
        received = [await asyncio.wait_for(ws.recv(), 10) for _ in sent]
        assert received == sent


@run_async
async def test_fragmented_text_from_iterable(server):
    fragments = ["Hello", ", ", "", "fragmented ", "wörld ", "🌊" * 1000]
    async with echo_connect(server) as ws:
        await ws.send(fragments)
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply == "".join(fragments)


@run_async
async def test_fragmented_binary_from_async_iterable(server):
    chunks = [os.urandom(n) for n in (1, 125, 126, 4096, 70000, 0, 3)]

    async def produce():
        for c in chunks:
            yield c
            await asyncio.sleep(0.01)

    async with echo_connect(server) as ws:
        await ws.send(produce())
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(reply, bytes)
        assert reply == b"".join(chunks)


@run_async
async def test_ping_gets_pong(server):
    async with echo_connect(server) as ws:
        for payload in (b"", b"are you there?", os.urandom(125)):
            pong_waiter = await ws.ping(payload)
            latency = await asyncio.wait_for(pong_waiter, 5)
            assert latency >= 0
        # The connection still echoes afterwards.
        await ws.send("after ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "after ping"


@run_async
async def test_client_close_1000_is_echoed(server):
    async with echo_connect(server) as ws:
        await ws.send("bye soon")
        assert await asyncio.wait_for(ws.recv(), 5) == "bye soon"
        await ws.close(NORMAL, "done")
        assert ws.close_code == NORMAL, f"server answered close with {ws.close_code}"


@run_async
async def test_compression_offer_is_handled(server):
    # The default websockets client offers permessage-deflate; the server may
    # accept or decline it, but echo must work either way.
    async with connect(server.ws_url("/echo"), max_size=CLIENT_MAX_SIZE, open_timeout=10) as ws:
        message = "compressible " * 1000
        await ws.send(message)
        assert await asyncio.wait_for(ws.recv(), 10) == message
        await ws.send(message.encode())
        assert await asyncio.wait_for(ws.recv(), 10) == message.encode()


@run_async
async def test_concurrent_connections(server):
    async def one(i: int):
        async with echo_connect(server) as ws:
            for j in range(20):
                m = f"conn {i} msg {j}"
                await ws.send(m)
                assert await asyncio.wait_for(ws.recv(), 10) == m

    await asyncio.gather(*(one(i) for i in range(50)))


# ---------------------------------------------------------------------------
# Hand-built frames over a raw socket
# ---------------------------------------------------------------------------


def raw(server, path="/echo") -> RawWebSocket:
    return RawWebSocket(server.host, server.port, path).connect()


def assert_closed_with(ws: RawWebSocket, expected_code: int) -> None:
    """The server must send a close frame with `expected_code`, echo nothing before it, then end the TCP connection."""
    frame = ws.expect_close(timeout=5)
    assert frame.close_code == expected_code, (
        f"expected close code {expected_code}, got {frame.close_code} (reason {frame.close_reason!r})"
    )
    assert not ws.frames_before_close, f"server sent data frames before closing: {ws.frames_before_close}"
    assert ws.wait_eof(timeout=5), "server did not close the TCP connection after its close frame"


def test_raw_handshake_and_echo(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, "raw hello ✓".encode())
        assert ws.recv_message() == (OP_TEXT, "raw hello ✓".encode())
        ws.send_frame(OP_BINARY, b"\x00\x01\xfe\xff")
        assert ws.recv_message() == (OP_BINARY, b"\x00\x01\xfe\xff")


def test_raw_ping_payload_is_returned_in_pong(server):
    with raw(server) as ws:
        payload = b"ping-payload-\x00\xff"
        ws.send_frame(OP_PING, payload)
        frame = ws.recv_frame()
        assert frame.opcode == OP_PONG and frame.fin
        assert frame.payload == payload


def test_raw_ping_between_fragments(server):
    """Control frames may be injected in the middle of a fragmented message (RFC 6455 5.4)."""
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, b"first ", fin=False)
        ws.send_frame(OP_PING, b"mid")
        ws.send_frame(OP_CONT, b"second ", fin=False)
        ws.send_frame(OP_CONT, b"third", fin=True)
        frame = ws.recv_frame()
        assert frame.opcode == OP_PONG and frame.payload == b"mid"
        assert ws.recv_message() == (OP_TEXT, b"first second third")


def test_raw_utf8_split_across_fragments(server):
    """A multi-byte character split between fragments is valid once the message is reassembled."""
    data = "añ✓🌊".encode()  # 1 + 2 + 3 + 4 bytes
    with raw(server) as ws:
        for i in range(len(data)):
            piece_is_last = i == len(data) - 1
            ws.send_frame(OP_TEXT if i == 0 else OP_CONT, data[i : i + 1], fin=piece_is_last)
        assert ws.recv_message() == (OP_TEXT, data)


def test_raw_close_1000_echoed(server):
    with raw(server) as ws:
        ws.send_close(NORMAL, b"normal closure")
        frame = ws.expect_close()
        assert frame.close_code == NORMAL
        assert ws.wait_eof(), "server should close the TCP connection after the closing handshake"


@pytest.mark.parametrize("code", [1001, 1003, 1011, 3000, 4999])
def test_raw_close_valid_codes_answered(server, code):
    with raw(server) as ws:
        ws.send_close(code, b"")
        frame = ws.expect_close()
        assert frame.close_code in (code, NORMAL), f"close {code} answered with {frame.close_code}"


def test_raw_close_without_payload(server):
    with raw(server) as ws:
        ws.send_close(None)
        frame = ws.expect_close()
        # No status code received: the reply carries none, or 1000. Never 1005 on the wire.
        assert frame.close_code in (None, NORMAL), f"unexpected close reply {frame}"
        assert ws.wait_eof()


def test_raw_invalid_utf8_text_closes_1007(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, b"valid prefix \xff\xfe")
        assert_closed_with(ws, INVALID_PAYLOAD)


def test_raw_invalid_utf8_in_later_fragment_closes_1007(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, "ok so far ".encode(), fin=False)
        ws.send_frame(OP_CONT, b"\xc0\xaf", fin=True)  # overlong encoding of '/'
        assert_closed_with(ws, INVALID_PAYLOAD)


def test_raw_truncated_utf8_at_message_end_closes_1007(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, "🌊".encode()[:3])
        assert_closed_with(ws, INVALID_PAYLOAD)


def test_raw_invalid_utf8_close_reason_closes_1007(server):
    with raw(server) as ws:
        ws.send_close(NORMAL, b"\xff\xff")
        assert_closed_with(ws, INVALID_PAYLOAD)


def test_raw_unmasked_frame_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, b"not masked", mask=False)
        assert_closed_with(ws, PROTOCOL_ERROR)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_raw_close_with_invalid_code_closes_1002(server, code):
    with raw(server) as ws:
        ws.send_close(code, b"")
        assert_closed_with(ws, PROTOCOL_ERROR)


def test_raw_close_with_one_byte_payload_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_CLOSE, b"\x03")
        assert_closed_with(ws, PROTOCOL_ERROR)


@pytest.mark.parametrize("rsv", [1, 2, 4], ids=["rsv1", "rsv2", "rsv3"])
def test_raw_reserved_bits_close_1002(server, rsv):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, b"reserved bit set", rsv=rsv)
        assert_closed_with(ws, PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_raw_reserved_opcode_closes_1002(server, opcode):
    with raw(server) as ws:
        ws.send_frame(opcode, b"?")
        assert_closed_with(ws, PROTOCOL_ERROR)


def test_raw_control_frame_too_long_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_PING, b"x" * 126)
        assert_closed_with(ws, PROTOCOL_ERROR)


def test_raw_fragmented_control_frame_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_PING, b"frag", fin=False)
        assert_closed_with(ws, PROTOCOL_ERROR)


def test_raw_continuation_without_start_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_CONT, b"orphan", fin=True)
        assert_closed_with(ws, PROTOCOL_ERROR)


def test_raw_new_message_inside_fragmented_message_closes_1002(server):
    with raw(server) as ws:
        ws.send_frame(OP_TEXT, b"start", fin=False)
        ws.send_frame(OP_TEXT, b"another start", fin=True)
        assert_closed_with(ws, PROTOCOL_ERROR)


# ---------------------------------------------------------------------------
# Message size limit (a second server instance with a low limit)
# ---------------------------------------------------------------------------

LOW_LIMIT = 1024


@pytest.fixture
def small_server(start_server):
    return start_server("--max-message-size", str(LOW_LIMIT))


def test_message_at_limit_is_accepted(small_server):
    with raw(small_server) as ws:
        payload = os.urandom(LOW_LIMIT)
        ws.send_frame(OP_BINARY, payload)
        assert ws.recv_message() == (OP_BINARY, payload)


def test_oversized_single_frame_closes_1009(small_server):
    with raw(small_server) as ws:
        ws.send_frame(OP_BINARY, os.urandom(LOW_LIMIT + 1))
        assert_closed_with(ws, MESSAGE_TOO_BIG)


def test_oversized_fragmented_message_closes_1009(small_server):
    with raw(small_server) as ws:
        # Each fragment is small; only the total exceeds the limit.
        for i in range(4):
            ws.send_frame(OP_TEXT if i == 0 else OP_CONT, b"a" * 300, fin=False)
        ws.send_frame(OP_CONT, b"a" * 300, fin=True)
        assert_closed_with(ws, MESSAGE_TOO_BIG)


@run_async
async def test_oversized_message_through_client_library_closes_1009(small_server):
    async with connect(small_server.ws_url("/echo"), compression=None, open_timeout=10) as ws:
        await ws.send("ok")
        assert await asyncio.wait_for(ws.recv(), 5) == "ok"
        await ws.send("x" * (LOW_LIMIT * 4))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None, "server dropped the connection without a close frame"
        assert info.value.rcvd.code == MESSAGE_TOO_BIG
