"""scripts/build-deployment end to end: the deployment build links the Swift runtime into the
executable, lays out the functions that start-up runs (valgrind is installed by the test
command), builds without warnings, and the executable it prints serves and shuts down
cleanly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from websockets.asyncio.client import connect

from conftest import REPO_ROOT, ServerProcess, http_get
from wsutil import run_async

SCRATCH = REPO_ROOT / ".build-deployment"


def build() -> tuple[Path, str]:
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-deployment"), "--scratch-path", str(SCRATCH)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return Path(result.stdout.strip().splitlines()[-1]), output


def test_the_deployment_build_serves_without_the_shared_swift_runtime(tmp_path):
    assert shutil.which("valgrind"), "the test command installs valgrind"
    binary, output = build()
    assert binary.is_file(), output[-4000:]
    warnings = [line for line in output.splitlines() if "warning:" in line]
    assert warnings == [], "\n".join(warnings)
    order = binary.parent / "pushwave.startup-order"
    # Start-up, /healthz and an /echo round trip run thousands of the executable's functions.
    assert len(order.read_text().splitlines()) > 1000

    server = ServerProcess(binary, ["--threads", "1"], tmp_path / "server.log")
    try:
        server.wait_healthy()
        mapped = Path(f"/proc/{server.pid}/maps").read_text()
        for library in ("libswiftCore.so", "libFoundationEssentials.so", "libdispatch.so"):
            assert library not in mapped, f"{library} is loaded: the runtime was not linked statically"
        status, _, body = http_get(server.host, server.port, "/healthz")
        assert status == 200, body

        @run_async(timeout=60)
        async def echo():
            async with connect(server.ws_url("/echo"), compression=None, ping_interval=None) as ws:
                for text in ("deployment", "ü" * 300):
                    await ws.send(text)
                    assert await ws.recv() == text
        echo()
    finally:
        server.stop()
