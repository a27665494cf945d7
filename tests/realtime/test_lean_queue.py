"""LeanQueue: Engine.IO's per-socket packet queue on lists instead of deques must behave
exactly as asyncio.Queue does for the library (FIFO, waiting getters, cancellation,
task_done/join), and the server's sockets must actually use it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from chat_server.realtime.fanout import LeanQueue


async def test_fifo_and_nowait() -> None:
    q = LeanQueue()
    assert q.empty()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    for i in range(5):
        q.put_nowait(i)
    assert q.qsize() == 5
    assert [q.get_nowait() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_waiting_getters_are_woken_in_order() -> None:
    q = LeanQueue()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    await q.put("a")
    await q.put("b")
    assert await asyncio.wait_for(first, 1) == "a"
    assert await asyncio.wait_for(second, 1) == "b"


async def test_a_timed_out_get_leaves_no_waiter_behind() -> None:
    """Engine.IO's writer waits with wait_for(queue.get(), timeout)."""
    q = LeanQueue()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    assert len(q._getters) == 0
    q.put_nowait("later")
    assert await asyncio.wait_for(q.get(), 1) == "later"


async def test_join_waits_for_task_done() -> None:
    """close(wait=True) joins the queue."""
    q = LeanQueue()
    q.put_nowait("x")
    joined = asyncio.ensure_future(q.join())
    await asyncio.sleep(0.01)
    assert not joined.done()
    q.get_nowait()
    q.task_done()
    await asyncio.wait_for(joined, 1)


async def test_bounded_queue_blocks_putters() -> None:
    q = LeanQueue(maxsize=1)
    await q.put(1)
    putter = asyncio.ensure_future(q.put(2))
    await asyncio.sleep(0.01)
    assert not putter.done()
    assert q.get_nowait() == 1
    await asyncio.wait_for(putter, 1)
    assert q.get_nowait() == 2


def test_it_is_smaller_than_asyncio_queue() -> None:
    def footprint(q: asyncio.Queue[object]) -> int:
        return sum(
            sys.getsizeof(c)
            for c in (q._queue, q._getters, q._putters, q._finished._waiters)  # type: ignore[attr-defined]
        )

    assert footprint(LeanQueue()) * 4 < footprint(asyncio.Queue())


async def test_server_sockets_use_it(server, register, sio_connect):
    from chat_server.api.keys import SIO

    user = await register(server)
    await sio_connect(server, user.access_token)
    sockets = list(server.app[SIO].eio.sockets.values())
    assert sockets
    assert all(isinstance(s.queue, LeanQueue) for s in sockets)
