"""pushwave-load itself. Stopped with Ctrl-C: the report covers what was measured until then, for
one process and for --processes (whose children are told by the parent); on a terminal,
--processes shows one progress line merged from its children. Push over --processes: every
child waits for the last message."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time

import pytest

from conftest import ServerProcess


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
