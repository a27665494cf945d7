"""Helpers for the reaction, pin and thread tests (docs/contract.md §12): REST calls on a
message, a room's change counter, and a tombstone (a real delete) for the refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from tests.chat_helpers import api
from tests.conftest import LiveServer, TestUser
from tests.edit_helpers import delete


def reaction_path(room_id: str, message_id: str, emoji: str) -> str:
    """The REST path of one reaction, the emoji percent-encoded as a client must send it."""
    return f"/api/rooms/{room_id}/messages/{message_id}/reactions/{quote(emoji, safe='')}"


async def react(
    http: aiohttp.ClientSession,
    server: LiveServer,
    user: TestUser,
    message: dict[str, Any],
    emoji: str,
    method: str = "PUT",
) -> tuple[int, Any]:
    return await api(
        http, server, method, reaction_path(message["roomId"], message["id"], emoji), user
    )


async def room_change_seq(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, room_id: str
) -> int:
    """Where the room's change feed stands (the room summary's `changeSeq`)."""
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}", user)
    assert status == 200, body
    return int(body["changeSeq"])


async def history_message(
    http: aiohttp.ClientSession, server: LiveServer, user: TestUser, message: dict[str, Any]
) -> dict[str, Any]:
    """The message as the room's history returns it now."""
    status, page = await api(
        http,
        server,
        "GET",
        f"/api/rooms/{message['roomId']}/messages",
        user,
        params={"after": message["seq"] - 1, "limit": 1},
    )
    assert status == 200, page
    (found,) = page["messages"]
    assert found["id"] == message["id"]
    return found  # type: ignore[no-any-return]


async def make_tombstone(
    http: aiohttp.ClientSession, server: LiveServer, author: TestUser, message: dict[str, Any]
) -> None:
    """Delete a message through the real DELETE (it stays as a tombstone)."""
    status, body = await delete(http, server, author, message)
    assert status == 200, body
    assert body["message"]["deletedAt"], body
