"""The middlewares around Engine.IO's endpoint: new handshakes refused while draining
(plain HTTP and WebSocket alike), and WebSocket connections kept out of the per-request
machinery (a socket's lifetime is not a request latency)."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chat_server.api.keys import STATE

HANDSHAKE = "/socket.io/?EIO=4&transport="


async def socketio_latency_samples(http: aiohttp.ClientSession, url: str) -> float:
    """How many requests the latency histogram holds for Engine.IO's route."""
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "chat_http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels.get("route") == "/socket.io/":
                count += sample.value
    return count


async def test_new_handshakes_are_refused_while_draining(server, http):
    server.app[STATE]["draining"] = True
    try:
        async with http.get(server.url + HANDSHAKE + "polling") as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "unavailable"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(server.url + HANDSHAKE + "websocket")
        assert refused.value.status == 503
    finally:
        server.app[STATE]["draining"] = False
    ws = await http.ws_connect(server.url + HANDSHAKE + "websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0")
    await ws.close()


async def test_websocket_connections_are_not_request_latencies(server, http):
    before = await socketio_latency_samples(http, server.url)
    ws = await http.ws_connect(server.url + HANDSHAKE + "websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0")
    await ws.close()
    async with http.get(server.url + HANDSHAKE + "polling") as resp:
        assert resp.status == 200
    # The polling request is one request; the WebSocket is not counted as one.
    assert await socketio_latency_samples(http, server.url) == before + 1
