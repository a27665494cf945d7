"""The write path every new message takes, room message or DM (docs/contract.md §7).

Owns: the rate-limit count of a send, rendering, the attachment rule (a file is the
sender's own upload and matches the message type), the per-room seq taken under the room
row's lock in the statement that stores the message, idempotent retries by clientMsgId
(the original comes back, nothing is stored twice), the sender's typing ending, and for
a thread reply the root's reply count, changed (with the room's next change number) in the
reply's own transaction.
Must not: announce anything (MessageService and DirectService publish after it returns),
or decide who may post where beyond calling the access rule (services/access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, NotFound, RateLimited
from chat_server.services.access import may_post
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.render import render_markdown
from chat_server.services.threads import check_root, count_reply
from chat_server.services.typing import TypingService
from chat_server.store import direct as direct_store
from chat_server.store import files as file_store
from chat_server.store import messages as message_store

# Checks the sender's right to post and returns the room to post in, inside the
# transaction that stores the message.
Authorize = Callable[[asyncpg.Connection], Awaitable[UUID]]
# A thread root changed by a reply: its current row and the room's change number it took.
RootChange = tuple[dict[str, Any], int]


@dataclass(frozen=True, slots=True)
class Draft:
    """One message a sender asks to post, wherever it goes (room or DM, socket or REST).

    `sender_name` is only a fallback: stored messages carry the sender's current name.
    `thread_id` makes it a reply to that root message of the same room.
    """

    sender_id: str
    sender_name: str
    content: str
    message_type: str = "text"
    client_msg_id: str | None = None
    file_id: UUID | None = None
    thread_id: UUID | None = None

    @classmethod
    def from_payload(cls, sender_id: str, sender_name: str, data: Mapping[str, Any]) -> Draft:
        """A draft from a validated `send_message` / `send_dm` payload or REST body."""
        return cls(
            sender_id=sender_id,
            sender_name=sender_name,
            content=data["content"],
            message_type=data.get("message_type", "text"),
            client_msg_id=data.get("client_msg_id"),
            file_id=data.get("file_id"),
            thread_id=data.get("thread_id"),
        )


class MessageWriter:
    """The shared write path for room messages and DMs."""

    def __init__(self, pool: asyncpg.Pool, limiter: RateLimiter, typing: TypingService):
        self._pool = pool
        self._limiter = limiter
        self._typing = typing

    async def persist(self, draft: Draft, authorize: Authorize) -> tuple[dict[str, Any], bool]:
        """Store a message; returns the stored row (as a dict) and whether it is new.

        An attached file must be the sender's own upload and match the message type
        (`image` for images, `file` for documents).

        A retry with a clientMsgId the sender already used returns the original and
        stores nothing: the unique index refuses the insert (the statement rolls back,
        seq included) and the original is fetched. A retry is never refused by the rate
        limit when its original exists.
        """
        await self._count(draft)
        row, created, _ = await self._store(draft, authorize, render_markdown(draft.content))
        return row, created

    async def persist_reply(
        self, draft: Draft, room_id: UUID
    ) -> tuple[dict[str, Any], bool, RootChange | None]:
        """`persist` for a thread reply (`draft.thread_id`) by a room member: the root is
        checked (`threads.check_root`) and, in the same transaction, counts the reply and
        takes the room's next change number. Also returns the root's change (None for a
        retry that stored nothing)."""
        assert draft.thread_id is not None
        uid = UUID(draft.sender_id)
        root_id = draft.thread_id

        async def authorize(conn: asyncpg.Connection) -> UUID:
            await may_post(conn, room_id, uid)
            await check_root(conn, room_id, root_id)
            return room_id

        await self._count(draft)
        return await self._store(draft, authorize, render_markdown(draft.content))

    async def persist_direct(
        self, draft: Draft, recipient_id: UUID, authorize: Authorize
    ) -> tuple[dict[str, Any], bool, int | None]:
        """`persist` for a DM, in one SQL round trip for text in a conversation that exists
        with a sender who isn't blocked. Also returns the recipient's read pointer (None
        when not read here).

        Otherwise `persist`'s full path runs (counted once): `authorize` creates the
        conversation, or refuses a blocked sender with its own error.
        """
        if draft.file_id is not None:
            row, created = await self.persist(draft, authorize)
            return row, created, None
        await self._count(draft)
        html = render_markdown(draft.content)
        try:
            async with self._pool.acquire() as conn:
                row = await direct_store.insert_direct_message(
                    conn,
                    sender=UUID(draft.sender_id),
                    recipient=recipient_id,
                    content=draft.content,
                    content_html=html,
                    message_type=draft.message_type,
                    client_msg_id=draft.client_msg_id,
                )
        except asyncpg.UniqueViolationError:
            return await self._original(draft), False, None
        if row["pair_room_id"] is None or row["blocked"]:
            stored, created, _ = await self._store(draft, authorize, html)
            return stored, created, None
        recipient_read = row.pop("recipient_last_read_seq")
        del row["pair_room_id"], row["blocked"]
        return await self._finish(row, draft), True, recipient_read

    async def _store(
        self, draft: Draft, authorize: Authorize, html: str
    ) -> tuple[dict[str, Any], bool, RootChange | None]:
        """`persist` after the rate limit and rendering: one transaction. A reply's root
        is updated after the insert: rooms row first, then the root's row, the order of
        every change (services/changes.py), so the two cannot deadlock."""
        uid = UUID(draft.sender_id)
        root: RootChange | None = None
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                room_id = await authorize(conn)
                attachment = await _attachment(conn, uid, draft.file_id, draft.message_type)
                row = await message_store.insert_message(
                    conn,
                    room_id=room_id,
                    user_id=uid,
                    content=draft.content,
                    content_html=html,
                    message_type=draft.message_type,
                    file_id=draft.file_id,
                    client_msg_id=draft.client_msg_id,
                    thread_id=draft.thread_id,
                )
                if draft.thread_id is not None:
                    root = await count_reply(conn, room_id, draft.thread_id, row["created_at"])
                # The sender has read their own message: it never counts as unread.
                await message_store.advance_read_pointer(conn, room_id, uid, row["seq"])
        except asyncpg.UniqueViolationError:
            return await self._original(draft), False, None
        if attachment is not None:
            row.update({f"file_{k}": attachment[v] for k, v in _FILE_COLUMNS.items()})
        return await self._finish(row, draft), True, root

    async def persist_in_room(self, draft: Draft, room_id: UUID) -> tuple[dict[str, Any], bool]:
        """`persist` for a room member, in one SQL round trip for text.

        The statement itself applies the posting rule (`access.may_post`: membership, and
        no block in a direct room); only when it stores nothing is the reason looked up
        (404 for rooms the sender may not see, 403 for public rooms not joined or a blocked
        sender). An attachment takes `persist`'s transaction, authorized by `may_post`.
        """
        assert draft.thread_id is None, "replies take persist_reply"
        uid = UUID(draft.sender_id)
        if draft.file_id is not None:

            async def authorize(conn: asyncpg.Connection) -> UUID:
                await may_post(conn, room_id, uid)
                return room_id

            return await self.persist(draft, authorize)
        await self._count(draft)
        html = render_markdown(draft.content)
        try:
            async with self._pool.acquire() as conn:
                row = await message_store.insert_room_message(
                    conn,
                    room_id=room_id,
                    user_id=uid,
                    content=draft.content,
                    content_html=html,
                    message_type=draft.message_type,
                    client_msg_id=draft.client_msg_id,
                )
                if row is None:
                    await may_post(conn, room_id, uid)
                    # The rule allows it now: membership or a block changed in between.
                    raise Conflict("Your access to this room changed; retry")
        except asyncpg.UniqueViolationError:
            return await self._original(draft), False
        return await self._finish(row, draft), True

    async def _finish(self, row: dict[str, Any], draft: Draft) -> dict[str, Any]:
        """What every newly stored message gets: the sender's name (the statement may not
        return it), and the sender stops typing in that room."""
        row["username"] = row.get("username") or draft.sender_name
        await self._typing.stop(draft.sender_id, str(row["room_id"]))
        return row

    async def _count(self, draft: Draft) -> None:
        """Count a send against the rate limit; over the limit, a retry of a stored
        message is let through (it will return the original)."""
        try:
            await self._limiter.hit("messages", draft.sender_id)
        except RateLimited:
            if await self._existing(draft) is None:
                raise

    async def _original(self, draft: Draft) -> dict[str, Any]:
        """The message a clientMsgId retry refers to (the insert hit the unique index)."""
        existing = await self._existing(draft)
        if existing is None:
            raise Conflict("Message conflicts with another; retry")
        return existing

    async def _existing(self, draft: Draft) -> dict[str, Any] | None:
        if draft.client_msg_id is None:
            return None
        async with self._pool.acquire() as conn:
            return await message_store.find_by_client_msg_id(
                conn, UUID(draft.sender_id), draft.client_msg_id
            )


# How a file row's columns appear on a message row (see sql/queries/messages.sql).
_FILE_COLUMNS = {
    "stored_name": "stored_name",
    "name": "original_name",
    "mime_type": "mime_type",
    "size": "size_bytes",
    "width": "width",
    "height": "height",
    "thumbnail_name": "thumbnail_name",
}


async def _attachment(
    conn: asyncpg.Connection, sender: UUID, file_id: UUID | None, message_type: str
) -> dict[str, Any] | None:
    if file_id is None:
        return None
    row = await file_store.get_file(conn, file_id)
    if row is None or row["owner_id"] != sender:
        raise NotFound("File not found")
    expected = "image" if row["mime_type"].startswith("image/") else "file"
    if message_type != expected:
        # The stored file decides (a well-formed request that does not fit it): 409.
        raise Conflict(
            f"This file is sent as messageType {expected!r}",
            fields={"messageType": [f"Must be {expected}."]},
        )
    return row
