"""The chat page in a real headless Chromium, driven over the Chrome DevTools Protocol.

Chromium (Debian package `chromium`, or CHROMIUM_BIN) is started with
--remote-debugging-port=0; the port it picked is read from DevToolsActivePort in
its profile folder, and the browser-wide DevTools WebSocket is driven with the
`websockets` client itself. Two pages load the chat page from the server; a
message typed in one must show up in both. A screenshot of the receiving page is
written to Tests/Interop/artifacts/chat.png.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from conftest import ARTIFACTS_DIR
from wsutil import run_async

BROWSER_START_TIMEOUT = 30.0
STATE_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 5.0


def chromium_binary() -> str:
    configured = os.environ.get("CHROMIUM_BIN")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            pytest.fail(f"CHROMIUM_BIN={configured} is not an executable file", pytrace=False)
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium not found: run scripts/install-test-deps.sh (apt package 'chromium') or set CHROMIUM_BIN", pytrace=False)


class Browser:
    """A headless Chromium process, stopped by PID."""

    def __init__(self, binary: str, extra_args: tuple[str, ...] = ()):
        self.profile = Path(tempfile.mkdtemp(prefix="pushwave-chromium-"))
        self.log_path = self.profile / "chromium.log"
        self._log = open(self.log_path, "wb")
        args = [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--disable-dev-shm-usage",
            "--window-size=900,700",
            *extra_args,
            "about:blank",
        ]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_bytes()[-3000:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def devtools_url(self) -> str:
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + BROWSER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Chromium exited with {self.proc.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                lines = port_file.read_text().splitlines()
                if len(lines) >= 2 and lines[0].strip().isdigit():
                    return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"Chromium wrote no DevToolsActivePort within {BROWSER_START_TIMEOUT:.0f} s:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class CDPError(Exception):
    pass


class CDP:
    """Minimal Chrome DevTools Protocol client over one browser-level WebSocket (flattened sessions)."""

    def __init__(self, ws):
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self._pending:
                    fut = self._pending.pop(msg["id"])
                    if not fut.done():
                        if "error" in msg:
                            fut.set_exception(CDPError(msg["error"]))
                        else:
                            fut.set_result(msg.get("result", {}))
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CDPError("DevTools connection closed"))

    async def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 15.0):
        msg_id = next(self._ids)
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self.ws.send(json.dumps(message))
        return await asyncio.wait_for(fut, timeout)

    async def close(self):
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):
            pass


class Page:
    def __init__(self, cdp: CDP, target_id: str, session: str):
        self.cdp = cdp
        self.target_id = target_id
        self.session = session

    @classmethod
    async def open(cls, cdp: CDP, url: str) -> "Page":
        target = await cdp.send("Target.createTarget", {"url": "about:blank"})
        attached = await cdp.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = cls(cdp, target["targetId"], attached["sessionId"])
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 900, "height": 640, "deviceScaleFactor": 1, "mobile": False},
        )
        await page.call("Page.navigate", {"url": url})
        return page

    async def call(self, method: str, params: dict | None = None):
        return await self.cdp.send(method, params, session=self.session)

    async def evaluate(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = await self.evaluate(expression)
                if last:
                    return last
            except CDPError as exc:  # the document may still be loading
                last = exc
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")

    async def messages(self) -> list[str]:
        return await self.evaluate(
            "Array.from(document.querySelectorAll('#messages .msg .text')).map(e => e.textContent)"
        )

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def js(value) -> str:
    """A JavaScript literal for a Python string."""
    return json.dumps(value)


@pytest.fixture
def browser():
    b = Browser(chromium_binary())
    yield b
    b.stop()


STATE_OPEN = "document.getElementById('state') && document.getElementById('state').textContent === 'open'"


@run_async(timeout=120)
async def test_chat_between_two_browser_pages(server, browser):
    url = server.base_url + "/"
    async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
        cdp = CDP(ws)
        try:
            page_a = await Page.open(cdp, url)
            page_b = await Page.open(cdp, url)
            for page, label in ((page_a, "A"), (page_b, "B")):
                await page.wait_for(STATE_OPEN, STATE_TIMEOUT, f"#state == 'open' in page {label}")

            # Page A: set a name, type a message and click Send.
            await page_a.evaluate(
                "(() => { const n = document.getElementById('name');"
                f" n.value = {js('Alice')}; n.dispatchEvent(new Event('input', {{bubbles: true}})); }})()"
            )
            await page_a.evaluate("document.getElementById('message').focus()")
            text = "Hello from page A ✓ <b>not bold</b>"
            await page_a.call("Input.insertText", {"text": text})
            await page_a.evaluate("document.getElementById('send').click()")

            expect = f"(() => Array.from(document.querySelectorAll('#messages .msg')).some(m => m.textContent.includes({js(text)})))()"
            await page_b.wait_for(expect, DELIVERY_TIMEOUT, "the message in page B's #messages")
            await page_a.wait_for(expect, DELIVERY_TIMEOUT, "the message in page A's #messages (sender included)")
            assert await page_a.evaluate("document.getElementById('message').value") == "", "message box not cleared"

            # User text is shown as text, never interpreted as markup.
            assert await page_b.evaluate("document.querySelectorAll('#messages b').length") == 0
            names_in_b = await page_b.evaluate(
                "Array.from(document.querySelectorAll('#messages .msg')).map(m => m.textContent)"
            )
            assert any("Alice" in m for m in names_in_b), names_in_b

            # Enter in page B sends too, and A receives it.
            reply = "Hi Alice, B here"
            await page_b.evaluate("document.getElementById('message').focus()")
            await page_b.call("Input.insertText", {"text": reply})
            for event_type in ("rawKeyDown", "char", "keyUp"):
                params = {"type": event_type, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
                if event_type == "char":
                    params["text"] = "\r"
                await page_b.call("Input.dispatchKeyEvent", params)
            await page_a.wait_for(
                f"(() => Array.from(document.querySelectorAll('#messages .msg')).some(m => m.textContent.includes({js(reply)})))()",
                DELIVERY_TIMEOUT,
                "B's reply (sent with Enter) in page A",
            )

            # Malformed messages from other clients are ignored and do not break the page.
            async with connect(server.ws_url("/chat"), compression=None) as other:
                await other.send("this is not JSON")
                await other.send('{"name": 42}')
                await other.send(json.dumps({"name": "Mallory", "text": '<img src=x onerror="document.title=1">'}))
            await page_b.wait_for(
                "(() => Array.from(document.querySelectorAll('#messages .msg')).some(m => m.textContent.includes('Mallory')))()",
                DELIVERY_TIMEOUT,
                "Mallory's message in page B",
            )
            assert await page_b.evaluate("document.querySelectorAll('#messages img').length") == 0
            texts_b = await page_b.messages()
            assert "this is not JSON" not in texts_b
            assert texts_b == [text, reply, '<img src=x onerror="document.title=1">'], texts_b
            assert await page_b.evaluate(STATE_OPEN) is True

            await page_b.screenshot(ARTIFACTS_DIR / "chat.png")
            await page_a.screenshot(ARTIFACTS_DIR / "chat-sender.png")
        finally:
            await cdp.close()


@run_async(timeout=120)
async def test_page_reconnects_after_server_restart(start_server, browser):
    first = start_server()
    async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
        cdp = CDP(ws)
        try:
            page = await Page.open(cdp, first.base_url + "/")
            await page.wait_for(STATE_OPEN, STATE_TIMEOUT, "#state == 'open'")

            first.stop(check=True)
            await page.wait_for(
                "document.getElementById('state').textContent === 'reconnecting'",
                STATE_TIMEOUT,
                "#state == 'reconnecting' after the server stopped",
            )
            countdown = await page.evaluate("document.getElementById('countdown').textContent")
            assert countdown.startswith("in ") and countdown.endswith(" s"), countdown

            start_server(port=first.port)
            # Backoff is capped near 10 s, so the page must be back well within 15 s.
            await page.wait_for(STATE_OPEN, STATE_TIMEOUT, "#state == 'open' after the server came back")

            await page.evaluate("document.getElementById('message').focus()")
            await page.call("Input.insertText", {"text": "back online"})
            await page.evaluate("document.getElementById('send').click()")
            await page.wait_for(
                "(() => Array.from(document.querySelectorAll('#messages .msg .text')).some(m => m.textContent === 'back online'))()",
                DELIVERY_TIMEOUT,
                "a message sent after reconnecting",
            )
        finally:
            await cdp.close()


@run_async(timeout=120)
async def test_page_recovers_every_message_sent_while_the_server_dropped_its_socket(start_server, browser, tmp_path):
    """The server closes the page's socket (not a restart: the page makes it send garbage,
    and after eleven bad commands the server closes with 1008); messages published through
    the API meanwhile all show up once the page is back, each exactly once, in order."""
    from pushutil import API, write_secrets

    keys, _ = write_secrets(tmp_path)
    server = start_server("--api-key-file", str(keys), "--history", "chat=1000")
    api = API(server)
    async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
        cdp = CDP(ws)
        try:
            page = await Page.open(cdp, server.base_url + "/")
            await page.wait_for(STATE_OPEN, STATE_TIMEOUT, "#state == 'open'")
            api.publish("chat", {"name": "api", "text": "before"})
            await page.wait_for(
                "(() => Array.from(document.querySelectorAll('#messages .msg .text')).some(m => m.textContent === 'before'))()",
                DELIVERY_TIMEOUT, "the first message")

            await page.evaluate("(() => { for (let i = 0; i < 11; i++) window.pushwaveClient.socket.send('garbage'); })()")
            await page.wait_for("document.getElementById('state').textContent === 'reconnecting'", STATE_TIMEOUT,
                                "#state == 'reconnecting' after the server closed the socket")
            missed = [f"while away {n}" for n in range(20)]
            for text in missed:
                api.publish("chat", {"name": "api", "text": text})
            await page.wait_for(STATE_OPEN, STATE_TIMEOUT, "#state == 'open' again")
            api.publish("chat", {"name": "api", "text": "after"})
            await page.wait_for(
                "(() => Array.from(document.querySelectorAll('#messages .msg .text')).some(m => m.textContent === 'after'))()",
                DELIVERY_TIMEOUT, "a live message after the recovery")
            assert await page.messages() == ["before", *missed, "after"]
        finally:
            await cdp.close()
            api.close()


@run_async(timeout=120)
async def test_chat_with_tokens_required_uses_the_demo_token_endpoint(start_server, browser, tmp_path):
    """With a token secret, upgrades need a token; the page gets one from /demo/token and
    chats as before, while a client without a token is refused with 401."""
    from pushutil import write_secrets
    from websockets.exceptions import InvalidStatus

    _, secrets = write_secrets(tmp_path)
    server = start_server("--token-secret-file", str(secrets), "--demo-tokens")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url("/ws")):
            pass
    assert refused.value.response.status_code == 401
    async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
        cdp = CDP(ws)
        try:
            page = await Page.open(cdp, server.base_url + "/")
            await page.wait_for(STATE_OPEN, STATE_TIMEOUT, "#state == 'open' with a demo token")
            await page.evaluate("document.getElementById('message').focus()")
            await page.call("Input.insertText", {"text": "signed in"})
            await page.evaluate("document.getElementById('send').click()")
            await page.wait_for(
                "(() => Array.from(document.querySelectorAll('#messages .msg .text')).some(m => m.textContent === 'signed in'))()",
                DELIVERY_TIMEOUT, "the message, published with the token's publish claim")
        finally:
            await cdp.close()
