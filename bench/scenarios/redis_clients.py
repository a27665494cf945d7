"""What one Redis command on the message path costs the server's CPU, by client.

Every chat message in a cluster makes a rate-limit hit and a PUBLISH. This runs each the
way the server did before (redis-py on a blocking pool; `limits`' moving window over
redis-py) and the way it does now (`chat_server.redis_pipe.RedisPipe`, the same moving
window as a script over it), one after the other in one process pinned to one core, and
reports this process's CPU time per command (user + system, so the client's share of the
socket work is in it; Redis's own work is not):

    python -m bench redis --n 5000

Owns: the redis sub-command (clients only, no chat server) and its results file
(`redis-clients`).
Must not: use a Redis database but the bench's own (`--redis-url`, DB 15 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from chat_server.redis_pipe import RedisPipe
from chat_server.redis_pool import blocking_pool, redis_client
from chat_server.services.redis_limits import RedisMovingWindow
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from bench.common import log, machine, save_result

# Commands in flight at once in the concurrent runs (a busy instance has several).
CONCURRENCY = 20
# A PUBLISH payload the size of a chat message as the cluster manager sends it.
PAYLOAD = "x" * 600


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _measure(one: Callable[[int], Awaitable[Any]], n: int, conc: int) -> dict[str, float]:
    for i in range(min(200, n)):  # warm up: connections, scripts cached
        await one(i)
    c0, t0 = _cpu(), time.perf_counter()
    if conc == 1:
        for i in range(n):
            await one(i)
    else:
        gate = asyncio.Semaphore(conc)

        async def limited(i: int) -> None:
            async with gate:
                await one(i)

        await asyncio.gather(*(limited(i) for i in range(n)))
    cpu, wall = _cpu() - c0, time.perf_counter() - t0
    return {"cpu_us": round(cpu / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1)}


async def _run(url: str, n: int) -> dict[str, Any]:
    channel = f"bench-redis-{uuid.uuid4().hex}"
    item = parse("1000000000/minute")
    old_pub = redis_client(url)
    new_pub = RedisPipe(url)
    old_rl = MovingWindowRateLimiter(
        RedisStorage(
            "async+" + url,
            implementation="redispy",
            key_prefix="bench-rl-old",
            connection_pool=blocking_pool(url),  # type: ignore[arg-type]
        )
    )
    rl_pipe = RedisPipe(url)
    new_rl = RedisMovingWindow(rl_pipe, prefix="bench-rl-new")
    cases: dict[str, Callable[[int], Awaitable[Any]]] = {
        "publish: redis-py (before)": lambda i: old_pub.publish(channel, PAYLOAD),
        "publish: RedisPipe (now)": lambda i: new_pub.execute("PUBLISH", channel, PAYLOAD),
        "rate-limit hit: limits + redis-py (before)": lambda i: old_rl.hit(item, "u", str(i % 100)),
        "rate-limit hit: RedisMovingWindow on RedisPipe (now)": lambda i: new_rl.hit(
            item, "u", str(i % 100)
        ),
    }
    out: dict[str, Any] = {}
    try:
        for name, one in cases.items():
            out[name] = {
                "sequential": await _measure(one, n, 1),
                f"{CONCURRENCY}_in_flight": await _measure(one, n, CONCURRENCY),
            }
            log(f"{name}: {out[name]}")
        await new_rl.reset()
    finally:
        await old_pub.aclose()
        await new_pub.close()
        await rl_pipe.close()
    return out


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("redis", help="client CPU per Redis command on the message path")
    p.add_argument("--n", type=int, default=5000, help="commands per case")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--tag", default="")
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    cpu = os.cpu_count() or 1
    if not args.no_pin and cpu > 1:
        os.sched_setaffinity(0, {0})
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    results = uvloop.run(_run(args.redis_url, args.n))
    save_result(
        "redis-clients",
        {
            "params": {"n": args.n, "concurrency": CONCURRENCY, "redis_url": args.redis_url},
            "machine": machine(),
            "started": started,
            "pinned_to_cpu": None if args.no_pin else 0,
            "results": results,
        },
        args.tag,
    )
