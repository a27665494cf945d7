"""REST helpers for the message-change tests (issue 16): edit, delete, edit history, the
change feed, and a room's current state, each one real HTTP call."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.chat_helpers import api
from tests.conftest import LiveServer, TestUser


def message_path(room_id: str, message_id: str) -> str:
    return f"/api/rooms/{room_id}/messages/{message_id}"


async def edit(
    http: aiohttp.ClientSession,
    server: LiveServer,
    user: TestUser,
    message: dict[str, Any],
    body: Any,
) -> tuple[int, Any]:
    """PATCH a message with `body` (a string is the new content)."""
    payload = {"content": body} if isinstance(body, str) else body
    return await api(
        http, server, "PATCH", message_path(message["roomId"], message["id"]), user, json=payload
    )


async def delete(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, message: dict[str, Any]
) -> tuple[int, Any]:
    return await api(http, server, "DELETE", message_path(message["roomId"], message["id"]), user)


async def edits_of(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, message: dict[str, Any]
) -> dict[str, Any]:
    status, body = await api(
        http, server, "GET", message_path(message["roomId"], message["id"]) + "/edits", user
    )
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def changes(
    http: aiohttp.ClientSession,
    server: LiveServer,
    user: TestUser,
    room_id: str,
    after: int,
    limit: int | None = None,
) -> tuple[int, Any]:
    params: dict[str, Any] = {"after": after}
    if limit is not None:
        params["limit"] = limit
    return await api(http, server, "GET", f"/api/rooms/{room_id}/changes", user, params=params)


async def all_changes(
    http: aiohttp.ClientSession,
    server: LiveServer,
    user: TestUser,
    room_id: str,
    after: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Page through the change feed from `after`; returns every message and the cursor."""
    out: list[dict[str, Any]] = []
    cursor = after
    for _ in range(1000):  # bounded: a feed that never ends is a failure
        status, page = await changes(http, server, user, room_id, cursor, limit)
        assert status == 200, page
        assert len(page["messages"]) <= limit
        out.extend(page["messages"])
        cursor = page["changeSeq"]
        if not page["hasMore"]:
            return out, cursor
    raise AssertionError("the change feed did not end")


async def room_change_seq(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, room_id: str
) -> int:
    status, room = await api(http, server, "GET", f"/api/rooms/{room_id}", user)
    assert status == 200, room
    return room["changeSeq"]  # type: ignore[no-any-return]


async def current(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, message: dict[str, Any]
) -> dict[str, Any]:
    """The message as history returns it now."""
    status, page = await api(
        http,
        server,
        "GET",
        f"/api/rooms/{message['roomId']}/messages",
        user,
        params={"after": message["seq"] - 1, "limit": 1},
    )
    assert status == 200, page
    assert page["messages"][0]["id"] == message["id"]
    return page["messages"][0]  # type: ignore[no-any-return]
