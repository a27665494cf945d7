"""REST API latency at fixed request rates (ours only: the baselines have no REST API).

Open loop: request i starts at t0 + i/rate whatever earlier requests are doing (at most
`MAX_IN_FLIGHT` outstanding; beyond that a request counts as `dropped`, i.e. the server
could not keep up). Runs in a child process pinned to the generator cores.

- history: GET /api/rooms/{room}/messages?limit=50&before=<random seq> on a room with
  5,000 messages.
- rooms: GET /api/rooms (first page of the public room list).
- login: POST /api/auth/login at a low rate (bcrypt cost 10 per login), and the room list
  measured at a fixed rate alone and again during the login burst, to show whether
  bcrypt blocks the event loop.

Owns: the api sub-command, its options, its load child and its results file (`api`).
Must not: drive sockets (the socket scenarios do), or start a baseline (they have no REST API).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bench import fixtures
from bench.common import CpuMeter, log, machine, save_result, summary
from bench.scenarios.options import floats, pin_options
from bench.targets import LOBBY_ROOM_ID, cpus_from_args, start

MAX_IN_FLIGHT = 512
HISTORY_MESSAGES = 5000


async def _load(base: str, specs: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
    """Run several request streams at once; each spec: {name, method, path(s), rate, headers, body}."""
    import aiohttp

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, limit_per_host=MAX_IN_FLIGHT)
    ) as session:

        async def stream(spec: dict[str, Any]) -> dict[str, Any]:
            rate = float(spec["rate"])
            total = int(rate * duration)
            lat: list[float] = []
            status: dict[str, int] = {}
            dropped = 0
            in_flight = 0
            tasks: set[asyncio.Task[Any]] = set()
            rnd = random.Random(1)

            async def one() -> None:
                nonlocal in_flight
                path = spec["path"](rnd) if callable(spec["path"]) else spec["path"]
                t = time.perf_counter()
                try:
                    async with session.request(
                        spec.get("method", "GET"),
                        base + path,
                        headers=spec.get("headers"),
                        json=spec.get("body"),
                        timeout=aiohttp.ClientTimeout(total=30),
                    ) as resp:
                        await resp.read()
                        key = str(resp.status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    key = type(exc).__name__
                lat.append((time.perf_counter() - t) * 1000.0)
                status[key] = status.get(key, 0) + 1
                in_flight -= 1

            t0 = time.monotonic()
            for i in range(total):
                due = t0 + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if in_flight >= MAX_IN_FLIGHT:
                    dropped += 1
                    continue
                in_flight += 1
                task = asyncio.ensure_future(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 35)
            lat.sort()
            ok = sum(v for k, v in status.items() if k.startswith("2"))
            return {
                "name": spec["name"],
                "rate": rate,
                "requests": total,
                "ok": ok,
                "status": status,
                "dropped": dropped,
                "achieved_per_s": round(len(lat) / duration, 1),
                "latency_ms": summary(lat),
            }

        return list(await asyncio.gather(*(stream(s) for s in specs)))


def _child(
    base: str, specs: list[dict[str, Any]], duration: float, cpus: list[int] | None
) -> list[dict[str, Any]]:
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(cpus))
    try:
        import uvloop

        return uvloop.run(_load(base, _materialise(specs), duration))
    except ImportError:  # pragma: no cover
        return asyncio.run(_load(base, _materialise(specs), duration))


def _materialise(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paths given as ("history", room, max_seq) become random `before=` pages."""
    out = []
    for s in specs:
        s = dict(s)
        if isinstance(s["path"], tuple) and s["path"][0] == "history":
            _, room, top = s["path"]
            s["path"] = lambda rnd, room=room, top=top: (
                f"/api/rooms/{room}/messages?limit=50&before={rnd.randint(51, top)}"
            )
        out.append(s)
    return out


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("api", help="REST latency at fixed request rates (ours only)")
    p.add_argument("--rates", type=floats, default=floats("100,250,500,1000"))
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--endpoints", default="history,rooms", help="comma list of history,rooms")
    p.add_argument("--login-rate", type=float, default=10.0, help="logins/s for the login runs")
    p.add_argument("--login-duration", type=float, default=10.0)
    p.add_argument(
        "--background-rate",
        type=float,
        default=200.0,
        help="room-list requests/s measured during the login burst",
    )
    pin_options(p)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    server_cpus, gen_cpus = cpus_from_args(args)
    fixtures.ensure_db()
    users = fixtures.users(100)
    fixtures.history(LOBBY_ROOM_ID, users[0]["id"], HISTORY_MESSAGES)
    auth = {"Authorization": f"Bearer {users[0]['token']}"}
    endpoints: dict[str, dict[str, Any]] = {
        "history": {"path": ("history", LOBBY_ROOM_ID, HISTORY_MESSAGES), "headers": auth},
        "rooms": {"path": "/api/rooms", "headers": auth},
    }
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    target = start(
        "ours",
        cpus=server_cpus,
        port=args.port,
        database_url=fixtures.dsn(),
        jwt_secret=fixtures.JWT_SECRET,
    )
    results: dict[str, Any] = {"steps": [], "login": {}}
    try:
        with ProcessPoolExecutor(1) as pool:

            def run(specs: list[dict[str, Any]], duration: float) -> list[dict[str, Any]]:
                cpu = CpuMeter(target.pids)
                cpu.start()
                out = pool.submit(_child, target.url, specs, duration, gen_cpus).result(
                    timeout=duration + 120
                )
                c = cpu.stop()
                for r in out:
                    r["server_cpu_pct"] = c
                return out

            run([{"name": "warmup", **endpoints["rooms"], "rate": 50}], 2)
            for name in [e.strip() for e in args.endpoints.split(",") if e.strip()]:
                for rate in args.rates:
                    (r,) = run([{"name": name, **endpoints[name], "rate": rate}], args.duration)
                    r["pass_p95_20ms"] = (r["latency_ms"]["p95"] or 1e9) < 20 and r["ok"] == r[
                        "requests"
                    ]
                    results["steps"].append(r)
                    log(
                        f"api {name} @ {rate:g}/s: ok {r['ok']}/{r['requests']} p50 {r['latency_ms']['p50']} "
                        f"p95 {r['latency_ms']['p95']} p99 {r['latency_ms']['p99']} dropped {r['dropped']} cpu {r['server_cpu_pct']}%"
                    )
                    if r["ok"] < 0.9 * r["requests"]:
                        break
            login_body = {
                "email": users[1]["username"] + "@bench.example.com",
                "password": fixtures.BENCH_PASSWORD,
            }
            login = {
                "name": "login",
                "method": "POST",
                "path": "/api/auth/login",
                "body": login_body,
                "rate": args.login_rate,
            }
            bg = {"name": "rooms_background", **endpoints["rooms"], "rate": args.background_rate}
            (alone,) = run([bg], args.login_duration)
            log(
                f"rooms alone @ {args.background_rate:g}/s: p50 {alone['latency_ms']['p50']} p95 {alone['latency_ms']['p95']} p99 {alone['latency_ms']['p99']}"
            )
            with_login = run([bg, login], args.login_duration)
            by = {r["name"]: r for r in with_login}
            log(
                f"rooms during logins @ {args.login_rate:g}/s: p50 {by['rooms_background']['latency_ms']['p50']} "
                f"p95 {by['rooms_background']['latency_ms']['p95']} p99 {by['rooms_background']['latency_ms']['p99']}; "
                f"login p50 {by['login']['latency_ms']['p50']} p99 {by['login']['latency_ms']['p99']} ok {by['login']['ok']}/{by['login']['requests']}"
            )
            results["login"] = {
                "login": by["login"],
                "rooms_alone": alone,
                "rooms_during_login": by["rooms_background"],
                "rooms_p95_ratio_during_login": round(
                    (by["rooms_background"]["latency_ms"]["p95"] or 0)
                    / (alone["latency_ms"]["p95"] or 1),
                    2,
                ),
            }
    finally:
        target.stop()
    save_result(
        "api",
        {
            "params": {
                "rates": args.rates,
                "duration_s": args.duration,
                "login_rate": args.login_rate,
                "background_rate": args.background_rate,
                "bcrypt_rounds": 10,
            },
            "machine": machine(),
            "started": started,
            "server_cpus": server_cpus,
            "gen_cpus": gen_cpus,
            "results": {"ours": results},
        },
        args.tag,
    )
