"""Helpers for the reaction, pin and thread tests (docs/contract.md §12): REST calls on a
message, a room's change counter, and a tombstone for the refusals."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from chat_server.api.keys import POOL
from tests.chat_helpers import api
from tests.conftest import LiveServer, TestUser


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
    """Where the room's change counter stands (read from the database: room summaries carry
    it as `changeSeq` once the recovery work of the edits branch lands)."""
    async with server.app[POOL].acquire() as conn:
        value = await conn.fetchval("SELECT last_change_seq FROM rooms WHERE id = $1", room_id)
    return int(value)


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


async def make_tombstone(server: LiveServer, message: dict[str, Any]) -> None:
    """Turn a message into a tombstone as a delete leaves it (set-up only: deleting is the
    edits branch's operation, tested there through the real interface)."""
    async with server.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE messages SET deleted_at = now(), content = '', content_html = '',"
            " reactions = '[]' WHERE id = $1",
            message["id"],
        )
