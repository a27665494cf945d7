"""The bot helpers of `ChatClient`: one call for each thing the server lets a user do.

Owns: the seed's events and endpoints as methods (mark_read, typing, create/join/leave
room, upload, room and DM history, the room list, `call`/`on` for anything else), and
keeping the client's tracked rooms and unread counts in step with what they change. Must
not: keep state of its own, or bypass the outbox for chat messages (sending is `send` and
`send_dm` in chat.py); it is a mixin over the facade's `_rest`, `_conn` and `_receiver`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .connection import Connection
from .errors import ChatClientError
from .receiving import Receiver
from .rest import RestApi


class BotHelpers:
    """Mixed into ChatClient, which provides the three parts below."""

    _rest: RestApi
    _conn: Connection
    _receiver: Receiver

    # -- bot helpers -------------------------------------------------------------------

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit any client event on the live socket and return its ack. Raises
        ChatClientError if not connected or the ack does not come."""
        return await self._conn.call(event, data)

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a handler for another server event (presence, user_typing, ...)."""
        self._conn.on(event, handler)

    async def mark_read(
        self, room_id: str | None = None, seq: int | None = None, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """Move the read pointer of a room (or of the DM with `user_id`) to `seq`, by default
        to the last message delivered in that room. Returns {roomId, unread, ...}."""
        if (room_id is None) == (user_id is None):
            raise ValueError("give room_id or user_id")
        if seq is None:
            if room_id is None or room_id not in self._receiver.ordering.rooms:
                raise ValueError("seq is needed for a room or DM that is not tracked")
            seq = self._receiver.ordering.rooms[room_id].last_seq
        target = {"roomId": room_id} if room_id is not None else {"userId": user_id}
        state = await self._ok("mark_read", {**target, "seq": seq})
        if isinstance(state.get("roomId"), str) and isinstance(state.get("unread"), int):
            self._receiver.unread[state["roomId"]] = state["unread"]
        return state

    async def typing(
        self, room_id: str | None = None, active: bool = True, *, user_id: str | None = None
    ) -> None:
        """Show (or with active=False stop showing) "typing" in a room or the DM with
        `user_id`; the server expires it after a few seconds without renewal."""
        target = {"roomId": room_id} if room_id is not None else {"userId": user_id}
        await self._ok("typing_start" if active else "typing_stop", target)

    async def create_room(
        self, name: str, *, description: str | None = None, private: bool = False
    ) -> dict[str, Any]:
        """Create a room (the caller owns it and is a member); its messages are delivered."""
        room = await self._rest.create_room(name, description=description, private=private)
        self._receiver.track(room)
        return room

    async def join_room(self, room_id: str) -> dict[str, Any]:
        """Join a room; messages from now on are delivered."""
        room = await self._rest.join_room(room_id)
        self._receiver.track(room)
        return room

    async def leave_room(self, room_id: str) -> None:
        """Leave a room; its messages are no longer delivered."""
        await self._rest.leave_room(room_id)
        self._receiver.forget(str(room_id))

    async def upload(
        self,
        file: str | Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """Upload a file (a path, or bytes with `filename`); returns {id, url, name, mimeType,
        size, ...}. Send it with `send(room, text, message_type="file", file_id=id)`."""
        return await self._rest.upload(file, filename=filename, content_type=content_type)

    async def history(
        self,
        room_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of a room's history over REST: {messages, hasMore, lastSeq}."""
        return await self._page(f"/api/rooms/{room_id}/messages", before, after, limit)

    async def dm_history(
        self,
        user_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of the conversation with `user_id` over REST."""
        return await self._page(f"/api/direct-messages/{user_id}", before, after, limit)

    async def rooms(self) -> list[dict[str, Any]]:
        """Every room the user can see (all pages), with lastSeq, isMember, unreadCount."""
        return await self._rest.all_rooms()

    async def _page(
        self, path: str, before: int | None, after: int | None, limit: int | None
    ) -> dict[str, Any]:
        params = {
            k: str(v)
            for k, v in (("before", before), ("after", after), ("limit", limit))
            if v is not None
        }
        return dict(await self._rest.call("GET", path, params=params))

    async def _ok(self, event: str, data: Any) -> dict[str, Any]:
        ack = await self._conn.call(event, data)
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            raise ChatClientError.from_ack(ack)
        return ack
