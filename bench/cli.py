"""`python -m bench <scenario> [options]`: see bench/README.md for the exact commands."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import fixtures, scenarios
from bench.common import RESULTS_DIR, log, machine, save_result
from bench.loadgen.pool import LoadGen
from bench.targets import LOBBY_ROOM_ID, Target, cpus_from_args, external, start


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x.strip()]


def _ints(s: str) -> list[int]:
    return [int(float(x)) for x in s.split(",") if x.strip()]


def common(p: argparse.ArgumentParser, targets: str = "ours,py,node") -> None:
    p.add_argument(
        "--targets", default=targets, help="comma list of ours,py,node (default %(default)s)"
    )
    p.add_argument(
        "--url", help="drive an already running server instead (e.g. HAProxy); disables --targets"
    )
    p.add_argument(
        "--pids", default="", help="with --url: comma list of server pids for RSS/CPU figures"
    )
    p.add_argument(
        "--workers", type=int, default=2, help="load generator processes (default %(default)s)"
    )
    p.add_argument(
        "--server-cpus",
        default=None,
        help="taskset list for the server (default: first half of the cores)",
    )
    p.add_argument(
        "--gen-cpus", default=None, help="cpu list for the generator (default: second half)"
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin server or generator")
    p.add_argument(
        "--deflate", action="store_true", help="offer permessage-deflate like browsers do"
    )
    p.add_argument("--tag", default="", help="suffix for the results file name")
    p.add_argument("--port", type=int, default=None, help="port for the started server")


def fanout_opts(p: argparse.ArgumentParser, rates: str, duration: float) -> None:
    p.add_argument(
        "--rates",
        type=_floats,
        default=_floats(rates),
        help="total msgs/s per step (default %(default)s)",
    )
    p.add_argument("--duration", type=float, default=duration, help="seconds per step")
    p.add_argument(
        "--drain", type=float, default=5.0, help="seconds to wait for stragglers after a step"
    )
    p.add_argument(
        "--stop-after-fails", type=int, default=1, help="stop stepping after this many failed steps"
    )
    p.add_argument("--connect-rate", type=float, default=1000.0)
    p.add_argument("--warmup-rate", type=float, default=None, help="default: half the first rate")
    p.add_argument("--pad", type=int, default=0, help="extra characters per message")
    p.add_argument(
        "--profile-rate",
        type=float,
        default=None,
        help="py-spy the server (ours only) during this step",
    )
    p.add_argument("--profile-seconds", type=int, default=20)


def for_targets(
    args: argparse.Namespace, fn: Callable[[Target, LoadGen, list[int]], dict[str, Any]]
) -> dict[str, Any]:
    server_cpus, gen_cpus = cpus_from_args(args)
    names = [t.strip() for t in args.targets.split(",") if t.strip()]
    results: dict[str, Any] = {}
    # Baselines use the same user and room ids as ours, so the fixtures are always made.
    fixtures.ensure_db()
    with LoadGen(args.workers, gen_cpus) as lg:
        gen_pids = [p.pid for p in lg.procs]
        if args.url:
            pids = [int(p) for p in args.pids.split(",") if p.strip()]
            t = external(args.url, pids)
            results["ours"] = fn(t, lg, gen_pids)
            return {"results": results, "server_cpus": None, "gen_cpus": gen_cpus}
        for name in names:
            target = start(
                name,
                cpus=server_cpus,
                port=args.port,
                database_url=fixtures.dsn(),
                jwt_secret=fixtures.JWT_SECRET,
            )
            results[name] = scenarios.run_target(target, lg, lambda t=target: fn(t, lg, gen_pids))
            time.sleep(2.0)
    return {"results": results, "server_cpus": server_cpus, "gen_cpus": gen_cpus}


def _best_rate(r: dict[str, Any]) -> float | None:
    return (r.get("best") or {}).get("deliveries_per_s")


def run_plan(
    args: argparse.Namespace,
    plan_fn: Callable[[Target], scenarios.Plan],
    name: str,
    params: dict[str, Any],
) -> None:
    opts = scenarios.RunOpts.from_args(
        args, profile_name=f"profile-{name}{'-' + args.tag if args.tag else ''}"
    )

    def fn(target: Target, lg: LoadGen, gen_pids: list[int]) -> dict[str, Any]:
        prof = opts.profile_rate if target.kind == "ours" else None
        o = scenarios.RunOpts(**{**opts.__dict__, "profile_rate": prof})
        return scenarios.run_steps(target, lg, plan_fn(target), o, gen_pids)

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    out = for_targets(args, fn)
    result = {
        "params": params
        | {
            "rates": args.rates,
            "duration_s": args.duration,
            "deflate": args.deflate,
            "workers": args.workers,
        },
        "machine": machine(),
        "started": started,
        **out,
        "ratios": {"best_deliveries_per_s": scenarios.ratios(out["results"], _best_rate)},
    }
    if args.profile_rate is not None:
        txt = RESULTS_DIR / f"{opts.profile_name}.txt"
        if txt.exists():
            result["profile"] = {
                "svg": f"{opts.profile_name}.svg",
                "rate": args.profile_rate,
                **scenarios.top_costs(txt),
            }
    save_result(name, result, args.tag or ("deflate" if args.deflate else ""))


def cmd_fanout(args: argparse.Namespace) -> None:
    plan_cache: dict[str, scenarios.Plan] = {}

    def plan(target: Target) -> scenarios.Plan:
        if "p" not in plan_cache:
            plan_cache["p"] = scenarios.rooms_plan(args.rooms, args.members, args.senders)
        return plan_cache["p"]

    run_plan(
        args,
        plan,
        f"fanout-{args.rooms}x{args.members}",
        {"rooms": args.rooms, "members": args.members, "senders_per_room": args.senders},
    )


def cmd_lobby(args: argparse.Namespace) -> None:
    plan_cache: dict[str, scenarios.Plan] = {}

    def plan(target: Target) -> scenarios.Plan:
        if "p" not in plan_cache:
            plan_cache["p"] = scenarios.rooms_plan(1, args.n, args.senders, lobby=True)
        return plan_cache["p"]

    run_plan(
        args,
        plan,
        f"lobby-{args.n}",
        {"connections": args.n, "room": LOBBY_ROOM_ID, "senders": args.senders},
    )


def cmd_dm(args: argparse.Namespace) -> None:
    plan_cache: dict[str, scenarios.Plan] = {}

    def plan(target: Target) -> scenarios.Plan:
        if "p" not in plan_cache:
            plan_cache["p"] = scenarios.dm_plan(args.pairs)
        return plan_cache["p"]

    run_plan(args, plan, f"dm-{args.pairs}", {"pairs": args.pairs})


def cmd_connect(args: argparse.Namespace) -> None:
    for n in args.n:

        def fn(target: Target, lg: LoadGen, gen_pids: list[int], n: int = n) -> dict[str, Any]:
            return scenarios.run_connect(
                target,
                lg,
                n,
                rate=args.rate,
                hold=args.hold,
                deflate=args.deflate,
                concurrency=args.concurrency,
                gen_pids=gen_pids,
            )

        started = time.strftime("%Y-%m-%d %H:%M:%S")
        out = _connect_instances(args, fn) if args.instances > 1 else for_targets(args, fn)
        res = out["results"]
        result = {
            "params": {
                "n": n,
                "instances": args.instances,
                "rate": args.rate,
                "hold_s": args.hold,
                "deflate": args.deflate,
                "workers": args.workers,
            },
            "machine": machine(),
            "started": started,
            **out,
            "ratios": {
                "connects_per_s": scenarios.ratios(res, lambda r: r.get("connects_per_s")),
                "kb_per_connection": scenarios.ratios(res, lambda r: r.get("kb_per_connection")),
                "connect_p99_ms": scenarios.ratios(
                    res, lambda r: (r.get("connect_latency_ms") or {}).get("p99")
                ),
            },
        }
        save_result(f"connect-{n}", result, args.tag or ("deflate" if args.deflate else ""))


def _connect_instances(
    args: argparse.Namespace, fn: Callable[[Target, LoadGen, list[int]], dict[str, Any]]
) -> dict[str, Any]:
    """Ours as N instances sharing Redis, connections alternating over them (no baselines:
    they have no cluster mode). RSS and CPU are summed over the instances."""
    from bench import cluster

    server_cpus, gen_cpus = cpus_from_args(args)
    fixtures.ensure_db()
    with LoadGen(args.workers, gen_cpus) as lg:
        target = cluster.launch_direct(args.instances, server_cpus, args.redis_url)
        try:
            result = fn(target, lg, [p.pid for p in lg.procs])
            result["server_died"] = not target.alive()
        finally:
            target.stop()
    return {"results": {"ours": result}, "server_cpus": server_cpus, "gen_cpus": gen_cpus}


def cmd_api(args: argparse.Namespace) -> None:
    from bench import api

    api.main(args)


def cmd_cluster(args: argparse.Namespace) -> None:
    from bench import cluster

    cluster.main(args)


def cmd_artillery(args: argparse.Namespace) -> None:
    from bench import artillery

    artillery.main(args)


def cmd_floor(args: argparse.Namespace) -> None:
    from bench import floor

    floor.main(args)


def cmd_redis(args: argparse.Namespace) -> None:
    from bench import redis_client

    redis_client.main(args)


def cmd_report(args: argparse.Namespace) -> None:
    from bench import report

    report.main(args)


def cmd_db(args: argparse.Namespace) -> None:
    if args.drop:
        fixtures.drop_db()
        return
    fixtures.ensure_db(drop=args.fresh)
    if args.users:
        fixtures.users(args.users, with_tokens=False)
    log(f"bench database ready: {fixtures.dsn()}")


def cmd_machine(args: argparse.Namespace) -> None:
    import json

    print(json.dumps(machine(), indent=1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Chat server benchmark suite"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "connect", help="connection ramp: success, connects/s, latency, RSS per connection, hold"
    )
    common(p)
    p.add_argument("--n", type=_ints, default=[1000], help="comma list of connection counts")
    p.add_argument("--rate", type=float, default=1000.0, help="connection attempts per second")
    p.add_argument("--concurrency", type=int, default=400, help="handshakes in flight at most")
    p.add_argument(
        "--hold", type=float, default=30.0, help="seconds to hold before checking all are alive"
    )
    p.add_argument(
        "--instances",
        type=int,
        default=1,
        help="N > 1: ours only, as N instances sharing Redis, connections alternating over them",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="with --instances")
    p.set_defaults(fn=cmd_connect)

    p = sub.add_parser("fanout", help="R rooms x M members, stepping the total message rate")
    common(p)
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--senders", type=int, default=10, help="senders per room")
    fanout_opts(p, "50,100,200,300,400,600", 10.0)
    p.set_defaults(fn=cmd_fanout)

    p = sub.add_parser(
        "lobby", help="N connections in the lobby (every user's room), messages into it"
    )
    common(p)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--senders", type=int, default=10)
    fanout_opts(p, "2", 20.0)
    p.set_defaults(fn=cmd_lobby)

    p = sub.add_parser("dm", help="DM storm: pairs messaging each other")
    common(p)
    p.add_argument("--pairs", type=int, default=500)
    fanout_opts(p, "250,500,1000,2000", 10.0)
    p.set_defaults(fn=cmd_dm)

    p = sub.add_parser("api", help="REST latency at fixed request rates (ours only)")
    p.add_argument("--rates", type=_floats, default=_floats("100,250,500,1000"))
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
    p.add_argument("--server-cpus", default=None)
    p.add_argument("--gen-cpus", default=None)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--tag", default="")
    p.set_defaults(fn=cmd_api)

    p = sub.add_parser("cluster", help="fan-out through HAProxy to 2 instances + Redis")
    common(p, targets="ours")
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--senders", type=int, default=10)
    p.add_argument("--instances", type=int, default=2, help="with --launch: app instances")
    p.add_argument(
        "--launch",
        action="store_true",
        help="start Redis-backed instances + HAProxy (needs haproxy)",
    )
    p.add_argument(
        "--haproxy-cfg",
        default=None,
        help="with --launch: use this haproxy config instead of the bench's",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    fanout_opts(p, "100,250,500,1000", 10.0)
    p.set_defaults(fn=cmd_cluster)

    p = sub.add_parser(
        "artillery", help="cross-check one scenario with Artillery (npm) vs the lean generator"
    )
    p.add_argument("--target", default="py", choices=["ours", "py", "node"])
    p.add_argument("--vus", type=int, default=50, help="virtual users, all in one room")
    p.add_argument("--msgs", type=int, default=40, help="messages per virtual user")
    p.add_argument("--think", type=float, default=0.5, help="seconds between a user's messages")
    p.add_argument("--server-cpus", default=None)
    p.add_argument("--gen-cpus", default=None)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--tag", default="")
    p.set_defaults(fn=cmd_artillery)

    p = sub.add_parser("floor", help="the kernel's cost of one fan-out: N loopback sends")
    p.add_argument("--n", type=_ints, default=[1000, 10000], help="comma list of socket counts")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument(
        "--threads",
        type=_ints,
        default=[1],
        help="comma list of sender thread counts; above 1 the sender may use every core",
    )
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--tag", default="")
    p.set_defaults(fn=cmd_floor)

    p = sub.add_parser("redis", help="client CPU per Redis command on the message path")
    p.add_argument("--n", type=int, default=5000, help="commands per case")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--tag", default="")
    p.set_defaults(fn=cmd_redis)

    p = sub.add_parser("report", help="RESULTS.md and PNG plots from bench/results/*.json")
    p.add_argument(
        "--all", action="store_true", help="list every run, not only the latest per scenario"
    )
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("db", help="create/migrate (or drop) the bench database and its users")
    p.add_argument("--users", type=int, default=0)
    p.add_argument("--fresh", action="store_true", help="drop and recreate first")
    p.add_argument("--drop", action="store_true", help="drop the bench database and exit")
    p.set_defaults(fn=cmd_db)

    p = sub.add_parser("machine", help="print the machine description recorded with results")
    p.set_defaults(fn=cmd_machine)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args.fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
