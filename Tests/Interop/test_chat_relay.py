"""Publish/subscribe relaying on /chat and /topics/NAME, seen through the websockets client."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from wsutil import run_async


def client(server, path):
    return connect(server.ws_url(path), compression=None, open_timeout=10, ping_interval=None)


async def join(ws, tag: str) -> None:
    """Send a probe and wait for it to come back: proves the server has subscribed this client."""
    probe = json.dumps({"name": "probe", "text": tag})
    await ws.send(probe)
    while await asyncio.wait_for(ws.recv(), 5) != probe:
        pass


async def drain_until(ws, expected: str) -> list:
    """Receive until `expected` arrives; return the messages received before it."""
    before = []
    while True:
        got = await asyncio.wait_for(ws.recv(), 5)
        if got == expected:
            return before
        before.append(got)


@run_async
async def test_chat_message_reaches_everyone_including_sender(server):
    async with client(server, "/chat") as a, client(server, "/chat") as b, client(server, "/chat") as c:
        for i, ws in enumerate((a, b, c)):
            await join(ws, f"join-{i}")
        # Raw text is relayed unchanged (whitespace, key order, unicode escapes and all).
        raw = '{"text": "hello \\u00e9 <b>all</b>",   "name": "alice"}'
        await a.send(raw)
        for ws in (a, b, c):
            await drain_until(ws, raw)


@run_async
async def test_chat_relays_non_json_text_unchanged(server):
    async with client(server, "/chat") as a, client(server, "/chat") as b:
        await join(a, "a")
        await join(b, "b")
        await a.send("not json at all")
        await drain_until(b, "not json at all")


@run_async
async def test_topics_are_isolated(server):
    async with client(server, "/topics/red") as red1, client(server, "/topics/red") as red2, client(
        server, "/topics/blue"
    ) as blue:
        for ws, tag in ((red1, "r1"), (red2, "r2"), (blue, "b")):
            await join(ws, tag)
        await red1.send("for red only")
        await drain_until(red2, "for red only")
        await drain_until(red1, "for red only")
        await blue.send("for blue only")
        seen_by_blue = await drain_until(blue, "for blue only")
        assert "for red only" not in seen_by_blue
        # Nothing from blue may reach red (give it a moment to show up if it would).
        for ws in (red1, red2):
            try:
                while True:
                    assert await asyncio.wait_for(ws.recv(), 0.3) != "for blue only"
            except asyncio.TimeoutError:
                pass
