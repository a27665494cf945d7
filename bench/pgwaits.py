"""What the bench database's backends wait on during a step: `pg_stat_activity` sampled.

A step whose server CPU stays low while its latency grows is waiting on something; for the
database the answer is in `pg_stat_activity` (`wait_event_type:wait_event`, or
"idle in transaction" for a backend whose transaction waits for the server's next
statement). `PgWaits` samples it from a thread every SAMPLE_EVERY_S while a step runs and
reports the average number of the bench database's backends in each state.

Owns: the sampling and its summary.
Must not: write to the database, or sample any database but the bench's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import asyncpg

from bench import fixtures

SAMPLE_EVERY_S = 0.05
# A step is bounded, and so is its sampler, whatever happens to the step.
MAX_SAMPLING_S = 600.0
TOP = 8

_QUERY = """SELECT state, wait_event_type, wait_event FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()
              AND state IN ('active', 'idle in transaction')"""


class PgWaits:
    """`with PgWaits(): ...` samples while the block runs; `.result` is then
    {samples, waits: {state: average backends}} (or None when disabled)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.result: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()
        self._samples = 0

    def __enter__(self) -> PgWaits:
        if self.enabled:
            self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        n = max(self._samples, 1)
        self.result = {
            "samples": self._samples,
            "every_s": SAMPLE_EVERY_S,
            "mean_backends": {k: round(v / n, 3) for k, v in self._counts.most_common(TOP)},
        }

    async def _run(self) -> None:
        conn = await asyncpg.connect(fixtures.dsn("postgres"))
        deadline = time.monotonic() + MAX_SAMPLING_S
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for r in await conn.fetch(_QUERY, fixtures.BENCH_DB):
                    if r["state"] == "idle in transaction":
                        self._counts["idle in transaction"] += 1
                    else:
                        self._counts[
                            f"{r['wait_event_type'] or 'cpu'}:{r['wait_event'] or '-'}"
                        ] += 1
                self._samples += 1
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            await conn.close()
