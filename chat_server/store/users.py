"""User rows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict
from chat_server.store.queries import fetch_all, like_literal, queries

Row = dict[str, Any]


def _conflict_field(exc: asyncpg.UniqueViolationError) -> str:
    return "email" if "email" in (exc.constraint_name or "") else "username"


async def create_user(
    conn: asyncpg.Connection, email: str, username: str, password_hash: str
) -> Row:
    """Insert a user; a taken email or username (any case) is a Conflict naming the field."""
    try:
        row = await queries.users.create_user(
            conn, email=email, username=username, password_hash=password_hash
        )
    except asyncpg.UniqueViolationError as exc:
        field = _conflict_field(exc)
        raise Conflict(f"That {field} is already registered", fields={field: ["taken"]}) from exc
    return dict(row)


async def get_user(conn: asyncpg.Connection, user_id: UUID | str) -> Row | None:
    row = await queries.users.get_user_by_id(conn, user_id=_uuid(user_id))
    return dict(row) if row else None


async def get_login(conn: asyncpg.Connection, identifier: str) -> Row | None:
    """The user (with password hash) whose email or username is `identifier`."""
    row = await queries.users.get_login_by_identifier(conn, identifier=identifier)
    return dict(row) if row else None


async def fold_identifier(conn: asyncpg.Connection, identifier: str) -> str:
    """`identifier` through PostgreSQL's lower(), the folding of the account lookup and of
    the unique indexes (Python's str.lower differs: "İ", the Kelvin sign, ...)."""
    return str(await queries.users.fold_identifier(conn, identifier=identifier))


async def update_profile(
    conn: asyncpg.Connection,
    user_id: UUID | str,
    *,
    username: str | None = None,
    email: str | None = None,
    display_name: str | None = None,
    clear_display_name: bool = False,
) -> Row | None:
    try:
        row = await queries.users.update_user_profile(
            conn,
            user_id=_uuid(user_id),
            username=username,
            email=email,
            display_name=display_name,
            clear_display_name=clear_display_name,
        )
    except asyncpg.UniqueViolationError as exc:
        field = _conflict_field(exc)
        raise Conflict(f"That {field} is already taken", fields={field: ["taken"]}) from exc
    return dict(row) if row else None


async def get_password_hash(conn: asyncpg.Connection, user_id: UUID | str) -> str | None:
    value = await queries.users.get_password_hash(conn, user_id=_uuid(user_id))
    return str(value) if value is not None else None


async def set_password_hash(
    conn: asyncpg.Connection, user_id: UUID | str, password_hash: str
) -> None:
    await queries.users.update_password_hash(
        conn, user_id=_uuid(user_id), password_hash=password_hash
    )


async def touch_last_seen(conn: asyncpg.Connection, user_id: UUID | str) -> None:
    await queries.users.touch_last_seen(conn, user_id=_uuid(user_id))


async def search_users(conn: asyncpg.Connection, prefix: str, limit: int) -> list[Row]:
    """Users whose username starts with `prefix` (matched literally, case-insensitively)."""
    pattern = like_literal(prefix) + "%"
    rows = await fetch_all(queries.users.search_users(conn, pattern=pattern, limit=limit))
    return [dict(r) for r in rows]


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
