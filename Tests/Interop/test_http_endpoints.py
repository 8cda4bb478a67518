"""Plain HTTP endpoints and handshake rejection."""

from __future__ import annotations

from conftest import http_get
from wsutil import RawWebSocket


def test_healthz(server):
    status, _, _ = http_get(server.host, server.port, "/healthz")
    assert status == 200


def test_chat_page_is_served(server):
    status, headers, body = http_get(server.host, server.port, "/")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/html"), headers
    page = body.decode("utf-8")
    for element_id in ("name", "message", "send", "messages", "state"):
        assert f'id="{element_id}"' in page, f"chat page lacks #{element_id}"
    # Served whole by the server: no script, stylesheet or font from elsewhere; its one
    # script is the server's own client library.
    assert "<link" not in page
    assert [line.strip() for line in page.splitlines() if "<script src" in line] == ['<script src="/pushwave.js"></script>']
    status, headers, script = http_get(server.host, server.port, "/pushwave.js")
    assert status == 200 and headers.get("content-type", "").startswith("text/javascript"), headers
    assert b"PushwaveClient" in script


def test_unknown_path_is_404(server):
    status, _, _ = http_get(server.host, server.port, "/no-such-page")
    assert status == 404


def test_upgrade_without_key_is_rejected(server):
    ws = RawWebSocket(server.host, server.port, "/echo")
    try:
        status, _ = ws.request_upgrade(headers={"Sec-WebSocket-Key": None})
        assert 400 <= status < 500, f"handshake without Sec-WebSocket-Key answered {status}"
    finally:
        ws.close_socket()


def test_upgrade_with_unsupported_version_is_rejected(server):
    ws = RawWebSocket(server.host, server.port, "/echo")
    try:
        status, headers = ws.request_upgrade(headers={"Sec-WebSocket-Version": "8"})
        assert 400 <= status < 500, f"handshake with version 8 answered {status}"
        # RFC 6455 4.4: the reply names the versions the server supports.
        assert "13" in headers.get("sec-websocket-version", ""), headers
    finally:
        ws.close_socket()
