"""Deadlines: one task and a heap replace a timer per socket; a deadline fires once,
not at all when replaced or cancelled, and churn can't grow the heap without bound."""

from __future__ import annotations

import asyncio

from chat_server.realtime.deadlines import DEADLINE_RESOLUTION_S, Deadlines

# Enough for any deadline below to have fired, even on a loaded machine.
SETTLE_S = DEADLINE_RESOLUTION_S * 4


async def test_fires_once_after_the_delay() -> None:
    fired: list[str] = []
    d = Deadlines(fired.append)
    d.set("a", 0.05)
    d.set("b", 0.3)
    await asyncio.sleep(0.15)
    assert fired == ["a"]
    await asyncio.sleep(SETTLE_S)
    assert fired == ["a", "b"]
    assert d.pending() == 0
    await d.close()


async def test_replaced_and_cancelled_deadlines_do_not_fire() -> None:
    fired: list[str] = []
    d = Deadlines(fired.append)
    d.set("renewed", 0.05)
    d.set("renewed", 60)  # a fresh token: the old expiry no longer applies
    d.set("gone", 0.05)
    d.cancel("gone")  # the socket disconnected
    await asyncio.sleep(SETTLE_S)
    assert fired == []
    assert d.pending() == 1
    await d.close()


async def test_an_earlier_deadline_set_later_still_fires_in_time() -> None:
    fired: list[str] = []
    d = Deadlines(fired.append)
    d.set("late", 60)
    await asyncio.sleep(0.05)  # the task now sleeps towards "late"
    d.set("soon", 0.05)
    await asyncio.sleep(SETTLE_S)
    assert fired == ["soon"]
    await d.close()


async def test_churn_does_not_grow_the_heap_without_bound() -> None:
    d = Deadlines(lambda key: None)
    for i in range(10_000):
        d.set(f"s{i % 100}", 60)  # 100 live sockets re-armed over and over
    assert d.pending() == 100
    assert len(d._heap) <= 2 * 100 + 64 + 1
    for i in range(100):
        d.cancel(f"s{i}")
    await d.close()
