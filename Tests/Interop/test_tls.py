"""TLS on the server: `websockets` over `ssl`, `openssl s_client` (versions, ALPN, SNI, mTLS,
renegotiation) and the --tls-* options' errors. Certificates are made here with `openssl`."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import ServerProcess, free_port
from wsutil import run_async

MiB = 1024 * 1024


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def issue(directory: Path, name: str, subject: str, extension: str, key: list[str]) -> None:
    openssl("req", "-newkey", *key, "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    (directory / f"{name}.ext").write_text(extension + "\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=directory)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A test CA; localhost (ECDSA P-256) and other.test (RSA-2048) server certificates; a
    client certificate (CN=alice); a second, untrusted CA with a client certificate."""
    directory = tmp_path_factory.mktemp("certs")
    p256 = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl("req", "-x509", "-newkey", *p256, "-nodes", "-days", "2", "-subj", "/CN=Interop CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=directory)
    issue(directory, "localhost", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", p256)
    issue(directory, "other", "/CN=other.test", "subjectAltName=DNS:other.test", ["rsa:2048"])
    issue(directory, "alice", "/CN=alice/O=Interop", "extendedKeyUsage=clientAuth", p256)
    return directory


class TLSServerProcess(ServerProcess):
    """The server with --tls-*: health is polled over https."""

    def __init__(self, *args, ca: Path, client_cert: tuple[Path, Path] | None = None, **kwargs):
        self.ca = ca
        self.client_cert = client_cert
        super().__init__(*args, **kwargs)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if self.client_cert:
            context.load_cert_chain(str(self.client_cert[0]), str(self.client_cert[1]))
        return context

    def https_get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("localhost", self.port, timeout=timeout, context=self.ssl_context())
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited during startup with {self.proc.returncode}\n{self.log_tail()}", pytrace=False)
            try:
                if self.https_get("/healthz", timeout=1.0)[0] == 200:
                    return
            except (OSError, ssl.SSLError) as error:
                last_error = error
            time.sleep(0.05)
        self.stop(check=False)
        pytest.fail(f"no https /healthz within {timeout} s ({last_error})\n{self.log_tail()}", pytrace=False)

    def wss_url(self, path: str) -> str:
        return f"wss://localhost:{self.port}{path}"


@pytest.fixture
def start_tls(pushwave_bin, tmp_path, certs):
    started: list[TLSServerProcess] = []

    def _start(*extra: str, client_ca: bool = False) -> TLSServerProcess:
        args = ["--tls-cert", str(certs / "localhost.pem"), "--tls-key", str(certs / "localhost.key"),
                "--tls-cert", str(certs / "other.pem"), "--tls-key", str(certs / "other.key"), *extra]
        if client_ca:
            args += ["--tls-client-ca", str(certs / "ca.pem")]
        client_cert = (certs / "alice.pem", certs / "alice.key") if client_ca else None
        server = TLSServerProcess(pushwave_bin, args, tmp_path / f"tls-{len(started)}.log",
                                  ca=certs / "ca.pem", client_cert=client_cert)
        started.append(server)
        server.wait_healthy()
        return server

    yield _start
    problems = [p for p in (s.stop(check=False) for s in started) if p]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def s_client(port: int, *args: str, stdin: bytes = b"", timeout: float = 15.0) -> str:
    """Runs `openssl s_client` to the server, feeding `stdin`; its stdout and stderr."""
    # -ign_eof: read the answer to the end instead of quitting when stdin ends.
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", *args],
                            input=stdin, capture_output=True, timeout=timeout)
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


# ---------------------------------------------------------------------------
# websockets over ssl
# ---------------------------------------------------------------------------


@run_async
async def test_websockets_echo_over_tls(start_tls):
    # Messages up to 4 MiB: above the default --max-message-size (1 MiB).
    server = start_tls("--max-message-size", str(8 * MiB))
    sizes = [0, 1, 125, 126, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 65536, 200_000, 4 * MiB]
    async with connect(server.wss_url("/echo"), ssl=server.ssl_context(), max_size=16 * MiB,
                       compression=None, ping_interval=None) as ws:
        for size in sizes:
            payload = bytes((i * 7 + size) & 0xFF for i in range(size))
            await ws.send(payload)
            assert await ws.recv() == payload, f"{size} bytes"
        for index in range(500):
            await ws.send(f"message {index}")
        for index in range(500):
            assert await ws.recv() == f"message {index}"


@run_async
async def test_fragmented_message_and_close_code_over_tls(start_tls):
    server = start_tls()
    async with connect(server.wss_url("/echo"), ssl=server.ssl_context(), compression=None, ping_interval=None) as ws:
        fragments = [bytes([n]) * 20_000 for n in range(5)]
        await ws.send(fragments)
        assert await ws.recv() == b"".join(fragments)
        await ws.close(code=4001, reason="done")
    assert ws.close_code == 4001


@run_async
async def test_an_untrusted_client_refuses_the_server(start_tls):
    server = start_tls()
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(server.wss_url("/echo"), ssl=ssl.create_default_context(), open_timeout=5):
            pass
    assert server.https_get("/healthz")[0] == 200


# ---------------------------------------------------------------------------
# openssl s_client
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_versions(start_tls, certs, version):
    server = start_tls()
    out = s_client(server.port, version, "-CAfile", str(certs / "ca.pem"), "-servername", "localhost", stdin=HEALTHZ)
    expected = "TLSv1.2" if version == "-tls1_2" else "TLSv1.3"
    assert f"New, {expected}" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert "HTTP/1.1 200" in out, out


def test_alpn_h2_and_http11_gets_http11_and_h2_alone_gets_none(start_tls, certs):
    server = start_tls()
    out = s_client(server.port, "-alpn", "h2,http/1.1", "-CAfile", str(certs / "ca.pem"), stdin=HEALTHZ)
    assert "ALPN protocol: http/1.1" in out, out
    assert "HTTP/1.1 200" in out, out
    out = s_client(server.port, "-alpn", "h2", "-CAfile", str(certs / "ca.pem"), stdin=HEALTHZ)
    assert "No ALPN negotiated" in out, out
    assert "HTTP/1.1 200" in out, out


def test_sni_picks_the_certificate(start_tls, certs):
    server = start_tls()
    out = s_client(server.port, "-servername", "other.test", "-CAfile", str(certs / "ca.pem"), stdin=HEALTHZ)
    assert "subject=CN = other.test" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    out = s_client(server.port, "-servername", "localhost", stdin=HEALTHZ)
    assert "subject=CN = localhost" in out, out
    out = s_client(server.port, "-noservername", stdin=HEALTHZ)
    assert "subject=CN = localhost" in out, "the first certificate is the default"


def test_mtls_accepts_a_client_certificate_and_refuses_none(start_tls, certs):
    server = start_tls(client_ca=True)
    request = b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    out = s_client(server.port, "-CAfile", str(certs / "ca.pem"), "-cert", str(certs / "alice.pem"),
                   "-key", str(certs / "alice.key"), stdin=HEALTHZ)
    assert "HTTP/1.1 200" in out, out
    for version in ["-tls1_2", "-tls1_3"]:
        out = s_client(server.port, version, "-CAfile", str(certs / "ca.pem"), stdin=HEALTHZ)
        assert "HTTP/1.1 200" not in out, out
        assert "alert" in out.lower(), out
    assert server.https_get("/healthz")[0] == 200


def test_renegotiation_is_refused_cleanly(start_tls, certs):
    server = start_tls()
    proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_2",
                             "-CAfile", str(certs / "ca.pem")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)
        assert proc.stdin is not None
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        time.sleep(1.0)
        try:
            proc.stdin.write(HEALTHZ)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert "RENEGOTIATING" in text, text
    # Refused: the renegotiation never completes (no second handshake is reported, the
    # server sends no_renegotiation and the client gives up), and the server stays healthy.
    assert text.count("Verify return code: 0 (ok)") <= 1 or "no renegotiation" in text.lower(), text
    assert server.https_get("/healthz")[0] == 200


