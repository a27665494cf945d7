"""Migrations: applied once, in order, tracked, under an advisory lock, checksums enforced."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from chat_server.store import migrate as migrate_mod
from chat_server.store.migrate import MIGRATION_LOCK_KEY, MigrationError, load_migrations, migrate
from tests import pgdb
from tests.conftest import LOBBY_ID

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def empty_db():
    """A brand-new empty database for one test, dropped afterwards."""
    name = pgdb.unique_name("chat_migtest")
    yield await pgdb.create_database(name, migrated=False)
    await pgdb.drop_database(name)


@pytest.fixture
async def conn(empty_db):
    c = await asyncpg.connect(empty_db)
    yield c
    await c.close()


async def _ledger(conn) -> list[tuple[int, str, str]]:
    rows = await conn.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return [(r["version"], r["name"], r["checksum"]) for r in rows]


async def _advisory_locks(conn) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )


def test_migration_files_are_numbered_in_order():
    migrations = load_migrations()
    assert migrations, "no migration files found"
    versions = [m.version for m in migrations]
    assert versions == sorted(versions)
    assert versions[0] == 1
    assert len(set(versions)) == len(versions)
    assert migrations[0].name == "initial"


async def test_migrate_records_every_version(conn):
    expected = load_migrations()
    applied = await migrate(conn)
    assert applied == [m.version for m in expected]
    assert await _ledger(conn) == [(m.version, m.name, m.checksum) for m in expected]
    applied_at = await conn.fetchval("SELECT min(applied_at) FROM schema_migrations")
    assert applied_at is not None
    assert await _advisory_locks(conn) == 0  # the lock is released


async def test_second_run_applies_nothing(conn):
    first = await migrate(conn)
    assert first
    ledger = await _ledger(conn)
    assert await migrate(conn) == []
    assert await _ledger(conn) == ledger
    assert await _advisory_locks(conn) == 0


async def test_first_migration_creates_the_data_model(conn):
    await migrate(conn)
    tables = {
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {
        "users",
        "rooms",
        "messages",
        "room_members",
        "refresh_tokens",
        "files",
        "room_invites",
        "schema_migrations",
    } <= tables
    cols = {
        (r["table_name"], r["column_name"])
        for r in await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        )
    }
    for needed in [
        ("rooms", "kind"),
        ("rooms", "last_seq"),
        ("messages", "seq"),
        ("messages", "client_msg_id"),
        ("room_members", "last_read_seq"),
        ("refresh_tokens", "family_id"),
        ("users", "last_seen_at"),
    ]:
        assert needed in cols, needed


async def test_lobby_exists_and_is_public(conn):
    await migrate(conn)
    lobby = await conn.fetchrow("SELECT * FROM rooms WHERE id = $1", uuid.UUID(LOBBY_ID))
    assert lobby is not None
    assert lobby["name"] == "lobby"
    assert lobby["kind"] == "public"
    assert lobby["is_private"] is False
    assert lobby["last_seq"] == 0
    assert await conn.fetchval("SELECT count(*) FROM rooms WHERE name = 'lobby'") == 1


async def test_usernames_and_emails_unique_case_insensitively(conn):
    await migrate(conn)
    await conn.execute(
        "INSERT INTO users (email, username, password_hash) VALUES ('a@x.test', 'Alice', 'h')"
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO users (email, username, password_hash) VALUES ('b@x.test', 'alice', 'h')"
        )
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO users (email, username, password_hash) VALUES ('A@X.TEST', 'bob', 'h')"
        )


async def test_seq_unique_per_room(conn):
    await migrate(conn)
    lobby = uuid.UUID(LOBBY_ID)
    await conn.execute(
        "INSERT INTO messages (room_id, seq, content, content_html) VALUES ($1, 1, 'a', 'a')", lobby
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO messages (room_id, seq, content, content_html) VALUES ($1, 1, 'b', 'b')",
            lobby,
        )


async def test_concurrent_migrations_on_a_fresh_database_apply_once(empty_db):
    """Two instances starting together: one applies everything, the other waits and finds
    nothing to do. A third connection holds the lock until both are queued on it, so the
    two really do contend."""
    holder = await asyncpg.connect(empty_db)
    c1 = await asyncpg.connect(empty_db)
    c2 = await asyncpg.connect(empty_db)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        t1 = asyncio.ensure_future(migrate(c1))
        t2 = asyncio.ensure_future(migrate(c2))
        async with asyncio.timeout(20):
            while (
                await holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND pid = ANY($1::int[])",
                    [c1.get_server_pid(), c2.get_server_pid()],
                )
                < 2
            ):
                await asyncio.sleep(0.02)
        assert not t1.done() and not t2.done()
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        r1, r2 = await asyncio.gather(t1, t2)
        everything = [m.version for m in load_migrations()]
        assert sorted([r1, r2], key=len) == [[], everything]
        assert [v for v, _, _ in await _ledger(c1)] == everything
        assert await c1.fetchval("SELECT count(*) FROM rooms WHERE name = 'lobby'") == 1
        assert await _advisory_locks(holder) == 0
    finally:
        for c in (holder, c1, c2):
            await c.close()


async def test_concurrent_migrations_without_a_lock_holder(empty_db):
    conns = [await asyncpg.connect(empty_db) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        everything = [m.version for m in load_migrations()]
        assert sorted(results, key=len) == [[], [], everything]
        assert [v for v, _, _ in await _ledger(conns[0])] == everything
    finally:
        for c in conns:
            await c.close()


async def test_changed_checksum_is_refused(conn, empty_db):
    await migrate(conn)
    await conn.execute("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(conn)
    # The failed run released the lock: another instance is not blocked forever.
    other = await asyncpg.connect(empty_db)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY) is True
        await other.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await other.close()


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)


def test_badly_named_file_is_an_error(tmp_path):
    _write(tmp_path, {"0001_ok.sql": "SELECT 1;", "add_stuff.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(tmp_path)


def test_duplicate_version_is_an_error(tmp_path):
    _write(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"})
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)


def test_files_sorted_by_version(tmp_path):
    _write(
        tmp_path, {"0002_b.sql": "SELECT 2;", "0010_c.sql": "SELECT 3;", "0001_a.sql": "SELECT 1;"}
    )
    assert [m.version for m in load_migrations(tmp_path)] == [1, 2, 10]


async def test_failed_migration_rolls_back_and_records_nothing(conn, tmp_path, monkeypatch):
    """Each migration runs in its own transaction with its ledger row."""
    mig_dir = tmp_path / "migrations"
    _write(
        mig_dir,
        {
            "0001_first.sql": "CREATE TABLE t1 (id int);",
            "0002_broken.sql": "CREATE TABLE t2 (id int);\nTHIS IS NOT SQL;",
        },
    )
    monkeypatch.setattr(migrate_mod, "load_migrations", lambda: load_migrations(mig_dir))
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate(conn)
    assert [v for v, _, _ in await _ledger(conn)] == [1]
    assert await conn.fetchval("SELECT to_regclass('t1') IS NOT NULL") is True
    assert await conn.fetchval("SELECT to_regclass('t2') IS NOT NULL") is False
    assert await _advisory_locks(conn) == 0
    # Fixed file: the next start applies only what is missing.
    (mig_dir / "0002_broken.sql").write_text("CREATE TABLE t2 (id int);")
    assert await migrate(conn) == [2]
    assert await conn.fetchval("SELECT to_regclass('t2') IS NOT NULL") is True
