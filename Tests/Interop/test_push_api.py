"""The publish API (POST /api/publish/NAME, /api/broadcast, GET /api/topics/NAME) with real
HTTP clients (Python http.client, curl, raw sockets), and connection tokens minted by PyJWT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, ConnectionClosed

from pushutil import API, API_KEY, TOKEN_SECRET, token, write_secrets


@pytest.fixture
def secured(start_server, tmp_path):
    keys, secrets = write_secrets(tmp_path)
    server = start_server("--api-key-file", str(keys), "--token-secret-file", str(secrets), "--threads", "2",
                          "--history", "hist.*=100")
    server.key_file = keys
    return server


def test_without_a_key_the_api_answers_403(start_server):
    server = start_server()
    api = API(server, key=None)
    status, _, body = api.call("POST", "/api/publish/news", b"{}")
    assert status == 403, body
    api.close()


def test_missing_and_wrong_keys_get_401(secured):
    api = API(secured, key=None)
    status, headers, _ = api.call("POST", "/api/publish/news", b"{}")
    assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"
    api.key = "wrong-key"
    status, _, _ = api.call("POST", "/api/publish/news", b"{}")
    assert status == 401
    api.key = API_KEY
    status, _, body = api.call("GET", "/api/topics/news")
    assert status == 200 and json.loads(body)["subscribers"] == 0
    api.close()


def test_refusals(secured):
    api = API(secured)
    status, _, _ = api.call("POST", "/api/publish/bad%20name", b"{}")
    assert status == 400
    status, _, _ = api.call("POST", "/api/publish/news", b"\xff\xfe", content_type="text/plain")
    assert status == 400, "invalid UTF-8 in a text publish"
    status, headers, _ = api.call("GET", "/api/publish/news")
    assert status == 405 and "POST" in headers.get("Allow", "")
    api.close()
    # Over the body limit (1 MiB by default): 413 as soon as the head says so, before any body.
    head = (f"POST /api/publish/news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {(1 << 20) + 1}\r\n\r\n").encode()
    with socket.create_connection((secured.host, secured.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 "), "an oversized body is refused at once"


def test_a_revoked_key_stops_working_after_sighup(secured):
    api = API(secured)
    assert api.publish("news", {"n": 1})["offset"] == 1
    secured.key_file.write_text("another-key-entirely-0123456789\n")
    os.kill(secured.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, _, _ = api.call("POST", "/api/publish/news", b"{}")
        if status == 401:
            break
        time.sleep(0.1)
    assert status == 401, "the revoked key still worked after SIGHUP"
    api.key = "another-key-entirely-0123456789"
    assert api.call("POST", "/api/publish/news", b"{}")[0] == 200
    api.close()


def test_curl_chunked_and_pipelined_publishes(secured):
    result = subprocess.run(
        ["curl", "-s", "-H", f"Authorization: Bearer {API_KEY}", "-H", "Transfer-Encoding: chunked",
         "-H", "Content-Type: text/plain", "--data-binary", "@-", f"{secured.base_url}/api/publish/chunky"],
        input=b"hello chunks", capture_output=True, timeout=20, check=True)
    assert json.loads(result.stdout)["offset"] == 1
    # Three publishes pipelined in one write on a raw socket, answered in order.
    request = (f"POST /api/publish/piped HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
               "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi").encode()
    with socket.create_connection((secured.host, secured.port), timeout=10) as sock:
        sock.sendall(request * 3)
        received = b""
        while received.count(b'"offset"') < 3:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {received!r}"
            received += chunk
    offsets = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"\n")[0])["offset"]
               for part in received.split(b"HTTP/1.1 ")[1:]]
    assert offsets == [1, 2, 3]


def test_ten_thousand_publishes_over_keep_alive_arrive_in_order_on_every_loop(secured):
    count = 10_000
    subscriber_token = token(["load"])

    async def subscriber(ready: asyncio.Event, received: list[int]):
        async with connect(f"{secured.ws_url('/ws')}?token={subscriber_token}", max_size=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "topic": "load"}))
            assert json.loads(await ws.recv())["op"] == "subscribed"
            ready.set()
            while len(received) < count:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                received.append(frame["data"]["n"])

    async def main():
        # Several subscribers: with --threads 2 the kernel spreads them over both loops.
        lists = [[] for _ in range(6)]
        events = [asyncio.Event() for _ in lists]
        tasks = [asyncio.create_task(subscriber(e, r)) for e, r in zip(events, lists)]
        for event in events:
            await asyncio.wait_for(event.wait(), 10)

        def publish_all():
            api = API(secured)
            for n in range(count):
                api.publish("load", {"n": n})
            api.close()
        await asyncio.to_thread(publish_all)
        await asyncio.gather(*tasks)
        return lists

    for received in asyncio.run(main()):
        assert received == list(range(count))


def test_tokens_minted_by_pyjwt(secured):
    async def status_of(path: str, bearer: str | None = None, query: str | None = None) -> int:
        url = secured.ws_url(path) + (f"?token={query}" if query else "")
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        try:
            async with connect(url, additional_headers=headers):
                return 101
        except InvalidStatus as error:
            return error.response.status_code

    async def main():
        assert await status_of("/ws") == 401, "no token"
        assert await status_of("/ws", query=token(["a"])) == 101
        assert await status_of("/ws", bearer=token(["a"])) == 101
        assert await status_of("/ws", query=token(["a"], expires_in=-120)) == 401, "expired"
        assert await status_of("/ws", query=token(["a"], secret="another-secret-0123456789-0123456789")) == 401
        assert await status_of("/ws", query=token(["a"], algorithm="HS512")) == 401
        unsigned = jwt.encode({"topics": ["a"]}, None, algorithm="none")
        assert await status_of("/ws", query=unsigned) == 401, "alg none"
        good = token(["a"])
        header, payload, signature = good.split(".")
        tampered = jwt.utils.base64url_encode(json.dumps({"topics": ["*"], "exp": int(time.time()) + 60}).encode()).decode()
        assert await status_of("/ws", query=f"{header}.{tampered}.{signature}") == 401, "tampered claims"
        assert await status_of("/topics/news", query=token(["sports.*"])) == 403, "topic not allowed"
        assert await status_of("/topics/sports.eu", query=token(["sports.*"])) == 101

        # On /ws: subscribe outside the token → error 4003; publishing without permission too.
        async with connect(f"{secured.ws_url('/ws')}?token={token(['sports.*'])}") as ws:
            await ws.send(json.dumps({"op": "subscribe", "topic": "news", "id": 7}))
            reply = json.loads(await ws.recv())
            assert reply["op"] == "error" and reply["code"] == 4003 and reply["id"] == 7, reply
            await ws.send(json.dumps({"op": "publish", "topic": "sports.eu", "data": 1}))
            reply = json.loads(await ws.recv())
            assert reply["op"] == "error" and reply["code"] == 4003, reply
        # A raw socket publishing where the token does not allow it is closed with 4403.
        async with connect(f"{secured.ws_url('/topics/sports.eu')}?token={token(['sports.*'])}") as ws:
            await ws.send("not allowed")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 4403
        # With a publish claim it works, and the message reaches /ws subscribers.
        async with connect(f"{secured.ws_url('/ws')}?token={token(['sports.*'])}") as sub, \
                connect(f"{secured.ws_url('/topics/sports.eu')}?token={token(['sports.*'], publish=['sports.*'])}") as pub:
            await sub.send(json.dumps({"op": "subscribe", "topic": "sports.eu"}))
            assert json.loads(await sub.recv())["op"] == "subscribed"
            await pub.send('{"goal":1}')
            message = json.loads(await asyncio.wait_for(sub.recv(), 5))
            assert message == {"op": "message", "topic": "sports.eu", "offset": 1, "data": {"goal": 1}}
        # A token that expires while connected closes the connection with 4401.
        async with connect(f"{secured.ws_url('/ws')}?token={token(['a'], expires_in=-29)}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 4401

    asyncio.run(main())
