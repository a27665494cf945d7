"""Helpers shared by the rooms / DMs / presence / typing / unread tests (issue 3).

Thin wrappers over real HTTP and Socket.IO calls, plus waiting helpers for events that
must (or must not) arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio

from tests.conftest import LiveServer, TestUser, unique_name

NS = "/chat"
ACK_TIMEOUT_S = 10
# How long a "this event must not arrive" check listens. Presence is flushed once per
# second, so presence checks listen longer than one flush interval.
QUIET_S = 0.6
PRESENCE_QUIET_S = 1.4


async def api(
    http: aiohttp.ClientSession,
    server: LiveServer,
    method: str,
    path: str,
    user: TestUser | None = None,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """One REST call; returns (status, parsed JSON body or None)."""
    async with http.request(
        method,
        f"{server.url}{path}",
        headers=user.headers if user else None,
        json=json,
        params={k: str(v) for k, v in (params or {}).items()},
    ) as resp:
        text = await resp.text()
        body = await resp.json(content_type=None) if text else None
        return resp.status, body


async def create_room(
    http: aiohttp.ClientSession,
    server: LiveServer,
    owner: TestUser,
    name: str | None = None,
    *,
    private: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    status, body = await api(
        http,
        server,
        "POST",
        "/api/rooms",
        owner,
        json={
            "name": name or unique_name("room"),
            "isPrivate": private,
            "description": description,
        },
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def join(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, room_id: str
) -> dict[str, Any]:
    status, body = await api(http, server, "POST", f"/api/rooms/{room_id}/join", user)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def invite(
    http: aiohttp.ClientSession, server: LiveServer, by: TestUser, room_id: str, user: TestUser
) -> dict[str, Any]:
    status, body = await api(
        http, server, "POST", f"/api/rooms/{room_id}/invites", by, json={"userId": user.id}
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def private_room_with(
    http: aiohttp.ClientSession, server: LiveServer, owner: TestUser, *others: TestUser
) -> dict[str, Any]:
    """A private room owned by `owner` that `others` were invited to and joined."""
    room = await create_room(http, server, owner, private=True)
    for other in others:
        await invite(http, server, owner, room["id"], other)
        await join(http, server, other, room["id"])
    return room


async def post_message(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, room_id: str, content: str
) -> dict[str, Any]:
    status, body = await api(
        http, server, "POST", f"/api/rooms/{room_id}/messages", user, json={"content": content}
    )
    assert status == 201, body
    return body["message"]  # type: ignore[no-any-return]


async def post_dm(
    http: aiohttp.ClientSession, server: LiveServer, sender: TestUser, to: TestUser, content: str
) -> dict[str, Any]:
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{to.id}", sender, json={"content": content}
    )
    assert status == 201, body
    return body["message"]  # type: ignore[no-any-return]


async def room_entry(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, room_id: str
) -> dict[str, Any] | None:
    """The room as it appears in the user's GET /api/rooms listing (None when absent)."""
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        status, body = await api(http, server, "GET", "/api/rooms", user, params=params)
        assert status == 200, body
        for room in body["rooms"]:
            if room["id"] == room_id:
                return room  # type: ignore[no-any-return]
        if not body["hasMore"]:
            return None
        cursor = body["nextCursor"]


async def call(client: socketio.AsyncClient, event: str, data: Any = None) -> Any:
    """Emit on /chat and return the ack."""
    return await client.call(event, data, namespace=NS, timeout=ACK_TIMEOUT_S)


async def call_ok(client: socketio.AsyncClient, event: str, data: Any = None) -> dict[str, Any]:
    ack = await call(client, event, data)
    assert ack["ok"] is True, ack
    return ack  # type: ignore[no-any-return]


async def call_error(client: socketio.AsyncClient, event: str, data: Any, code: str) -> None:
    ack = await call(client, event, data)
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack


def matching(client: socketio.AsyncClient, name: str, pred: Callable[[Any], bool]) -> list[Any]:
    return [e for e in client.recorder.events[name] if pred(e)]  # type: ignore[attr-defined]


async def wait_match(
    client: socketio.AsyncClient,
    name: str,
    pred: Callable[[Any], bool],
    count: int = 1,
    timeout: float = 5.0,
) -> list[Any]:
    """Wait until `count` recorded `name` events satisfy `pred`; returns those events."""
    deadline = time.monotonic() + timeout
    while True:
        found = matching(client, name, pred)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(
                f"expected {count} {name!r} matching events within {timeout}s, got {found!r}; "
                f"all: {client.recorder.events[name]!r}"  # type: ignore[attr-defined]
            )
        await asyncio.sleep(0.02)


async def quiet(
    client: socketio.AsyncClient,
    name: str,
    pred: Callable[[Any], bool] = lambda _: True,
    wait: float = QUIET_S,
) -> None:
    """Assert that no *new* `name` event matching `pred` arrives within `wait` seconds."""
    before = len(matching(client, name, pred))
    await asyncio.sleep(wait)
    after = matching(client, name, pred)
    assert len(after) == before, f"unexpected {name!r}: {after[before:]!r}"