def test_plaintext_on_the_tls_port_gets_no_plaintext_answer(start_tls):
    server = start_tls()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    assert not data.startswith(b"HTTP"), data
    assert server.https_get("/healthz")[0] == 200


# ---------------------------------------------------------------------------
# The --tls-* options
# ---------------------------------------------------------------------------


def run_cli(pushwave_bin, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(pushwave_bin), "--port", str(free_port()), *args], capture_output=True, timeout=20)


def test_bad_tls_files_exit_with_a_message(pushwave_bin, certs, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = {
        "missing": (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(certs / "localhost.key")], "missing.pem"),
        "garbage": (["--tls-cert", str(garbage), "--tls-key", str(certs / "localhost.key")], "certificate"),
        "mismatch": (["--tls-cert", str(certs / "localhost.pem"), "--tls-key", str(certs / "other.key")], "does not match"),
        "no key": (["--tls-cert", str(certs / "localhost.pem")], "--tls-key"),
    }
    for name, (args, expected) in cases.items():
        result = run_cli(pushwave_bin, *args)
        message = result.stderr.decode(errors="replace")
        assert result.returncode not in (0, -signal.SIGSEGV, -signal.SIGILL, -signal.SIGTRAP), f"{name}: {message}"
        assert result.returncode > 0, f"{name}: exit {result.returncode}: {message}"
        assert expected in message, f"{name}: {message}"


