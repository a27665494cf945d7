"""File rows (the bytes live in UPLOAD_DIR under `stored_name`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import queries


async def insert_file(conn: asyncpg.Connection, **fields: Any) -> dict[str, Any]:
    return dict(await queries.files.insert_file(conn, **fields))


async def get_file(conn: asyncpg.Connection, file_id: UUID) -> dict[str, Any] | None:
    row = await queries.files.get_file(conn, file_id=file_id)
    return dict(row) if row else None


async def get_file_by_name(conn: asyncpg.Connection, name: str) -> dict[str, Any] | None:
    row = await queries.files.get_file_by_name(conn, name=name)
    return dict(row) if row else None


async def can_read_file(conn: asyncpg.Connection, file_id: UUID, user_id: UUID) -> bool:
    return bool(await queries.files.can_read_file(conn, file_id=file_id, user_id=user_id))
