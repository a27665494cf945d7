"""The bench database and its users, rooms and tokens, made directly in PostgreSQL.

Registering 20,000 users through the API would cost 20,000 bcrypt hashes (~70 ms each at
cost 10): instead every bench user shares one precomputed hash of `BENCH_PASSWORD`, rows are
COPYed in, lobby membership is added in one statement, and access tokens are minted here
with the server's JWT secret exactly as `chat_server/services/tokens.py` issues them.

The database (`chat_bench` by default) is created on first use and migrated by
tests/pgdb.py (the tests' databases are made by the same code), and kept between runs;
`python -m bench db --drop` removes it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import asyncpg
import bcrypt
import jwt
from tests import pgdb

from bench.common import log
from bench.targets import LOBBY_ROOM_ID

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
BENCH_DB = os.environ.get("BENCH_DB", "chat_bench")
# Not a secret: only ever used against the throwaway bench database on 127.0.0.1.
JWT_SECRET = os.environ.get("BENCH_JWT_SECRET", "bench-only-secret-" + "x" * 40)
BENCH_PASSWORD = "bench-password-1"
TOKEN_TTL_S = 12 * 3600


def dsn(db: str = BENCH_DB) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def ensure_db(drop: bool = False) -> None:
    """The bench database, created when missing (first dropped with `drop`), migrated."""
    admin = dsn("postgres")

    async def go() -> None:
        if drop:
            await pgdb.drop_database(BENCH_DB, admin_url=admin)
            log(f"dropped database {BENCH_DB}")
        await pgdb.create_database(BENCH_DB, admin_url=admin, exist_ok=True)

    asyncio.run(go())


def drop_db() -> None:
    asyncio.run(pgdb.drop_database(BENCH_DB, admin_url=dsn("postgres")))
    log(f"dropped database {BENCH_DB}")


async def _users(n: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn())
    try:
        have = await conn.fetchval("SELECT count(*) FROM users WHERE username LIKE 'bench%'")
        if have < n:
            t0 = time.monotonic()
            pw_hash = bcrypt.hashpw(BENCH_PASSWORD.encode(), bcrypt.gensalt(10)).decode()
            existing = {
                r["username"]
                for r in await conn.fetch("SELECT username FROM users WHERE username LIKE 'bench%'")
            }
            rows = [
                (uuid.uuid4(), f"bench{i}@bench.example.com", f"bench{i}", pw_hash)
                for i in range(n)
                if f"bench{i}" not in existing
            ]
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "users", records=rows, columns=["id", "email", "username", "password_hash"]
                )
                await conn.execute(
                    """INSERT INTO room_members (room_id, user_id)
                       SELECT $1::uuid, id FROM users WHERE username LIKE 'bench%'
                       ON CONFLICT DO NOTHING""",
                    LOBBY_ROOM_ID,
                )
                await conn.execute(
                    """UPDATE rooms SET member_count =
                         (SELECT count(*) FROM room_members WHERE room_id = $1::uuid)
                       WHERE id = $1::uuid""",
                    LOBBY_ROOM_ID,
                )
            log(f"created {len(rows)} bench users in {time.monotonic() - t0:.1f}s")
        rows = await conn.fetch("SELECT id, username FROM users WHERE username LIKE 'bench%'")
    finally:
        await conn.close()
    by_index: dict[int, dict[str, Any]] = {}
    for r in rows:
        suffix = r["username"][5:]
        if suffix.isdigit():
            by_index[int(suffix)] = {
                "id": str(r["id"]),
                "username": r["username"],
                "index": int(suffix),
            }
    return [by_index[i] for i in range(n)]


async def _rooms(prefix: str, groups: list[list[dict[str, Any]]]) -> list[str]:
    """One public room per group of users, named `<prefix>-<k>`, with exactly those members
    added (idempotent)."""
    conn = await asyncpg.connect(dsn())
    ids: list[str] = []
    try:
        async with conn.transaction():
            for k, members in enumerate(groups):
                name = f"{prefix}-{k}"
                rid = await conn.fetchval(
                    "SELECT id FROM rooms WHERE lower(name) = lower($1) AND kind = 'public'", name
                )
                if rid is None:
                    rid = await conn.fetchval(
                        """INSERT INTO rooms (name, description, is_private, kind, created_by)
                           VALUES ($1, 'bench room', false, 'public', $2::uuid) RETURNING id""",
                        name,
                        members[0]["id"],
                    )
                await conn.execute(
                    """INSERT INTO room_members (room_id, user_id)
                       SELECT $1::uuid, unnest($2::uuid[]) ON CONFLICT DO NOTHING""",
                    rid,
                    [m["id"] for m in members],
                )
                await conn.execute(
                    """UPDATE rooms SET member_count =
                         (SELECT count(*) FROM room_members WHERE room_id = $1::uuid) WHERE id = $1::uuid""",
                    rid,
                )
                ids.append(str(rid))
    finally:
        await conn.close()
    return ids


async def _history(room_id: str, user_id: str, n: int) -> None:
    """Make sure a room has at least `n` messages (for history-page benchmarks)."""
    conn = await asyncpg.connect(dsn())
    try:
        last = await conn.fetchval("SELECT last_seq FROM rooms WHERE id = $1::uuid", room_id)
        if last >= n:
            return
        async with conn.transaction():
            rows = [
                (
                    uuid.uuid4(),
                    uuid.UUID(room_id),
                    seq,
                    uuid.UUID(user_id),
                    f"history message {seq}",
                    f"<p>history message {seq}</p>",
                )
                for seq in range(last + 1, n + 1)
            ]
            await conn.copy_records_to_table(
                "messages",
                records=rows,
                columns=["id", "room_id", "seq", "user_id", "content", "content_html"],
            )
            await conn.execute("UPDATE rooms SET last_seq = $2 WHERE id = $1::uuid", room_id, n)
    finally:
        await conn.close()


async def _unchanged_messages(room_id: str, n: int) -> list[str]:
    """The ids of a room's `n` newest messages that were never changed (no reaction, edit
    or pin yet: change_seq 0, docs/contract.md §12), newest first."""
    conn = await asyncpg.connect(dsn())
    try:
        rows = await conn.fetch(
            """SELECT id FROM messages
               WHERE room_id = $1::uuid AND change_seq = 0 AND deleted_at IS NULL
               ORDER BY seq DESC LIMIT $2""",
            room_id,
            n,
        )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


def users(n: int, with_tokens: bool = True) -> list[dict[str, Any]]:
    out = asyncio.run(_users(n))
    if with_tokens:
        now = int(time.time())
        for u in out:
            u["token"] = mint_token(u["id"], u["username"], now)
    return out


def rooms(prefix: str, groups: list[list[dict[str, Any]]]) -> list[str]:
    return asyncio.run(_rooms(prefix, groups))


def history(room_id: str, user_id: str, n: int) -> None:
    asyncio.run(_history(room_id, user_id, n))


def unchanged_messages(room_id: str, n: int) -> list[str]:
    return asyncio.run(_unchanged_messages(room_id, n))


def mint_token(user_id: str, username: str, now: int | None = None) -> str:
    """An access token as chat_server.services.tokens.TokenCodec.issue_access makes it."""
    now = int(time.time()) if now is None else now
    return jwt.encode(
        {
            "sub": user_id,
            "name": username,
            "sid": str(uuid.uuid4()),
            "jti": uuid.uuid4().hex,
            "type": "access",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_TTL_S,
        },
        JWT_SECRET,
        algorithm="HS256",
    )
