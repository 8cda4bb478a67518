"""Headless Chromium negotiates permessage-deflate with the server and messages flow both ways
(the CDP helpers are those of the chat page's browser test)."""

from __future__ import annotations

from websockets.asyncio.client import connect

from test_chat_browser import CDP, Page, browser  # noqa: F401  (browser is a fixture)
from conftest import http_get
from wsutil import run_async

ECHO_ROUND_TRIP = """
new Promise((resolve, reject) => {
  const ws = new WebSocket(location.origin.replace('http', 'ws') + '/echo');
  const sent = 'compressible JSON {"id": 1, "text": "hello"} '.repeat(100);
  ws.onerror = () => reject('websocket error');
  ws.onopen = () => ws.send(sent);
  ws.onmessage = (event) => {
    resolve({extensions: ws.extensions, echoed: event.data === sent, length: event.data.length});
    ws.close();
  };
})
"""


@run_async(timeout=120)
async def test_browser_negotiates_permessage_deflate(server, browser):
    async with connect(browser.devtools_url(), max_size=None, ping_interval=None, compression=None) as ws:
        cdp = CDP(ws)
        try:
            page = await Page.open(cdp, server.base_url + "/")
            result = await page.evaluate(ECHO_ROUND_TRIP)
            assert result["extensions"].startswith("permessage-deflate"), result
            assert "client_no_context_takeover" in result["extensions"], result
            assert result["echoed"] is True, result
            _, _, body = http_get(server.host, server.port, "/metrics")
            inflated = [line for line in body.decode().splitlines() if line.startswith("pushwave_deflate_messages_inflated_total ")]
            assert inflated and int(inflated[0].split()[1]) > 0, "the page's message did not arrive compressed"
        finally:
            await cdp.close()
