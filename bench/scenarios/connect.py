"""`python -m bench connect`: the connection ramp.

N authenticated sockets (tokens for ours, the room list for the baselines) connected at
`--rate` per second: success, connects/s, handshake latency, server RSS before and after
(KB per connection) and sampled during the ramp, and how many are still alive after
`--hold` seconds. `--instances N` runs ours as N instances sharing Redis, with the
connections alternating over their ports (no proxy: HAProxy would cap the count).

Owns: the connect sub-command, its options and its results file (`connect-<n>`).
Must not: send messages (the rate-stepping scenarios do), or touch the shared Redis
database other than the bench's own (`--redis-url`, DB 15 by default).
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bench import fixtures
from bench.common import CpuMeter, log, machine, rss_kb, save_result, summary
from bench.loadgen.pool import LoadGen
from bench.loadgen.worker import C_CONNECTED
from bench.scenarios.cluster import launch_direct
from bench.scenarios.options import ints, target_options
from bench.scenarios.runner import TargetFn, for_targets, ratios
from bench.targets import Target, cpus_from_args

# How often the server's RSS and the connected count are sampled during the ramp.
RSS_SAMPLE_S = 0.5
# At most this many samples are kept for the RSS-vs-connections plot.
MAX_RSS_SAMPLES = 200


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "connect", help="connection ramp: success, connects/s, latency, RSS per connection, hold"
    )
    target_options(p)
    p.add_argument("--n", type=ints, default=[1000], help="comma list of connection counts")
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
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    """One results file per connection count in `--n`."""
    for n in args.n:

        def fn(target: Target, lg: LoadGen, gen_pids: list[int], n: int = n) -> dict[str, Any]:
            return run_connect(
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
                "connects_per_s": ratios(res, lambda r: r.get("connects_per_s")),
                "kb_per_connection": ratios(res, lambda r: r.get("kb_per_connection")),
                "connect_p99_ms": ratios(
                    res, lambda r: (r.get("connect_latency_ms") or {}).get("p99")
                ),
            },
        }
        save_result(f"connect-{n}", result, args.tag or ("deflate" if args.deflate else ""))


def _connect_instances(args: argparse.Namespace, fn: TargetFn) -> dict[str, Any]:
    """Ours as N instances sharing Redis, connections alternating over them (no baselines:
    they have no cluster mode). RSS and CPU are summed over the instances."""
    server_cpus, gen_cpus = cpus_from_args(args)
    fixtures.ensure_db()
    with LoadGen(args.workers, gen_cpus) as lg:
        target = launch_direct(args.instances, server_cpus, args.redis_url)
        try:
            result = fn(target, lg, [p.pid for p in lg.procs])
            result["server_died"] = not target.alive()
        finally:
            target.stop()
    return {"results": {"ours": result}, "server_cpus": server_cpus, "gen_cpus": gen_cpus}


def run_connect(
    target: Target,
    lg: LoadGen,
    n: int,
    *,
    rate: float,
    hold: float,
    deflate: bool,
    concurrency: int,
    gen_pids: list[int],
) -> dict[str, Any]:
    users = (
        fixtures.users(n) if target.uses_tokens else [{"id": f"u{i}", "index": i} for i in range(n)]
    )
    specs: list[dict[str, Any]] = [
        {"key": u["index"], "auth": target.auth(u, ["lobby"]), "rooms": ["lobby"]} for u in users
    ]
    for i, spec in enumerate(specs):
        if target.ports:
            spec["port"] = target.ports[i % len(target.ports)]
    pid = target.pids[0] if target.pids else None
    time.sleep(1.0)
    rss0 = sum(rss_kb(p) or 0 for p in target.pids) if pid else None
    samples: list[tuple[float, int, int | None]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            rss = sum(rss_kb(p) or 0 for p in target.pids) if pid else None
            samples.append((round(time.monotonic() - t0, 2), lg.total(C_CONNECTED), rss))
            stop.wait(RSS_SAMPLE_S)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    server_cpu = CpuMeter(target.pids)
    gen_cpu = CpuMeter(gen_pids)
    server_cpu.start()
    gen_cpu.start()
    res = lg.connect(
        target.host,
        target.port,
        specs,
        rate=rate,
        concurrency=concurrency,
        timeout=max(120.0, n / rate * 5 + 60),
        deflate=deflate,
    )
    scpu = server_cpu.stop()
    gcpu = gen_cpu.stop()
    log(
        f"{target.name}: {res['connected']}/{n} connected in {res['elapsed_s']:.1f}s; holding {hold:g}s"
    )
    time.sleep(3.0)
    rss1 = sum(rss_kb(p) or 0 for p in target.pids) if pid else None
    hold_end = time.monotonic() + hold
    while time.monotonic() < hold_end:
        time.sleep(min(10.0, max(0.0, hold_end - time.monotonic())))
        if time.monotonic() < hold_end:
            log(f"{target.name}: holding, {lg.progress_line()}")
    st = lg.status()
    rss2 = sum(rss_kb(p) or 0 for p in target.pids) if pid else None
    stop.set()
    th.join()
    lg.disconnect()
    connected = res["connected"]
    return {
        "n": n,
        "connected": connected,
        "failed": res["failed"],
        "fail_reasons": res["fail_reasons"],
        "success_pct": round(100.0 * connected / n, 3) if n else None,
        "elapsed_s": round(res["elapsed_s"], 2),
        "connects_per_s": round(connected / res["elapsed_s"], 1) if res["elapsed_s"] else None,
        "connect_latency_ms": summary(res["latency_ms"]),
        "server_cpu_pct_during_ramp": scpu,
        "gen_cpu_pct_during_ramp": gcpu,
        "rss_kb_before": rss0,
        "rss_kb_after": rss1,
        "rss_kb_after_hold": rss2,
        "kb_per_connection": round((rss1 - rss0) / connected, 1)
        if rss0 and rss1 and connected
        else None,
        "hold_s": hold,
        "alive_after_hold": st["alive"],
        "all_alive_after_hold": st["alive"] == connected,
        "close_reasons": st["close_reasons"],
        "rss_samples": samples[:: max(1, len(samples) // MAX_RSS_SAMPLES)],
    }
