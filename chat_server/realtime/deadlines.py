"""Per-socket deadlines (authenticate in time, token expiry) from one task and a heap.

An asyncio TimerHandle per socket costs ~0.5 KB (handle, callback arguments, the loop's
heap entry) at all times: at 10,000 sockets, 5 MB for timers that almost never fire.
Here a deadline is a heap entry plus a dict slot (~0.2 KB), checked by one task that
wakes at least every DEADLINE_RESOLUTION_S while any deadline is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable

# Deadlines fire at most this late; both users have seconds of slack (a 10 s
# authentication window, a 5 s grace after token expiry).
DEADLINE_RESOLUTION_S = 0.5
# Superseded and cancelled entries stay in the heap until popped; past this many per live
# key the heap is rebuilt, so heavy connection churn can't grow it without bound.
STALE_ENTRIES_PER_KEY = 2


class Deadlines:
    """`fire(key)` is called (from the loop, not awaited) once `key`'s deadline passes,
    unless the deadline was replaced or cancelled first."""

    def __init__(self, fire: Callable[[str], None]) -> None:
        self._fire = fire
        self._when: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._task: asyncio.Task[None] | None = None

    def set(self, key: str, delay: float) -> None:
        """Fire `key` in `delay` seconds, replacing its previous deadline."""
        when = time.monotonic() + delay
        self._when[key] = when
        heapq.heappush(self._heap, (when, key))
        if len(self._heap) > STALE_ENTRIES_PER_KEY * len(self._when) + 64:
            self._heap = [(w, k) for w, k in self._heap if self._when.get(k) == w]
            heapq.heapify(self._heap)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def cancel(self, key: str) -> None:
        """Forget `key`'s deadline (its socket is gone)."""
        self._when.pop(key, None)

    def pending(self) -> int:
        """Keys with a deadline still to come."""
        return len(self._when)

    async def _run(self) -> None:
        while self._when:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                when, key = heapq.heappop(self._heap)
                if self._when.get(key) == when:
                    del self._when[key]
                    self._fire(key)
            if not self._when:
                self._heap.clear()
                return
            delay = self._heap[0][0] - now if self._heap else DEADLINE_RESOLUTION_S
            await asyncio.sleep(min(max(delay, 0.0), DEADLINE_RESOLUTION_S))

    async def close(self) -> None:
        """Stop (shutdown): nothing fires any more."""
        self._when.clear()
        self._heap.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
