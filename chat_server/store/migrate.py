"""Apply `sql/migrations/NNNN_name.sql` in order, each once, under an advisory lock.

The files are read through `store.queries.sql_root()`: the checkout's `sql/` folder, or the
copy inside an installed wheel (`chat_server.sql`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import asyncpg
import structlog

from chat_server.store.queries import fetch_all, queries, sql_root

log = structlog.get_logger(__name__)

# Arbitrary but fixed: every instance must use the same key to exclude the others.
MIGRATION_LOCK_KEY = 0x43_48_41_54_4D_49_47  # "CHATMIG"

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database's migration history disagrees with the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Traversable | None = None) -> list[Migration]:
    """The migration files (of `sql/migrations` unless `directory` is given) in version
    order; a badly named file is an error, not skipped."""
    folder = directory if directory is not None else sql_root().joinpath("migrations")
    found = []
    for file in sorted(folder.iterdir(), key=lambda f: f.name):
        if not file.name.endswith(".sql"):
            continue
        m = _FILE_RE.match(file.name)
        if not m:
            raise MigrationError(f"migration file name {file.name!r} is not NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), file.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Bring the schema up to date; returns the versions applied by this call.

    Instances starting together queue on the advisory lock; the first applies, the rest
    find nothing to do. A changed file that was already applied is refused.
    """
    migrations = load_migrations()
    await queries.migrations.take_migration_lock(conn, lock_key=MIGRATION_LOCK_KEY)
    try:
        await queries.migrations.create_migrations_table(conn)
        applied = {
            r["version"]: r for r in await fetch_all(queries.migrations.applied_migrations(conn))
        }
        done = []
        for mig in migrations:
            if mig.version in applied:
                if applied[mig.version]["checksum"] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.version:04d}_{mig.name} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await queries.migrations.record_migration(
                    conn, version=mig.version, name=mig.name, checksum=mig.checksum
                )
            log.debug("migration_applied", version=mig.version, name=mig.name)
            done.append(mig.version)
        # One line per start: what this call applied, or that there was nothing to do.
        latest = max((m.version for m in migrations), default=0)
        if done:
            log.info("migrations_applied", versions=done, schema_version=latest)
        else:
            log.info("schema_up_to_date", schema_version=latest)
        return done
    finally:
        await queries.migrations.release_migration_lock(conn, lock_key=MIGRATION_LOCK_KEY)
