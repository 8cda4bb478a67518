"""The /ws protocol: many topics per connection, offsets, recovery after a cut (a TCP reset)
at any point, history limits, a restart's new epoch, and bad commands."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pushutil import API, write_secrets

TOTAL = 5_000


def reset(ws) -> None:
    """Cuts the connection with a TCP reset, as a dying phone would: no close frame."""
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


@pytest.fixture
def server_with_history(start_server, tmp_path):
    keys, _ = write_secrets(tmp_path)
    return start_server("--api-key-file", str(keys), "--history", "recov.*=10000", "--history", "short=10",
                        "--threads", "2")


async def subscribe(url: str, topic: str, since: dict | None = None):
    ws = await connect(url, max_size=None)
    command = {"op": "subscribe", "topic": topic}
    if since:
        command["since"] = since
    await ws.send(json.dumps(command))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["op"] == "subscribed", reply
    return ws, reply


@pytest.mark.parametrize("cuts", [[1], [100, 2_500], [4_999], [10, 11, 12, 3_000]])
def test_a_client_cut_off_while_5000_are_published_misses_nothing(server_with_history, cuts):
    """The subscriber is reset after receiving each count in `cuts` (counting every message
    it got, replayed ones too, so a cut can fall inside a replay), and reconnects with the
    position of the last message it saw: at the end it has 1..5000, in order, once each."""
    topic = "recov.cut"
    url = server_with_history.ws_url("/ws")
    publishing_done = threading.Event()

    def publish_all():
        api = API(server_with_history)
        for n in range(1, TOTAL + 1):
            assert api.publish(topic, {"n": n})["offset"] == n
        api.close()
        publishing_done.set()

    async def main():
        ws, reply = await subscribe(url, topic)
        epoch = reply["epoch"]
        publisher = threading.Thread(target=publish_all)
        publisher.start()
        offsets: list[int] = []
        pending_cuts = list(cuts)
        while len(offsets) < TOTAL:
            if pending_cuts and len(offsets) >= pending_cuts[0]:
                pending_cuts.pop(0)
                reset(ws)
                last = offsets[-1] if offsets else 0
                ws, reply = await subscribe(url, topic, {"offset": last, "epoch": epoch})
                assert reply["recovered"] is True, reply
                assert reply["epoch"] == epoch
                continue
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert frame["op"] == "message", frame
            assert frame["offset"] == frame["data"]["n"]
            offsets.append(frame["offset"])
        await ws.close()
        publisher.join(60)
        return offsets

    offsets = asyncio.run(main())
    assert publishing_done.is_set()
    assert offsets == list(range(1, TOTAL + 1)), "gap, duplicate or reorder"


def test_a_position_older_than_the_history_is_not_recovered(server_with_history):
    api = API(server_with_history)
    for n in range(50):
        position = api.publish("short", {"n": n})
    api.close()

    async def main():
        url = server_with_history.ws_url("/ws")
        # The last 10 are kept: from 40 on, recovery is exact.
        ws, reply = await subscribe(url, "short", {"offset": 40, "epoch": position["epoch"]})
        assert reply["recovered"] is True and reply["offset"] == 50
        got = [json.loads(await asyncio.wait_for(ws.recv(), 5))["offset"] for _ in range(10)]
        assert got == list(range(41, 51))
        await ws.close()
        ws, reply = await subscribe(url, "short", {"offset": 39, "epoch": position["epoch"]})
        assert reply["recovered"] is False and reply["offset"] == 50
        await ws.close()

    asyncio.run(main())


def test_a_restart_starts_a_new_epoch(start_server, tmp_path):
    keys, _ = write_secrets(tmp_path)
    args = ("--api-key-file", str(keys), "--history", "*=100")
    first = start_server(*args)
    epoch = API(first).publish("epochs", {"n": 1})["epoch"]
    port = first.port
    first.stop()
    second = start_server(*args, port=port)
    API(second).publish("epochs", {"n": 1})

    async def main():
        ws, reply = await subscribe(second.ws_url("/ws"), "epochs", {"offset": 1, "epoch": epoch})
        assert reply["recovered"] is False and reply["epoch"] != epoch
        await ws.close()

    asyncio.run(main())


def test_many_topics_on_one_connection_and_unsubscribe(server_with_history):
    async def main():
        url = server_with_history.ws_url("/ws")
        async with connect(url) as ws:
            for index in range(100):
                await ws.send(json.dumps({"op": "subscribe", "topic": f"recov.t{index}", "id": index}))
            for index in range(100):
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert reply["op"] == "subscribed" and reply["id"] == index
            api = API(server_with_history)
            api.publish("recov.t42", "hello")
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {
                "op": "message", "topic": "recov.t42", "offset": 1, "data": "hello"}
            await ws.send(json.dumps({"op": "unsubscribe", "topic": "recov.t42"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["op"] == "unsubscribed"
            api.publish("recov.t42", "gone")
            api.publish("recov.t7", "still here")
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["topic"] == "recov.t7"
            # Binary messages use the binary framing.
            status, _, _ = api.call("POST", "/api/publish/recov.t7", b"\x00\x01\x02", content_type="application/octet-stream")
            assert status == 200
            frame = await asyncio.wait_for(ws.recv(), 5)
            assert frame == b"\x01" + (2).to_bytes(8, "big") + bytes([len("recov.t7")]) + b"recov.t7" + b"\x00\x01\x02"
            api.close()

    asyncio.run(main())


def test_bad_commands_get_errors_and_too_many_close_the_connection(server_with_history):
    async def main():
        url = server_with_history.ws_url("/ws")
        async with connect(url, max_size=None) as ws:
            cases = [
                ('{"op":"dance","topic":"a"}', 4000),
                ('{"op":"subscribe"}', 4000),
                ('{"op":"subscribe","topic":"bad name"}', 4001),
                ('not json', 4000),
                ('[1,2]', 4000),
                ('{"op":"unsubscribe","topic":"never"}', 4004),
                (json.dumps({"op": "publish", "topic": "a", "data": "x" * 70_000}), 4013),
            ]
            for text, code in cases:
                await ws.send(text)
                reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert reply["op"] == "error" and reply["code"] == code, (text[:40], reply)
                # A good command in between keeps the connection from the error limit.
                await ws.send(json.dumps({"op": "subscribe", "topic": f"ok{code}{len(text)}"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["op"] == "subscribed"
        # The limit (1,000 subscriptions a connection) is exact: the 1,001st is refused.
        async with connect(url) as ws:
            for index in range(1_001):
                await ws.send(json.dumps({"op": "subscribe", "topic": f"many.{index}"}))
            replies = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(1_001)]
            assert sum(1 for r in replies if r["op"] == "subscribed") == 1_000
            assert [r["code"] for r in replies if r["op"] == "error"] == [4009]
        # 10,000 subscribes on one connection: refused past the limit, and after eleven
        # refusals in a row the connection is closed with 1008.
        async with connect(url) as ws:
            for index in range(10_000):
                await ws.send(json.dumps({"op": "subscribe", "topic": f"many.{index}"}))
            replies = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            assert closed.value.rcvd.code == 1008
            errors = [r["code"] for r in replies if r["op"] == "error"]
            assert errors == [4009] * 11, errors
            assert sum(1 for r in replies if r["op"] == "subscribed") <= 1_000
        # A command that is not UTF-8 closes with 1007 (the WebSocket layer's rule for text).
        async with connect(url) as ws:
            await ws.send(b"\xff", text=True)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1007

    asyncio.run(main())


def test_recovered_messages_are_the_live_ones_byte_for_byte_with_and_without_deflate(server_with_history):
    """What a recovering client gets is what a live subscriber got, frame for frame: JSON,
    plain and escaped texts and binary messages, small and over the deflate threshold, to a
    client that compresses (permessage-deflate, offered by default) and to one that does not."""
    async def main():
        url = server_with_history.ws_url("/ws")
        api = API(server_with_history)
        live, reply = await subscribe(url, "recov.bytes")
        epoch = reply["epoch"]
        bodies = []
        for index in range(120):
            match index % 4:
                case 0: bodies.append((json.dumps({"n": index, "text": "abc " * (index * 5)}).encode(), "application/json"))
                case 1: bodies.append((f"plain {index} ".encode() * (index % 30 + 1), "text/plain"))
                case 2: bodies.append((f'say "hi"\n\t\\ {index}'.encode() * (index % 20 + 1), "text/plain"))
                case 3: bodies.append((bytes(range(256)) * (index % 9 + 1), "application/octet-stream"))
        for body, content_type in bodies:
            api.publish("recov.bytes", body, content_type=content_type)
        api.close()
        received = [await asyncio.wait_for(live.recv(), 10) for _ in bodies]
        await live.close()
        assert isinstance(received[3], bytes) and isinstance(received[0], str)
        for compression in ("deflate", None):
            async with connect(url, max_size=None, compression=compression) as ws:
                await ws.send(json.dumps({"op": "subscribe", "topic": "recov.bytes", "since": {"offset": 0, "epoch": epoch}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert reply["recovered"] is True, reply
                recovered = [await asyncio.wait_for(ws.recv(), 10) for _ in bodies]
                assert recovered == received, compression

    asyncio.run(main())
