"""permessage-deflate (RFC 7692) against /echo with the `websockets` client, which offers it by
default: every negotiable parameter combination, text and binary, sizes around the threshold
and far above it, compressible and random payloads; and compression disabled on either side."""

from __future__ import annotations

import asyncio
import itertools
import os
import random

import pytest
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from conftest import ServerProcess, SharedServer, http_get
from wsutil import run_async

KiB = 1024
MiB = 1024 * 1024
SIZES = [0, 1, 127, 128, 16 * KiB, 1 * MiB]


@pytest.fixture(scope="module")
def _module_server(pushwave_bin, tmp_path_factory):
    """The module's server, taking messages a little over 1 MiB: a 1 MiB message that
    does not compress grows by a few bytes when deflated, past the default limit."""
    shared = SharedServer(pushwave_bin, tmp_path_factory.mktemp("server"), ["--max-message-size", str(2 * MiB)])
    yield shared
    problem = shared.stop()
    if problem:
        pytest.fail(problem, pytrace=False)


def compressible(n: int) -> bytes:
    words = [b"push", b"wave", b"socket", b"deflate", b" ", b"{\"id\":", b"}", b"\n"]
    rng = random.Random(n)
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words)
    return bytes(out[:n])


def payload(n: int, kind: str) -> bytes:
    return compressible(n) if kind == "compressible" else os.urandom(n)


FACTORIES = [
    pytest.param(
        dict(server_no_context_takeover=snct, client_no_context_takeover=cnct,
             server_max_window_bits=smwb, client_max_window_bits=cmwb),
        id=f"snct={int(snct)}-cnct={int(cnct)}-smwb={smwb}-cmwb={cmwb}",
    )
    for snct, cnct, smwb, cmwb in [
        (False, False, None, True),
        (True, True, None, True),
        (False, True, 10, 12),
        (True, False, 9, 9),
        (False, False, 15, None),
        (True, True, 8, 9),
    ]
]


async def exchange(ws, sizes=SIZES) -> None:
    for size, kind, as_text in itertools.product(sizes, ["compressible", "random"], [True, False]):
        if as_text and kind == "random":
            data: str | bytes = compressible(size).decode().upper()  # text must be UTF-8
        elif as_text:
            data = payload(size, kind).decode()
        else:
            data = payload(size, kind)
        await ws.send(data)
        echoed = await asyncio.wait_for(ws.recv(), 20)
        assert echoed == data, f"{size} B {kind} {'text' if as_text else 'binary'} came back different"


def negotiated(ws) -> str:
    return ws.response.headers.get("Sec-WebSocket-Extensions", "")


@pytest.mark.parametrize("parameters", FACTORIES)
@run_async(timeout=120)
async def test_every_parameter_combination_echoes(server, parameters):
    factory = ClientPerMessageDeflateFactory(**parameters)
    async with connect(server.ws_url("/echo"), extensions=[factory], compression=None,
                       max_size=2 * MiB, open_timeout=10) as ws:
        header = negotiated(ws)
        assert header.startswith("permessage-deflate"), header
        # The server always asks the client to drop its context, which browsers accept.
        assert "client_no_context_takeover" in header
        await exchange(ws)


@run_async(timeout=120)
async def test_default_offer_is_accepted_and_compresses(server):
    async with connect(server.ws_url("/echo"), max_size=2 * MiB, open_timeout=10) as ws:
        assert negotiated(ws).startswith("permessage-deflate")
        await exchange(ws, sizes=[0, 128, 16 * KiB])
    status, _, body = http_get(server.host, server.port, "/metrics")
    assert status == 200
    metrics = dict(line.split(" ", 1) for line in body.decode().splitlines() if line and not line.startswith("#"))
    assert int(metrics["pushwave_deflate_messages_inflated_total"]) > 0
    before = int(metrics["pushwave_deflate_sent_bytes_before_total"])
    after = int(metrics["pushwave_deflate_sent_bytes_after_total"])
    assert 0 < after < before


@run_async
async def test_client_without_compression_gets_plain_frames(server):
    async with connect(server.ws_url("/echo"), compression=None, open_timeout=10) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        message = "compressible " * 1000
        await ws.send(message)
        assert await asyncio.wait_for(ws.recv(), 10) == message


@run_async
async def test_server_with_no_deflate_declines(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--no-deflate"], tmp_path / "no-deflate.log")
    try:
        srv.wait_healthy()
        async with connect(srv.ws_url("/echo"), open_timeout=10) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            message = "compressible " * 1000
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), 10) == message
    finally:
        srv.stop()
