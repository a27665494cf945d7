""" "X is typing": short-lived state, kept on the instance that holds the typist's socket.

Typing expires on its own a few seconds after the last `typing_start`, and ends when the
user sends a message, leaves the room or disconnects. A client that repeats
`typing_start` on every keystroke renews the expiry but is re-announced at most every
couple of seconds.

Every announcement of typing is authorized by the posting rule (`access.may_post`): a
member, and in a direct conversation not blocked by the other person. It names the typist
by their stored (current) name, read in the same query.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from chat_server.errors import ChatError
from chat_server.events import Event, Publisher, Target
from chat_server.services.access import Poster, may_post

# Typing without renewal ends after this long (clients renew every ~2-3 s while typing).
TYPING_TTL_S = 6.0
# A renewed `typing_start` is re-broadcast at most this often, so that late joiners see it
# without every keystroke becoming a room-wide event.
TYPING_REBROADCAST_S = 2.0


@dataclass(slots=True)
class _Typing:
    username: str
    announced_at: float
    timer: asyncio.TimerHandle


class TypingService:
    """Per-instance typing state keyed by (user, room)."""

    def __init__(self, publisher: Publisher, pool: asyncpg.Pool, ttl_s: float = TYPING_TTL_S):
        self._publisher = publisher
        self._pool = pool
        self._ttl = ttl_s
        self._active: dict[tuple[str, str], _Typing] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def is_typing(self, user_id: str, room_id: str) -> bool:
        return (user_id, room_id) in self._active

    async def start(self, user_id: str, room_id: str) -> None:
        """Begin or renew typing; announces `user_typing` unless announced very recently.

        Each announcement is authorized first (`may_post`); a refusal raises (Forbidden for
        a blocked typist) and ends any typing shown before, e.g. before a block.
        """
        key = (user_id, room_id)
        loop = asyncio.get_running_loop()
        current = self._active.get(key)
        if current is not None and time.monotonic() - current.announced_at < TYPING_REBROADCAST_S:
            current.timer.cancel()
            current.timer = loop.call_later(self._ttl, self._expire, key)
            return
        try:
            poster = await self._authorize(user_id, room_id)
        except ChatError:
            await self.stop(user_id, room_id)
            raise
        now = time.monotonic()
        current = self._active.get(key)  # may have changed while authorizing
        if current is not None:
            current.timer.cancel()
            current.timer = loop.call_later(self._ttl, self._expire, key)
            if now - current.announced_at < TYPING_REBROADCAST_S:
                return
            current.announced_at = now
            current.username = poster.username
        else:
            self._active[key] = _Typing(
                poster.username, now, loop.call_later(self._ttl, self._expire, key)
            )
        await self._publisher.publish(
            Event(
                "user_typing",
                {"roomId": room_id, "userId": user_id, "username": poster.username},
                Target.room(room_id),
                exclude_user=user_id,
            )
        )

    async def stop_requested(self, user_id: str, room_id: str) -> None:
        """The client's `typing_stop`: ends typing, then applies the posting rule like
        `start` (raising for a blocked typist). A stop is still announced when typing had
        been shown: it only clears an indicator the room already sees."""
        await self.stop(user_id, room_id)
        await self._authorize(user_id, room_id)

    async def stop(self, user_id: str, room_id: str) -> None:
        """End typing (explicit stop, message sent, room left); silent if not typing."""
        state = self._active.pop((user_id, room_id), None)
        if state is None:
            return
        state.timer.cancel()
        await self._announce_stop(user_id, room_id)

    async def stop_all(self, user_id: str) -> None:
        """The user's connection closed: end their typing everywhere."""
        for key in [k for k in self._active if k[0] == user_id]:
            await self.stop(*key)

    async def _authorize(self, user_id: str, room_id: str) -> Poster:
        async with self._pool.acquire() as conn:
            return await may_post(conn, UUID(room_id), UUID(user_id))

    def _expire(self, key: tuple[str, str]) -> None:
        if self._active.pop(key, None) is None:
            return
        task = asyncio.ensure_future(self._announce_stop(*key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce_stop(self, user_id: str, room_id: str) -> None:
        await self._publisher.publish(
            Event(
                "user_stopped_typing",
                {"roomId": room_id, "userId": user_id},
                Target.room(room_id),
                exclude_user=user_id,
            )
        )