def test_an_expired_certificate_exits_with_a_message(pushwave_bin, certs, tmp_path):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=expired",
            "-keyout", "expired.key", "-out", "expired.csr", cwd=tmp_path)
    # `openssl ca` can backdate a certificate (req and x509 cannot in OpenSSL 3.0).
    (tmp_path / "index.txt").write_text("")
    (tmp_path / "ca.cnf").write_text(
        "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
        "default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n")
    (tmp_path / "serial").write_text("01\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", str(certs / "ca.pem"), "-keyfile", str(certs / "ca.key"),
            "-in", "expired.csr", "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
            "-notext", cwd=tmp_path)
    result = run_cli(pushwave_bin, "--tls-cert", str(tmp_path / "expired.pem"), "--tls-key", str(tmp_path / "expired.key"))
    message = result.stderr.decode(errors="replace")
    assert result.returncode > 0, message
    assert "expired" in message, message


@run_async
async def test_sighup_reloads_the_certificate_and_keeps_connections(start_tls, certs, tmp_path):
    # The server reads its files from copies that the test swaps before SIGHUP.
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    cert.write_bytes((certs / "localhost.pem").read_bytes())
    key.write_bytes((certs / "localhost.key").read_bytes())
    server = TLSServerProcess(
        Path(os.environ.get("PUSHWAVE_BIN", "")) if os.environ.get("PUSHWAVE_BIN") else
        Path(__file__).resolve().parent.parent.parent / ".build/debug/pushwave",
        ["--tls-cert", str(cert), "--tls-key", str(key)], tmp_path / "reload.log", ca=certs / "ca.pem")
    try:
        server.wait_healthy()
        async with connect(server.wss_url("/echo"), ssl=server.ssl_context(), ping_interval=None) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            cert.write_bytes((certs / "other.pem").read_bytes())
            key.write_bytes((certs / "other.key").read_bytes())
            os.kill(server.pid, signal.SIGHUP)
            await asyncio.sleep(0.5)
            out = s_client(server.port, "-noservername", stdin=HEALTHZ)
            assert "subject=CN = other.test" in out, out
            await ws.send("after")
            assert await ws.recv() == "after", "the open connection survived the reload"
    finally:
        problem = server.stop(check=False)
    assert problem is None, problem


def test_sighup_with_1000_clients_connected_drops_none(start_tls, pushwave_load_bin, certs):
    """1,000 wss:// connections held by pushwave-load across a reload: none is closed."""
    server = start_tls()
    holder = subprocess.Popen(
        [str(pushwave_load_bin), "connect", "--url", f"wss://localhost:{server.port}/echo", "--ca", str(certs / "ca.pem"),
         "--connections", "1000", "--threads", "1", "--duration", "6", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = server.https_get("/metrics")
            open_now = [line for line in body.decode().splitlines() if line.startswith("pushwave_connections_open ")]
            if status == 200 and open_now and float(open_now[0].split()[1]) >= 1000:
                break
            time.sleep(0.2)
        else:
            pytest.fail("1,000 connections did not open")
        os.kill(server.pid, signal.SIGHUP)
        stdout, stderr = holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert holder.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["connected"] == 1000 and report["error_total"] == 0, report
    assert "TLS certificates reloaded" in server.log_tail()
