"""The named queries of `sql/queries/*.sql`, loaded once with aiosql.

`queries.<file>.<name>(conn, **params)`: each query has a one-line comment in its file.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosql

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"

queries: Any = SimpleNamespace(
    **{
        path.stem: aiosql.from_path(path, "asyncpg")
        for path in sorted((SQL_DIR / "queries").glob("*.sql"))
    }
)


async def fetch_all(rows: Any) -> list[Any]:
    """Collect a multi-row aiosql query (an async generator in aiosql >= 14)."""
    return [row async for row in rows]


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with `ESCAPE '\\'`, its wildcards matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
