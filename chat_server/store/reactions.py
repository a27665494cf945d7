"""Reactions (docs/contract.md §12): one row per (message, user, emoji) in message_reactions,
and the message's denormalised `reactions` recomputed from them.

Functions take the caller's connection: they run inside the changing transaction
(services/changes.py), with the message row locked.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from chat_server.store.queries import queries


async def add(conn: asyncpg.Connection, message_id: UUID, emoji: str, user_id: UUID) -> bool:
    """Record the reaction; False when the user had already reacted with this emoji."""
    added = await queries.reactions.add_reaction(
        conn, message_id=message_id, emoji=emoji, user_id=user_id
    )
    return bool(added)


async def remove(conn: asyncpg.Connection, message_id: UUID, emoji: str, user_id: UUID) -> bool:
    """Take the reaction back; False when there was none."""
    removed = await queries.reactions.remove_reaction(
        conn, message_id=message_id, emoji=emoji, user_id=user_id
    )
    return bool(removed)


async def recompute(conn: asyncpg.Connection, message_id: UUID, max_user_ids: int) -> int:
    """Rewrite messages.reactions from message_reactions in one statement; returns how many
    different emoji the message now carries."""
    distinct = await queries.reactions.recompute_reactions(
        conn, message_id=message_id, max_user_ids=max_user_ids
    )
    return int(distinct)
