"""Garbage-collector policy for a process holding thousands of long-lived sockets.

CPython's cyclic GC runs a full (generation 2) collection whenever the objects promoted
into generation 2 since the last one reach 25 % of those it kept. A server with 10,000
WebSocket connections holds ~1.6 million tracked objects, and each connection keeps
promoting medium-lived ones (Engine.IO's 25 s ping timers and their tasks and futures,
which later die by reference counting). So a full collection ran every few seconds and
stopped the event loop for 1-1.8 s each time: measured in the 10k lobby benchmark, where
it was the whole of the latency tail (bench/README.md, "Second round", "GC pauses were
the lobby's tail").

The policy: objects that survive the young collections (generation 1) are frozen
(`gc.freeze()`) instead of being promoted, so automatic full collections find an empty
generation 2 and cost nothing. Freezing does not keep anything alive: frozen objects are
still freed when their last reference goes, which is how nearly all of them die. What a
frozen object can't do is be found as part of an unreachable cycle, so
`maybe_collect_frozen()` (run periodically) unfreezes and collects everything once the
frozen set has grown by FROZEN_GROWTH_FULL_COLLECT over its size after the last such
collection: CPython's own 25 % rule, applied to objects still alive instead of to
every promotion. Growth comes from new connections (a ramp pays some full pauses, as
by default) or from cyclic garbage, which is thus bounded as it is by default.

Growth is read from `sys.getallocatedblocks()` (the interpreter's live memory blocks:
a walk over pymalloc's pool headers, ~1 ms at 10,000 sockets), not from
`gc.get_freeze_count()`: that one walks the frozen list object by object, and at 10,000
sockets (millions of objects scattered over the heap) each call stopped the loop for
~200-300 ms, every check (bench/README.md, "Fourth round"). Frozen cyclic garbage keeps
its blocks allocated, so it shows up in this measure as it did in the frozen count.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Unfreeze and collect everything once the live blocks grew by this fraction: CPython's
# own threshold for full collections (long_lived_pending > long_lived_total / 4).
FROZEN_GROWTH_FULL_COLLECT = 0.25
# How often the serving process checks the growth (~1 ms at 10,000 sockets).
FROZEN_CHECK_INTERVAL_S = 5.0


class GcPolicy:
    """Freeze survivors of young collections; collect the frozen set when it has grown.

    Process-wide (the collector is): `install()` and `uninstall()` nest, so several apps
    in one process (tests) share one policy.
    """

    def __init__(self, growth: float = FROZEN_GROWTH_FULL_COLLECT) -> None:
        self.growth = growth
        self._installs = 0
        self._blocks_base = 0
        self.full_collections = 0

    def install(self) -> None:
        """Start freezing survivors; the objects alive now (code, modules, config) first."""
        self._installs += 1
        if self._installs > 1:
            return
        gc.freeze()
        self._blocks_base = sys.getallocatedblocks()
        gc.callbacks.append(self._after_collection)

    def uninstall(self) -> None:
        """Back to CPython's default behaviour once the last user is gone."""
        self._installs -= 1
        if self._installs > 0:
            return
        self._installs = 0
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] >= 1:
            gc.freeze()

    def maybe_collect_frozen(self) -> bool:
        """Collect everything if the live blocks outgrew their threshold; True if it ran.

        This is the one full pause left: its duration is logged so that an operator can
        see what it costs at their connection count.
        """
        blocks = sys.getallocatedblocks()
        if blocks <= self._blocks_base * (1.0 + self.growth):
            return False
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self._blocks_base = sys.getallocatedblocks()
        self.full_collections += 1
        log.info(
            "gc_full_collection",
            blocks_before=blocks,
            blocks_after=self._blocks_base,
            collected=collected,
            duration_ms=round((time.perf_counter() - started) * 1000.0, 1),
        )
        return True


# The process's policy (the garbage collector is one per process).
POLICY = GcPolicy()
