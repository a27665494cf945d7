"""Messages that change (docs/contract.md §12), as `ChatClient` methods.

Owns: the calls that change a stored message (edit, delete, react/unreact, pin/unpin over
the socket, each answering the changed message), a thread reply through the outbox
(`reply`), the REST reads of a message's other sides (edit history, thread, pins), and the
application's side of the change stream (`updates()`, `next_update()`, `last_change_seq`).
Must not: keep state of its own or decide what is delivered (the acks it gets go through
the receiver's `ChangeTracker`, so an own change is delivered once, like anyone's), or
bypass the outbox for new messages; it is a mixin over the facade's `_rest`, `_conn`,
`_receiver` and `enqueue`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .changes import MessageUpdate
from .connection import Connection
from .errors import ChatClientError
from .outbox import PendingMessage
from .receiving import Receiver
from .rest import RestApi

UpdateHandler = Callable[[MessageUpdate], Awaitable[None] | None]


class MessageActions:
    """Mixed into ChatClient, which provides the parts below."""

    _rest: RestApi
    _conn: Connection
    _receiver: Receiver
    enqueue: Callable[..., PendingMessage]

    # -- changing a message ------------------------------------------------------------

    async def edit(self, room_id: str, message_id: str, content: str) -> dict[str, Any]:
        """Replace the text of one's own message (`edit_message`); returns the message as
        changed (`editedAt` set). Raises ChatClientError (forbidden, not_found,
        validation_error, ...) if refused."""
        return await self._change(
            "edit_message", {"roomId": room_id, "messageId": message_id, "content": content}
        )

    async def delete(self, room_id: str, message_id: str) -> dict[str, Any]:
        """Delete a message (`delete_message`: the author, or a room owner/admin); returns
        its tombstone (`deletedAt` set, content empty). Repeating it answers the same."""
        return await self._change("delete_message", {"roomId": room_id, "messageId": message_id})

    async def react(self, room_id: str, message_id: str, emoji: str) -> dict[str, Any]:
        """Add one's reaction `emoji` (one Unicode emoji) to a message (`add_reaction`,
        idempotent); returns the message with its `reactions`."""
        return await self._change(
            "add_reaction", {"roomId": room_id, "messageId": message_id, "emoji": emoji}
        )

    async def unreact(self, room_id: str, message_id: str, emoji: str) -> dict[str, Any]:
        """Take one's reaction back (`remove_reaction`, idempotent); returns the message."""
        return await self._change(
            "remove_reaction", {"roomId": room_id, "messageId": message_id, "emoji": emoji}
        )

    async def pin(self, room_id: str, message_id: str) -> dict[str, Any]:
        """Pin a message in its room (`pin_message`, idempotent); returns it (`pinned`)."""
        return await self._change("pin_message", {"roomId": room_id, "messageId": message_id})

    async def unpin(self, room_id: str, message_id: str) -> dict[str, Any]:
        """Unpin a message (`unpin_message`, idempotent); returns it."""
        return await self._change("unpin_message", {"roomId": room_id, "messageId": message_id})

    async def reply(
        self, thread_id: str, content: str, *, room_id: str, **options: Any
    ) -> dict[str, Any]:
        """Answer in the thread of root message `thread_id` of room `room_id`: a `send`
        with `threadId` (through the outbox, same options and guarantees); returns the
        stored reply. The reply is delivered like any message; the root's new reply count
        arrives as a change on `updates()`."""
        pending = self.enqueue(room_id, content, thread_id=str(thread_id), **options)
        return await asyncio.shield(pending.future)

    async def _change(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One changing call over the live socket; its answer (the changed message, which
        carries its changeSeq) goes through the change tracker like a live update, so
        `updates()` has it once whichever arrives first."""
        ack = await self._conn.call(event, payload)
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            raise ChatClientError.from_ack(ack)
        message = ack.get("message")
        if not isinstance(message, dict):
            raise ChatClientError("bad_response", f"{event} answered no message")
        self._receiver.ingest_change(message)
        return message

    # -- reading a message's other sides -----------------------------------------------

    async def edit_history(self, room_id: str, message_id: str) -> dict[str, Any]:
        """A message's earlier versions (GET .../messages/:id/edits): {edits: [{content,
        contentHtml, writtenAt, replacedAt}, ...] oldest first, message}."""
        path = f"/api/rooms/{room_id}/messages/{message_id}/edits"
        return dict(await self._rest.call("GET", path))

    async def thread(
        self,
        room_id: str,
        message_id: str,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of a thread over REST: {root, messages, hasMore}."""
        params = {k: str(v) for k, v in (("after", after), ("limit", limit)) if v is not None}
        path = f"/api/rooms/{room_id}/messages/{message_id}/thread"
        return dict(await self._rest.call("GET", path, params=params))

    async def pins(self, room_id: str) -> dict[str, Any]:
        """The room's pinned messages (GET /api/rooms/:id/pins)."""
        return dict(await self._rest.call("GET", f"/api/rooms/{room_id}/pins"))

    # -- the change stream -------------------------------------------------------------

    @property
    def updates_queue(self) -> asyncio.Queue[MessageUpdate]:
        """Delivered changes (when no `on_update` callback was given)."""
        return self._receiver.updates

    @property
    def last_change_seq(self) -> dict[str, int]:
        """The last changeSeq applied per tracked room (DMs included)."""
        return self._receiver.changes.last_change_seq

    async def next_update(self) -> MessageUpdate:
        """The next message change: each once, per room in changeSeq order, whether it
        arrived live or was recovered after a reconnect; bound the wait with
        `asyncio.timeout`."""
        return await self._receiver.updates.get()

    async def updates(self) -> AsyncIterator[MessageUpdate]:
        """`async for update in client.updates():` every message change, as
        `next_update` gives them (runs until the loop is left)."""
        while True:
            yield await self._receiver.updates.get()
