"""Headless Chromium over TLS: the chat page loaded from https:// (a certificate from the
test's own CA, trusted through its public key) opens wss:// and chats.

Chromium is told to trust exactly the test certificate's key with
--ignore-certificate-errors-spki-list (the SHA-256 of its SubjectPublicKeyInfo), so every
other certificate error would still fail the page.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess

from websockets.asyncio.client import connect

from test_chat_browser import CDP, DELIVERY_TIMEOUT, STATE_OPEN, STATE_TIMEOUT, Browser, Page, chromium_binary, js
from test_tls import TLSServerProcess, certs  # noqa: F401  (the certs fixture)
from wsutil import run_async


def spki_sha256(certificate) -> str:
    """base64 of the SHA-256 of the certificate's public key, as Chromium's flag wants it."""
    public_key = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(certificate)],
                                capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@run_async(timeout=120)
async def test_chat_page_over_https_and_wss(pushwave_bin, certs, tmp_path):  # noqa: F811
    server = TLSServerProcess(
        pushwave_bin, ["--tls-cert", str(certs / "localhost.pem"), "--tls-key", str(certs / "localhost.key")],
        tmp_path / "server.log", ca=certs / "ca.pem")
    browser = Browser(chromium_binary(), (f"--ignore-certificate-errors-spki-list={spki_sha256(certs / 'localhost.pem')}",))
    try:
        server.wait_healthy()
        url = f"https://127.0.0.1:{server.port}/"
        async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
            cdp = CDP(ws)
            try:
                page_a = await Page.open(cdp, url)
                page_b = await Page.open(cdp, url)
                for page, label in ((page_a, "A"), (page_b, "B")):
                    await page.wait_for(STATE_OPEN, STATE_TIMEOUT, f"#state == 'open' in page {label} (wss://)")
                    assert await page.evaluate("location.protocol") == "https:"
                text = "over TLS ✓"
                await page_a.evaluate("document.getElementById('message').focus()")
                await page_a.call("Input.insertText", {"text": text})
                await page_a.evaluate("document.getElementById('send').click()")
                expect = f"(() => Array.from(document.querySelectorAll('#messages .msg')).some(m => m.textContent.includes({js(text)})))()"
                await page_b.wait_for(expect, DELIVERY_TIMEOUT, "page A's message in page B, over wss://")
            finally:
                await cdp.close()
    finally:
        browser.stop()
        problem = server.stop(check=False)
    assert problem is None, problem
