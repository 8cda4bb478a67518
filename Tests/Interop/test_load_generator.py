"""pushwave-load itself. Stopped with Ctrl-C: the report covers what was measured until then, for
one process and for --processes (whose children are told by the parent); on a terminal,
--processes shows one progress line merged from its children. Push over --processes: every
child waits for the last message. The HTTP publisher (publish mode, push over an http://
--publish-url) against a real server: its counts match what a subscriber received and what
the server counted, and a wrong key is counted as 401s. Connection tokens (PyJWT) on connect."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time

import pytest

from conftest import ServerProcess
from pushutil import API, API_KEY, token, write_secrets


@pytest.fixture
def echo_server(pushwave_bin, tmp_path):
    srv = ServerProcess(pushwave_bin, ["--threads", "1"], tmp_path / "server.log")
    srv.wait_healthy()
    yield srv
    srv.stop()


def last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    pytest.fail(f"no JSON report on stdout:\n{stdout}", pytrace=False)


@pytest.mark.parametrize("processes", [1, 2])
def test_sigint_ends_the_run_with_the_report_so_far(pushwave_load_bin, echo_server, processes):
    cmd = [
        str(pushwave_load_bin), "echo", "--url", echo_server.ws_url("/echo"), "--connections", "10",
        "--threads", "1", "--processes", str(processes), "--duration", "60", "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15, "the run did not end soon after SIGINT"
    assert proc.returncode == 0, stderr
    report = last_json(stdout)
    assert report["interrupted"] is True
    assert report["processes"] == processes
    assert report["connections"] == 10
    assert 0.5 < report["duration_s"] < 10, report["duration_s"]
    assert report["messages"] > 0 and report["error_total"] == 0, report
    # The rate is over the time measured, not the 60 s asked for.
    assert report["messages_per_second"] == pytest.approx(report["messages"] / report["duration_s"], rel=0.01)
    assert "interrupted" in stderr


def test_processes_show_one_merged_progress_line_on_a_terminal(pushwave_load_bin, echo_server):
    # Progress goes to standard error when standard output is a terminal: give it a pty.
    leader, follower = pty.openpty()
    cmd = [
        str(pushwave_load_bin), "echo", "--url", echo_server.ws_url("/echo"), "--connections", "8",
        "--threads", "1", "--processes", "2", "--duration", "3",
    ]
    proc = subprocess.Popen(cmd, stdout=follower, stderr=subprocess.PIPE, text=True)
    os.close(follower)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    assert proc.returncode == 0, stderr
    progress = [line for line in stderr.splitlines() if line.endswith("(2 processes)")]
    assert progress, stderr
    # "  1 s  12,345 msg/s  errors 0  (2 processes)": a rate summed over both children.
    rates = [int(line.split()[2].replace(",", "")) for line in progress]
    assert max(rates) > 0, progress
    assert "PROGRESS" not in stderr


def test_push_over_processes_waits_for_the_last_message_in_every_child(pushwave_load_bin, echo_server):
    """A child without a publisher must wait until the schedule's last message is due (plus
    the grace), not 2 s after it starts: with a 3 s schedule it used to stop early and count
    the subscribers' last messages as lost."""
    cmd = [
        str(pushwave_load_bin), "push", "--url", echo_server.ws_url("/topics/generator"), "--subscribers", "200",
        "--publishers", "1", "--rate", "10", "--messages", "30", "--threads", "1", "--processes", "2", "--json",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["processes"] == 2
    assert report["deliveries"] == report["expected_deliveries"] == 200 * 30, report
    assert report["error_total"] == 0, report


@pytest.mark.parametrize("binary", [False, True])
def test_push_with_ws_subscribers_reads_every_envelope(pushwave_load_bin, echo_server, binary):
    """--protocol ws: subscribers speak /ws (subscribe, then envelopes) while the publisher
    publishes on the raw topic URL; every subscriber gets every message, none mismatched."""
    cmd = [
        str(pushwave_load_bin), "push", "--url", echo_server.ws_url("/topics/generator"), "--protocol", "ws",
        "--subscribers", "50", "--rate", "200", "--messages", "100", "--size", "64", "--threads", "1", "--json",
    ] + (["--binary"] if binary else [])
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["deliveries"] == report["expected_deliveries"] == 50 * 100, report
    assert report["error_total"] == 0, report


def test_push_with_ws_subscribers_needs_a_topic_url(pushwave_load_bin, echo_server):
    cmd = [str(pushwave_load_bin), "push", "--url", echo_server.ws_url("/echo"), "--protocol", "ws", "--messages", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--protocol ws needs a --url of a topic" in result.stderr


def test_recover_reports_every_client_caught_up(pushwave_load_bin, pushwave_bin, tmp_path):
    """recover: 20 PushClients come back at once with since and each gets the 500 messages
    it missed; the server's CPU time is read from /proc/PID/stat."""
    srv = ServerProcess(pushwave_bin, ["--threads", "1", "--history", "rec=500"], tmp_path / "server.log")
    srv.wait_healthy()
    try:
        cmd = [
            str(pushwave_load_bin), "recover", "--url", srv.ws_url("/ws"), "--topic", "rec", "--clients", "20",
            "--missed", "500", "--server-pid", str(srv.proc.pid), "--json",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        report = last_json(result.stdout)
        assert report["caught_up"] == 20 and report["delivered"] == 20 * 500 and report["resets"] == 0, report
        assert report["server_cpu_s"] >= 0, report
    finally:
        srv.stop()


# --- HTTP publishing and tokens ---------------------------------------------------------------


@pytest.fixture
def api_server(pushwave_bin, tmp_path):
    keys, secrets = write_secrets(tmp_path)
    # A history for every topic, so that its offset counts the publications it took.
    srv = ServerProcess(pushwave_bin, ["--threads", "1", "--api-key-file", str(keys), "--history", "*=10"],
                        tmp_path / "api-server.log")
    srv.wait_healthy()
    srv.secrets = secrets
    yield srv
    srv.stop()


def run_load(pushwave_load_bin, args: list[str], env: dict[str, str] | None = None, timeout: float = 60):
    environment = {k: v for k, v in os.environ.items() if k not in ("PUSHWAVE_API_KEY", "PUSHWAVE_LOAD_TOKEN")}
    environment.update(env or {})
    return subprocess.run([str(pushwave_load_bin), *args], capture_output=True, text=True, timeout=timeout, env=environment)


def topic_offset(server, topic: str) -> int:
    api = API(server)
    try:
        status, _, body = api.call("GET", f"/api/topics/{topic}")
        assert status == 200, body
        return json.loads(body)["offset"]
    finally:
        api.close()


def test_publish_counts_match_the_subscriber_and_the_server(pushwave_load_bin, api_server):
    """publish --count over 4 pipelined keep-alive connections: every 200 it reports reached
    the subscriber, and the topic's offset (the server's count of publications) agrees."""
    from websockets.sync.client import connect as ws_connect

    with ws_connect(api_server.ws_url("/topics/loadpub"), max_queue=None) as subscriber:
        result = run_load(pushwave_load_bin, [
            "publish", "--url", f"{api_server.base_url}/api/publish/loadpub", "--connections", "4",
            "--pipeline", "8", "--count", "3000", "--size", "64", "--threads", "1", "--json",
        ], env={"PUSHWAVE_API_KEY": API_KEY})
        assert result.returncode == 0, result.stderr
        report = last_json(result.stdout)
        assert report["statuses"] == {"200": 3000}, report
        assert report["answered_200"] == report["messages"] == report["published"] == 3000, report
        assert report["error_total"] == 0 and report["connections"] == 4, report
        assert report["latency_us"]["count"] == 3000 and report["publishes_per_second"] > 0, report
        received = 0
        while received < 3000:
            message = subscriber.recv(timeout=10)
            assert isinstance(message, str) and len(message) == 64, message
            received += 1
        with pytest.raises(TimeoutError):
            subscriber.recv(timeout=0.3)  # nothing more than was reported
    assert topic_offset(api_server, "loadpub") == 3000


def test_publish_counts_401_when_the_key_is_wrong(pushwave_load_bin, api_server):
    result = run_load(pushwave_load_bin, [
        "publish", "--url", f"{api_server.base_url}/api/publish/refused", "--connections", "2", "--count", "50",
        "--threads", "1", "--json",
    ], env={"PUSHWAVE_API_KEY": "not-the-key"})
    assert result.returncode == 1, "401s are errors"
    report = last_json(result.stdout)
    assert report["statuses"] == {"401": 50}, report
    assert report["errors"]["http_status"] == 50 and report["messages"] == 0, report
    assert "401: 50" in result.stderr
    assert topic_offset(api_server, "refused") == 0


def test_publish_needs_the_key_in_the_environment(pushwave_load_bin, api_server):
    result = run_load(pushwave_load_bin, ["publish", "--url", f"{api_server.base_url}/api/publish/x", "--count", "1"])
    assert result.returncode != 0
    assert "PUSHWAVE_API_KEY" in result.stderr


def test_push_over_http_reaches_every_subscriber(pushwave_load_bin, api_server):
    """push with an http:// --publish-url: each message is an HTTP publish, and every one of
    the 50 subscribers checks it arrived, in order; fanout_ms spans request to last delivery."""
    result = run_load(pushwave_load_bin, [
        "push", "--url", api_server.ws_url("/topics/httpfan"), "--publish-url", f"{api_server.base_url}/api/publish/httpfan",
        "--subscribers", "50", "--publishers", "2", "--rate", "2000", "--messages", "400", "--threads", "1", "--json",
    ], env={"PUSHWAVE_API_KEY": API_KEY})
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["published"] == 400 and report["deliveries"] == report["expected_deliveries"] == 50 * 400, report
    assert report["error_total"] == 0 and report["fanout_ms"] > 0, report
    assert topic_offset(api_server, "httpfan") == 400


@pytest.fixture
def token_server(pushwave_bin, tmp_path):
    _, secrets = write_secrets(tmp_path)
    srv = ServerProcess(pushwave_bin, ["--threads", "1", "--token-secret-file", str(secrets)], tmp_path / "token-server.log")
    srv.wait_healthy()
    yield srv
    srv.stop()


@pytest.mark.parametrize("placement", ["header", "query"])
def test_connect_presents_a_token(pushwave_load_bin, token_server, tmp_path, placement):
    """connect --in-flight against a server that requires tokens: with a PyJWT token (from
    the environment, or a file) all connections open; the report gives handshakes/s."""
    url = token_server.ws_url("/topics/tok")
    args = ["connect", "--url", url, "--connections", "40", "--in-flight", "8", "--duration", "0",
            "--threads", "1", "--token-in", placement, "--json"]
    valid = token(["tok"])
    if placement == "query":
        token_file = tmp_path / "token"
        token_file.write_text(valid + "\n")
        result = run_load(pushwave_load_bin, args + ["--token-file", str(token_file)])
    else:
        result = run_load(pushwave_load_bin, args, env={"PUSHWAVE_LOAD_TOKEN": valid})
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["connected"] == 40 and report["error_total"] == 0, report
    assert report["handshakes_per_second"] > 0 and report["setup_s"] > 0, report


def test_connect_without_a_valid_token_is_refused(pushwave_load_bin, token_server):
    args = ["connect", "--url", token_server.ws_url("/topics/tok"), "--connections", "10", "--in-flight", "4",
            "--duration", "0", "--threads", "1", "--max-errors", "100", "--json"]
    for env in ({}, {"PUSHWAVE_LOAD_TOKEN": token(["other"])}, {"PUSHWAVE_LOAD_TOKEN": token(["tok"], secret="x" * 40)}):
        result = run_load(pushwave_load_bin, args, env=env)
        report = last_json(result.stdout)
        assert report["connected"] == 0 and report["errors"]["handshake_failed"] == 10, (env, report)


@pytest.mark.parametrize("placement", ["header", "query"])
def test_push_with_a_token_reaches_ws_and_raw_connections(pushwave_load_bin, token_server, placement):
    """push --protocol ws against a server that requires tokens: the token (allowed to
    subscribe and publish to the topic) goes with the raw publisher and with the /ws
    subscribers, in the header or in the query; every message arrives."""
    result = run_load(pushwave_load_bin, [
        "push", "--url", token_server.ws_url("/topics/tok"), "--protocol", "ws", "--token-in", placement,
        "--subscribers", "20", "--rate", "500", "--messages", "50", "--threads", "1", "--json",
    ], env={"PUSHWAVE_LOAD_TOKEN": token(["tok"], publish=["tok"])})
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["deliveries"] == report["expected_deliveries"] == 20 * 50 and report["error_total"] == 0, report


@pytest.mark.parametrize("path", ["/echo", "/topics/leaving"])
def test_connect_measure_close_sees_every_answer(pushwave_load_bin, echo_server, path):
    """connect --measure-close: 400 connections send their close frames at once (more than
    one loop iteration answers), and every one gets the server's 1000 and then its FIN."""
    result = run_load(pushwave_load_bin, [
        "connect", "--url", echo_server.ws_url(path), "--connections", "400", "--in-flight", "64",
        "--duration", "0.5", "--threads", "1", "--measure-close", "--close-timeout", "60", "--json"])
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["connected"] == 400 and report["error_total"] == 0, report
    assert report["closes_started"] == 400 and report["clean_closes"] == 400, report
    assert report["closes_per_second"] > 0, report
