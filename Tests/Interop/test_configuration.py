"""Settings from the command line, the environment (PUSHWAVE_ + the flag name upper-cased,
- as _) and a --config file of `name = value` lines: each source alone, the precedence flag >
environment > file > default, and a bad value in each source named with its source."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import REPO_ROOT, ServerProcess, free_port, http_get


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No PUSHWAVE_ setting leaks in from the environment running the tests."""
    harness = {"PUSHWAVE_BIN", "PUSHWAVE_LOAD_BIN", "PUSHWAVE_STARTUP_TIMEOUT", "PUSHWAVE_SHUTDOWN_TIMEOUT"}
    for name in list(os.environ):
        if name.startswith("PUSHWAVE_") and name not in harness:
            monkeypatch.delenv(name)


def listening_line(srv: ServerProcess) -> str:
    """The startup log line, which shows the settings in effect."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in srv.log_tail(20000).splitlines():
            if "pushwave listening" in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no 'pushwave listening' line in the log:\n{srv.log_tail()}")


def setting(line: str, key: str) -> str:
    match = re.search(rf"\b{key}=(\S+)", line)
    assert match, f"{key} missing from {line!r}"
    return match.group(1)


def start(pushwave_bin, tmp_path, args: list[str]) -> ServerProcess:
    srv = ServerProcess(pushwave_bin, args, tmp_path / "server.log")
    srv.wait_healthy()
    return srv


def reject(pushwave_bin, args: list[str], env: dict[str, str] | None = None) -> str:
    """Runs the binary expecting it to refuse its settings; returns standard error."""
    result = subprocess.run(
        [str(pushwave_bin), *args], capture_output=True, text=True, timeout=20,
        env={**os.environ, **(env or {})}, cwd=REPO_ROOT)
    assert result.returncode != 0, f"accepted: {args} {env}\n{result.stderr}"
    return result.stderr


def test_defaults(pushwave_bin, tmp_path):
    srv = start(pushwave_bin, tmp_path, [])
    try:
        line = listening_line(srv)
        assert setting(line, "threads") == "1"
        assert setting(line, "max_message_size") == str(1024 * 1024)
    finally:
        srv.stop()


def test_environment_alone(pushwave_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("PUSHWAVE_MAX_MESSAGE_SIZE", "4096")
    monkeypatch.setenv("PUSHWAVE_THREADS", "2")
    monkeypatch.setenv("PUSHWAVE_PING_INTERVAL", "7.5")
    srv = start(pushwave_bin, tmp_path, [])
    try:
        line = listening_line(srv)
        assert setting(line, "max_message_size") == "4096"
        assert setting(line, "threads") == "2"
        assert setting(line, "ping_interval_s") == "7.5"
    finally:
        srv.stop()


def test_file_alone_sets_host_and_port_too(pushwave_bin, tmp_path):
    port = free_port()
    config = tmp_path / "pushwave.conf"
    config.write_text(
        "# a comment\n\n"
        "host = 127.0.0.1\n"
        f"port = {port}\n"
        "max-message-size = 2048\n"
        "deflate = false\n"
        'log-level = "debug"\n'
        "history = news.*=100,60s\n"
        "history = chat.*=10\n")
    proc = subprocess.Popen(
        [str(pushwave_bin), "--config", str(config)], stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "wb"), cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if http_get("127.0.0.1", port, "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no /healthz on the file's port"
            time.sleep(0.05)
        log = (tmp_path / "server.log").read_text()
        assert "max_message_size=2048" in log
        # The quoted log level was unquoted, or the server would have refused it.
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_precedence_flag_over_environment_over_file(pushwave_bin, tmp_path, monkeypatch):
    config = tmp_path / "pushwave.conf"
    config.write_text("max-message-size = 1000\nthreads = 2\nidle-timeout = 30\n")
    monkeypatch.setenv("PUSHWAVE_MAX_MESSAGE_SIZE", "2000")
    monkeypatch.setenv("PUSHWAVE_IDLE_TIMEOUT", "40")
    srv = start(pushwave_bin, tmp_path, ["--config", str(config), "--idle-timeout", "50"])
    try:
        line = listening_line(srv)
        assert setting(line, "threads") == "2"  # file over default
        assert setting(line, "max_message_size") == "2000"  # environment over file
        assert setting(line, "idle_timeout_s") == "50.0"  # flag over environment and file
    finally:
        srv.stop()


def test_config_file_from_the_environment(pushwave_bin, tmp_path, monkeypatch):
    config = tmp_path / "pushwave.conf"
    config.write_text("max-message-size = 3000\n")
    monkeypatch.setenv("PUSHWAVE_CONFIG", str(config))
    srv = start(pushwave_bin, tmp_path, [])
    try:
        assert setting(listening_line(srv), "max_message_size") == "3000"
    finally:
        srv.stop()


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("PUSHWAVE_PORT", "abc", "'abc'"),
        ("PUSHWAVE_THREADS", "0", "--threads"),
        ("PUSHWAVE_LOG_LEVEL", "loud", "--log-level"),
        ("PUSHWAVE_DEFLATE", "maybe", "true or false"),
        ("PUSHWAVE_HISTORY", "news.*=lots", "--history"),
    ],
)
def test_bad_environment_value_names_the_variable(pushwave_bin, variable, value, expected):
    stderr = reject(pushwave_bin, [], {variable: value})
    assert f"environment variable {variable}" in stderr
    assert expected in stderr


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ("threads = 2\nport = 70000\n", 2, "--port"),
        ("\n# c\nmax-message-size = big\n", 3, "'big'"),
        ("raw-echo = perhaps\n", 1, "true or false"),
        ("no-such-setting = 1\n", 1, "unknown setting"),
        ("just words\n", 1, "NAME = value"),
        ("port = 1\nport = 2\n", 2, "already set on line 1"),
        ("api-key = secret\n", 1, "unknown setting"),  # secrets have no flag, so no file key
    ],
)
def test_bad_file_value_names_file_and_line(pushwave_bin, tmp_path, text, line, expected):
    config = tmp_path / "bad.conf"
    config.write_text(text)
    stderr = reject(pushwave_bin, ["--config", str(config)])
    assert f"{config}:{line}" in stderr
    assert expected in stderr


def test_bad_flag_is_blamed_on_the_flag_not_on_other_sources(pushwave_bin, tmp_path):
    config = tmp_path / "pushwave.conf"
    config.write_text("threads = 2\n")
    stderr = reject(pushwave_bin, ["--config", str(config), "--port", "70000"], {"PUSHWAVE_MAX_CONNECTIONS": "10"})
    assert "--port" in stderr
    assert "environment variable" not in stderr and str(config) not in stderr


def test_missing_config_file(pushwave_bin, tmp_path):
    stderr = reject(pushwave_bin, ["--config", str(tmp_path / "absent.conf")])
    assert "absent.conf" in stderr and "cannot read" in stderr


@pytest.mark.parametrize(
    "variable, value, args",
    [
        ("PUSHWAVE_THREADS", "zero", ["--threads", "1"]),
        ("PUSHWAVE_THREADS", "zero", ["--threads=1"]),
        ("PUSHWAVE_DEFLATE", "maybe", ["--no-deflate"]),
        ("PUSHWAVE_HISTORY", "news.*=lots", ["--history", "news.*=10"]),
    ],
)
def test_a_flag_hides_the_environment_value(pushwave_bin, tmp_path, monkeypatch, variable, value, args):
    # A bad value that a flag overrides is never looked at, whichever way the flag is written.
    monkeypatch.setenv(variable, value)
    srv = start(pushwave_bin, tmp_path, args)
    srv.stop()


def test_every_option_has_a_file_and_environment_name(pushwave_bin, tmp_path):
    """The settings the resolver knows are the options ArgumentParser knows: a new option
    without an entry in Settings.swift would be an unknown setting here."""
    dump = subprocess.run(
        [str(pushwave_bin), "--experimental-dump-help"], capture_output=True, text=True, timeout=20, check=True)
    lines = []
    for argument in json.loads(dump.stdout)["command"]["arguments"]:
        names = [n["name"] for n in argument.get("names", []) if n["kind"] == "long"]
        if not names or names[0] in ("help", "config", "no-deflate", "worker-index", "metrics-directory"):
            continue
        # Junk values: the file must be accepted as far as names go; a value error comes later.
        lines += [f"{names[0]} = junk"] * (2 if argument.get("isRepeating") else 1)
    assert len(lines) > 20
    config = tmp_path / "all.conf"
    config.write_text("\n".join(lines) + "\n")
    stderr = reject(pushwave_bin, ["--config", str(config)])
    assert "unknown setting" not in stderr and "already set" not in stderr, stderr
