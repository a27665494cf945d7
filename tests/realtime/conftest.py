"""Helpers shared by the realtime tests: acks, refused handshakes, the lobby's state."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

from chat_server.client import ChatClient
from tests.conftest import LOBBY_ID, PASSWORD, LiveServer, TestUser, unique_name

NS = "/chat"
# Upper bound for one ack round trip on a loaded CI machine.
ACK_TIMEOUT_S = 10
# ChatClient options for tests: quick reconnects (the backoff shape is the same).
CLIENT_FAST = {"reconnect_delay_initial_s": 0.05, "reconnect_delay_max_s": 0.5}


async def call(client: socketio.AsyncClient, event: str, data: Any = None) -> Any:
    """Emit `event` on /chat and return the server's ack."""
    return await client.call(event, data, namespace=NS, timeout=ACK_TIMEOUT_S)


async def send(client: socketio.AsyncClient, content: str, **extra: Any) -> dict[str, Any]:
    """Send a lobby message and return the stored message, asserting the ack is ok."""
    ack = await call(client, "send_message", {"roomId": LOBBY_ID, "content": content, **extra})
    assert ack["ok"] is True, ack
    return ack["message"]  # type: ignore[no-any-return]


async def refused(
    server: LiveServer, auth: Any, transports: list[str] | None = None
) -> dict[str, Any]:
    """Attempt a handshake that must be refused; return the `connect_error` payload."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    got = asyncio.Event()

    @client.on("connect_error", namespace=NS)
    async def on_error(data: Any = None) -> None:
        errors.append(data)
        got.set()

    try:
        await client.connect(
            server.url,
            namespaces=[NS],
            auth=auth,
            transports=transports or ["websocket"],
            wait_timeout=10,
        )
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await client.disconnect()
        raise AssertionError(f"handshake with auth={auth!r} was accepted")
    await asyncio.wait_for(got.wait(), ACK_TIMEOUT_S)
    if client.eio.state == "connected":
        await client.disconnect()
    return errors[0]  # type: ignore[no-any-return]


async def history(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, **params: Any
) -> dict[str, Any]:
    """GET the lobby's history page over REST."""
    async with http.get(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        headers=user.headers,
        params={k: str(v) for k, v in params.items()},
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body  # type: ignore[no-any-return]


async def lobby_last_seq(http: aiohttp.ClientSession, server: LiveServer, user: TestUser) -> int:
    """The lobby's current last seq: what was stored so far."""
    async with http.get(f"{server.url}/api/rooms/{LOBBY_ID}", headers=user.headers) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return int(body["lastSeq"])


@pytest.fixture
async def new_client():
    """Register a user and return a connected ChatClient; all are closed at teardown."""
    made: list[ChatClient] = []

    async def make(server, *, connect: bool = True, **options) -> ChatClient:
        name = unique_name("c")
        client = await ChatClient.register(
            server.url, f"{name}@example.test", name, PASSWORD, **{**CLIENT_FAST, **options}
        )
        made.append(client)
        if connect:
            await client.connect()
        return client

    yield make
    for client in made:
        await client.close()
