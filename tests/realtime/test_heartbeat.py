"""Engine.IO heartbeats sent by the server's one ping scheduler: live clients keep being
pinged (a Socket.IO client drops a connection whose pings stop), silent ones are dropped,
and no socket holds a ping task of its own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from chat_server.api.keys import SIO

# Short heartbeats keep these tests quick; the client gives up after interval + timeout.
PING_INTERVAL_S = 0.5
PING_TIMEOUT_S = 1.0


async def raw_socket(http: aiohttp.ClientSession, url: str, token: str) -> Any:
    """An Engine.IO websocket, signed in on /chat, spoken by hand (to control pongs)."""
    ws = await http.ws_connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str(timeout=5)).startswith("0")
    await ws.send_str("40/chat," + json.dumps({"token": token}))
    # The connect handler's own events (unread counts) may come before the CONNECT ack.
    for _ in range(10):
        if (await ws.receive_str(timeout=5)).startswith("40/chat,"):
            return ws
    raise AssertionError("no CONNECT ack for /chat")


async def test_live_clients_keep_being_pinged(start_server, register, sio_connect):
    server = await start_server(ping_interval_s=PING_INTERVAL_S, ping_timeout_s=PING_TIMEOUT_S)
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("disconnect",))
    # 4 s: more than twice what the client tolerates without a ping (interval + timeout).
    await asyncio.sleep(4)
    assert client.connected
    assert not client.recorder.events.get("disconnect")
    # No per-socket ping tasks: the scheduler sends them all.
    coros = [repr(t.get_coro()) for t in asyncio.all_tasks()]
    assert not [c for c in coros if "_send_ping" in c]


async def test_each_pong_brings_the_next_ping(start_server, register):
    server = await start_server(ping_interval_s=PING_INTERVAL_S, ping_timeout_s=PING_TIMEOUT_S)
    alice = await register(server)
    async with aiohttp.ClientSession() as http:
        ws = await raw_socket(http, server.url, alice.access_token)
        pings = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while loop.time() < deadline:
            try:
                frame = await ws.receive_str(timeout=deadline - loop.time())
            except TimeoutError:
                break
            if frame == "2":
                pings += 1
                await ws.send_str("3")
        await ws.close()
    # One every 0.5 s after each pong: about 6 in 3 s; a loaded machine may lose a few.
    assert pings >= 3


async def test_a_client_that_stops_answering_pings_is_dropped(start_server, register):
    server = await start_server(ping_interval_s=PING_INTERVAL_S, ping_timeout_s=PING_TIMEOUT_S)
    alice = await register(server)
    eio = server.app[SIO].eio
    async with aiohttp.ClientSession() as http:
        ws = await raw_socket(http, server.url, alice.access_token)
        assert len(eio.sockets) == 1
        # Never answer "2" (ping) with "3" (pong): the server must close the socket.
        frames = []
        for _ in range(20):
            msg = await ws.receive(timeout=10)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
            frames.append(msg.data)
        assert "2" in frames  # it was pinged
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), frames
    for _ in range(50):
        if not eio.sockets:
            break
        await asyncio.sleep(0.1)
    assert not eio.sockets
