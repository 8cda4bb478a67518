"""The HTTP/1.1 side of the real server: keep-alive, pipelining, HEAD, 405, closing.

Clients that no one here wrote (curl, Python's http.client) reuse one connection for
several requests; hand-made raw requests check pipelining and request framing.
Request bodies reaching a route are tested in the Swift tests (the server has no route
that takes a body yet); here a body sent to a GET-only page must still be framed
exactly, or the request after it on the same connection would be misread.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess

import pytest


def read_response(stream, head_request: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One response from a buffered socket file: status, lower-cased fields, body."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_request else int(headers.get("content-length", "0"))
    return status, headers, stream.read(length)


def raw_connection(server) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reuses_one_connection_for_several_requests(server):
    url = f"{server.base_url}/healthz"
    result = subprocess.run(
        ["curl", "-sv", "--keepalive", url, url, url], capture_output=True, timeout=20, check=True
    )
    assert result.stdout == b"ok\n" * 3
    log = result.stderr.decode("utf-8", "replace")
    assert log.count("Connected to") == 1, log
    assert "Re-using existing connection" in log, log
    assert "Connection: close" not in log, log


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_connection_close_is_honoured(server):
    url = f"{server.base_url}/healthz"
    result = subprocess.run(
        ["curl", "-sv", "-H", "Connection: close", url, url], capture_output=True, timeout=20, check=True
    )
    assert result.stdout == b"ok\n" * 2
    log = result.stderr.decode("utf-8", "replace")
    assert log.count("< Connection: close") == 2, log
    assert log.count("Connected to") == 2, log


def test_http_client_keeps_one_connection(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        sockets = []
        for path in ("/healthz", "/metrics", "/healthz", "/no-such-page"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == (404 if path == "/no-such-page" else 200)
            assert not response.will_close, path
            sockets.append(conn.sock)
        assert all(s is sockets[0] for s in sockets), "http.client reconnected"
    finally:
        conn.close()


def test_head_is_answered_without_a_body_on_a_kept_alive_connection(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request("HEAD", "/healthz")
        head = conn.getresponse()
        assert head.status == 200
        assert head.getheader("Content-Length") == "3"
        assert head.read() == b""
        # Any body after the HEAD's head would be read as this response.
        conn.request("GET", "/healthz")
        get = conn.getresponse()
        assert (get.status, get.read()) == (200, b"ok\n")
    finally:
        conn.close()


def test_post_to_a_page_is_405_with_allow(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request("POST", "/healthz", body=b"x" * 100)
        response = conn.getresponse()
        response.read()
        assert response.status == 405
        allowed = {m.strip() for m in response.getheader("Allow", "").split(",")}
        assert {"GET", "HEAD"} <= allowed, response.getheader("Allow")
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    requests = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n"
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with raw_connection(server) as sock:
        sock.sendall(requests)
        stream = sock.makefile("rb")
        answers = [read_response(stream, head_request=(index == 2)) for index in range(6)]
        assert [status for status, _, _ in answers] == [200, 404, 200, 405, 405, 200]
        assert answers[0][2] == b"ok\n" and answers[5][2] == b"ok\n"
        assert answers[5][1].get("connection") == "close"
        assert stream.read() == b"", "the server closed after the Connection: close request"


def test_http10_closes_after_the_response(server):
    with raw_connection(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        stream = sock.makefile("rb")
        status, headers, body = read_response(stream)
        assert (status, body, headers.get("connection")) == (200, b"ok\n", "close")
        assert stream.read() == b""


def test_smuggling_framing_is_refused_and_the_connection_closed(server):
    with raw_connection(server) as sock:
        sock.sendall(
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        stream = sock.makefile("rb")
        status, headers, _ = read_response(stream)
        assert status == 400 and headers.get("connection") == "close"
        assert stream.read() == b"", "the smuggled request was not answered"
