"""The named queries of `sql/queries/*.sql`, loaded once with aiosql.

`queries.<file>.<name>(conn, **params)`: each query has a one-line comment in its file.

The repository keeps its SQL in the top-level `sql/` folder; the wheel ships that folder
inside the package as `chat_server.sql` (setup.cfg `package_dir`), read here with
importlib.resources, so an installed server needs no checkout.
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosql

# The source checkout this module sits in, if any: <repo>/chat_server/store/queries.py.
_CHECKOUT = Path(__file__).resolve().parents[2]


def sql_root() -> Traversable:
    """The `sql/` folder: the checkout's own when the package runs from a source tree
    (PYTHONPATH, `python -m chat_server` in the repo, an editable install), otherwise the
    copy inside the installed package.

    The checkout comes first so that a source tree always runs its own SQL, even when the
    interpreter also has another tree's editable install (whose import mapping would
    otherwise answer for `chat_server.sql`).
    """
    if (_CHECKOUT / "setup.cfg").is_file() and (_CHECKOUT / "sql" / "migrations").is_dir():
        return _CHECKOUT / "sql"
    return importlib.resources.files("chat_server.sql")


def sql_files(folder: str) -> list[Traversable]:
    """The `*.sql` files of `sql/<folder>`, sorted by name."""
    return sorted(
        (f for f in sql_root().joinpath(folder).iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )


queries: Any = SimpleNamespace(
    **{
        f.name.removesuffix(".sql"): aiosql.from_str(f.read_text(encoding="utf-8"), "asyncpg")
        for f in sql_files("queries")
    }
)


async def fetch_all(rows: Any) -> list[Any]:
    """Collect a multi-row aiosql query (an async generator in aiosql >= 14)."""
    return [row async for row in rows]


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with `ESCAPE '\\'`, its wildcards matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
