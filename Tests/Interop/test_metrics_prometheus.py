"""/metrics as Prometheus itself reads it: every family parses with prometheus_client, the
names and types are the documented ones, and the counters move as traffic flows."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from conftest import ServerProcess, http_get
from wsutil import run_async

# Name (without _total for counters: the parser strips it from the family) -> type.
EXPECTED = {
    "pushwave_connections_open": "gauge",
    "pushwave_connections_opened": "counter",
    "pushwave_messages_received": "counter",
    "pushwave_messages_sent": "counter",
    "pushwave_bytes_received": "counter",
    "pushwave_bytes_sent": "counter",
    "pushwave_messages_dropped": "counter",
    "pushwave_slow_consumers_closed": "counter",
    "pushwave_protocol_errors": "counter",
    "pushwave_deflate_messages_compressed": "counter",
    "pushwave_deflate_sent_bytes_before": "counter",
    "pushwave_deflate_sent_bytes_after": "counter",
    "pushwave_deflate_topic_compressions": "counter",
    "pushwave_deflate_messages_inflated": "counter",
    "pushwave_deflate_received_bytes_before": "counter",
    "pushwave_deflate_received_bytes_after": "counter",
    "pushwave_deflate_memory_bytes": "gauge",
    "pushwave_history_messages": "gauge",
    "pushwave_history_bytes": "gauge",
    "pushwave_history_trimmed_early": "counter",
}


@pytest.fixture
def server(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--threads", "2"], tmp_path / "server.log")
    srv.wait_healthy()
    yield srv
    srv.stop()


def scrape(srv) -> dict[str, object]:
    status, headers, body = http_get(srv.host, srv.port, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def sample(families, name: str, labels: dict[str, str] | None = None) -> float:
    """The value of the sample `name` (full sample name, e.g. with _total) with `labels`."""
    for family in families.values():
        for s in family.samples:
            if s.name == name and s.labels == (labels or {}):
                return s.value
    raise AssertionError(f"no sample {name}{labels or ''} in /metrics")


def test_every_metric_is_there_with_its_type(server):
    families = scrape(server)
    for name, kind in EXPECTED.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].type == kind, f"{name} is a {families[name].type}, expected {kind}"
    for family in families.values():
        if family.name.startswith("pushwave_"):
            assert family.type in ("counter", "gauge")


@run_async
async def test_counters_move_with_echo_traffic_and_rejected_handshakes(server):
    before = scrape(server)
    received = sample(before, "pushwave_messages_received_total")
    sent_bytes = sample(before, "pushwave_bytes_sent_total")
    opened = sample(before, "pushwave_connections_opened_total")
    async with connect(server.ws_url("/echo"), compression=None, open_timeout=20, ping_interval=None) as ws:
        for i in range(20):
            await ws.send(f"message {i}")
            assert await ws.recv() == f"message {i}"
        await asyncio.sleep(0.6)  # the other loop copies its counters every 250 ms
        assert sample(scrape(server), "pushwave_connections_open") >= 1
    await asyncio.sleep(0.6)
    after = scrape(server)
    assert sample(after, "pushwave_messages_received_total") >= received + 20
    assert sample(after, "pushwave_bytes_sent_total") >= sent_bytes + 20 * len("message 0")
    assert sample(after, "pushwave_connections_opened_total") >= opened + 1

    # A plain GET on a WebSocket path is refused with 426, counted by status.
    for _ in range(3):
        status, _, _ = http_get(server.host, server.port, "/echo")
        assert status == 426
    await asyncio.sleep(0.6)
    families = scrape(server)
    assert families["pushwave_handshake_failures"].type == "counter"
    first = sample(families, "pushwave_handshake_failures_total", {"status": "426"})
    assert first >= 3
    status, _, _ = http_get(server.host, server.port, "/echo")
    assert status == 426
    await asyncio.sleep(0.6)
    assert sample(scrape(server), "pushwave_handshake_failures_total", {"status": "426"}) >= first + 1
