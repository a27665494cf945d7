"""The write path every new message takes, room message or DM (docs/contract.md §7).

Owns: the rate-limit count of a send, rendering, the attachment rule (a file is the
sender's own upload and matches the message type), the per-room seq taken under the room
row's lock in the statement that stores the message, idempotent retries by clientMsgId
(the original comes back, nothing is stored twice), and the sender's typing ending.
Must not: announce anything (MessageService and DirectService publish after it returns),
or decide who may post where beyond calling the access rule (services/access.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, NotFound, RateLimited
from chat_server.services.access import may_post
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.render import render_markdown
from chat_server.services.typing import TypingService
from chat_server.store import direct as direct_store
from chat_server.store import files as file_store
from chat_server.store import messages as message_store

# Checks the sender's right to post and returns the room to post in, inside the
# transaction that stores the message.
Authorize = Callable[[asyncpg.Connection], Awaitable[UUID]]


class MessageWriter:
    """The shared write path for room messages and DMs."""

    def __init__(self, pool: asyncpg.Pool, limiter: RateLimiter, typing: TypingService):
        self._pool = pool
        self._limiter = limiter
        self._typing = typing

    async def persist(
        self,
        *,
        user_id: str,
        username: str,
        authorize: Authorize,
        content: str,
        message_type: str,
        client_msg_id: str | None,
        file_id: UUID | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a message; returns the stored row (as a dict) and whether it is new.

        An attached file must be the sender's own upload and match the message type
        (`image` for images, `file` for documents).

        A retry with a clientMsgId the sender already used returns the original and
        stores nothing: the unique index refuses the insert (the statement rolls back,
        seq included) and the original is fetched. A retry is never refused by the rate
        limit when its original exists.
        """
        uid = UUID(user_id)
        await self._count(uid, user_id, client_msg_id)
        return await self._store(
            uid,
            username=username,
            authorize=authorize,
            content=content,
            html=render_markdown(content),
            message_type=message_type,
            client_msg_id=client_msg_id,
            file_id=file_id,
        )

    async def persist_direct(
        self,
        *,
        user_id: str,
        username: str,
        recipient_id: UUID,
        authorize: Authorize,
        content: str,
        message_type: str,
        client_msg_id: str | None,
        file_id: UUID | None = None,
    ) -> tuple[dict[str, Any], bool, int | None]:
        """`persist` for a DM, in one SQL round trip for text in a conversation that exists
        with a sender who isn't blocked. Also returns the recipient's read pointer (None
        when not read here).

        Otherwise `persist`'s full path runs (counted once): `authorize` creates the
        conversation, or refuses a blocked sender with its own error.
        """
        if file_id is not None:
            row, created = await self.persist(
                user_id=user_id,
                username=username,
                authorize=authorize,
                content=content,
                message_type=message_type,
                client_msg_id=client_msg_id,
                file_id=file_id,
            )
            return row, created, None
        uid = UUID(user_id)
        await self._count(uid, user_id, client_msg_id)
        html = render_markdown(content)
        try:
            async with self._pool.acquire() as conn:
                row = await direct_store.insert_direct_message(
                    conn,
                    sender=uid,
                    recipient=recipient_id,
                    content=content,
                    content_html=html,
                    message_type=message_type,
                    client_msg_id=client_msg_id,
                )
        except asyncpg.UniqueViolationError:
            return await self._original(uid, client_msg_id), False, None
        if row["pair_room_id"] is None or row["blocked"]:
            stored, created = await self._store(
                uid,
                username=username,
                authorize=authorize,
                content=content,
                html=html,
                message_type=message_type,
                client_msg_id=client_msg_id,
                file_id=None,
            )
            return stored, created, None
        recipient_read = row.pop("recipient_last_read_seq")
        del row["pair_room_id"], row["blocked"]
        return await self._finish(row, user_id, username), True, recipient_read

    async def _store(
        self,
        uid: UUID,
        *,
        username: str,
        authorize: Authorize,
        content: str,
        html: str,
        message_type: str,
        client_msg_id: str | None,
        file_id: UUID | None,
    ) -> tuple[dict[str, Any], bool]:
        """`persist` after the rate limit and rendering: one transaction."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                room_id = await authorize(conn)
                attachment = await _attachment(conn, uid, file_id, message_type)
                row = await message_store.insert_message(
                    conn,
                    room_id=room_id,
                    user_id=uid,
                    content=content,
                    content_html=html,
                    message_type=message_type,
                    file_id=file_id,
                    client_msg_id=client_msg_id,
                )
                # The sender has read their own message: it never counts as unread.
                await message_store.advance_read_pointer(conn, room_id, uid, row["seq"])
        except asyncpg.UniqueViolationError:
            return await self._original(uid, client_msg_id), False
        if attachment is not None:
            row.update({f"file_{k}": attachment[v] for k, v in _FILE_COLUMNS.items()})
        return await self._finish(row, str(uid), username), True

    async def persist_in_room(
        self,
        *,
        user_id: str,
        username: str,
        room_id: UUID,
        content: str,
        message_type: str,
        client_msg_id: str | None,
        file_id: UUID | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """`persist` for a room member, in one SQL round trip for text.

        The statement itself applies the posting rule (`access.may_post`: membership, and
        no block in a direct room); only when it stores nothing is the reason looked up
        (404 for rooms the sender may not see, 403 for public rooms not joined or a blocked
        sender). An attachment takes `persist`'s transaction, authorized by `may_post`.
        """
        if file_id is not None:

            async def authorize(conn: asyncpg.Connection) -> UUID:
                await may_post(conn, room_id, UUID(user_id))
                return room_id

            return await self.persist(
                user_id=user_id,
                username=username,
                authorize=authorize,
                content=content,
                message_type=message_type,
                client_msg_id=client_msg_id,
                file_id=file_id,
            )
        uid = UUID(user_id)
        await self._count(uid, user_id, client_msg_id)
        html = render_markdown(content)
        try:
            async with self._pool.acquire() as conn:
                row = await message_store.insert_room_message(
                    conn,
                    room_id=room_id,
                    user_id=uid,
                    content=content,
                    content_html=html,
                    message_type=message_type,
                    client_msg_id=client_msg_id,
                )
                if row is None:
                    await may_post(conn, room_id, uid)
                    # The rule allows it now: membership or a block changed in between.
                    raise Conflict("Your access to this room changed; retry")
        except asyncpg.UniqueViolationError:
            return await self._original(uid, client_msg_id), False
        return await self._finish(row, user_id, username), True

    async def _finish(self, row: dict[str, Any], user_id: str, username: str) -> dict[str, Any]:
        """What every newly stored message gets: the sender's name (the statement may not
        return it), and the sender stops typing in that room."""
        row["username"] = row.get("username") or username
        await self._typing.stop(user_id, str(row["room_id"]))
        return row

    async def _count(self, uid: UUID, user_id: str, client_msg_id: str | None) -> None:
        """Count a send against the rate limit; over the limit, a retry of a stored
        message is let through (it will return the original)."""
        try:
            await self._limiter.hit("messages", user_id)
        except RateLimited:
            if client_msg_id is None or await self._existing(uid, client_msg_id) is None:
                raise

    async def _original(self, uid: UUID, client_msg_id: str | None) -> dict[str, Any]:
        """The message a clientMsgId retry refers to (the insert hit the unique index)."""
        existing = await self._existing(uid, client_msg_id) if client_msg_id else None
        if existing is None:
            raise Conflict("Message conflicts with another; retry")
        return existing

    async def _existing(self, user_id: UUID, client_msg_id: str) -> dict[str, Any] | None:
        async with self._pool.acquire() as conn:
            return await message_store.find_by_client_msg_id(conn, user_id, client_msg_id)


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
