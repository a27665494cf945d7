"""Taking one scenario through each target in one run: ours, then the baselines.

Owns: starting each target in turn against the bench database (or driving `--url`),
turning a target's failure into that target's result so the others still run, and the
`ours / baseline` ratios every results file carries.
Must not: know what a scenario measures (it gets a function per target), or start a
cluster (bench.scenarios.cluster and bench.scenarios.connect do that themselves).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

from bench import fixtures
from bench.common import log
from bench.loadgen.pool import LoadGen
from bench.scenarios.options import target_names
from bench.targets import Target, cpus_from_args, external, start

# A stopped target's port and memory are given back before the next one starts.
PAUSE_BETWEEN_TARGETS_S = 2.0

TargetFn = Callable[[Target, LoadGen, list[int]], dict[str, Any]]


def for_targets(args: argparse.Namespace, fn: TargetFn) -> dict[str, Any]:
    """`fn(target, loadgen, generator pids)` for each of `--targets` (or the `--url`
    server alone, as "ours"); the results and the pinning used."""
    server_cpus, gen_cpus = cpus_from_args(args)
    results: dict[str, Any] = {}
    # Baselines use the same user and room ids as ours, so the fixtures are always made.
    fixtures.ensure_db()
    with LoadGen(args.workers, gen_cpus) as lg:
        gen_pids = [p.pid for p in lg.procs]
        if args.url:
            pids = [int(p) for p in args.pids.split(",") if p.strip()]
            results["ours"] = fn(external(args.url, pids), lg, gen_pids)
            return {"results": results, "server_cpus": None, "gen_cpus": gen_cpus}
        for name in target_names(args):
            target = start(
                name,
                cpus=server_cpus,
                port=args.port,
                database_url=fixtures.dsn(),
                jwt_secret=fixtures.JWT_SECRET,
            )
            results[name] = run_target(target, lg, functools.partial(fn, target, lg, gen_pids))
            time.sleep(PAUSE_BETWEEN_TARGETS_S)
    return {"results": results, "server_cpus": server_cpus, "gen_cpus": gen_cpus}


def run_target(target: Target, lg: LoadGen, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One target's share of a multi-target run, then the target stopped: a failure becomes
    that target's result (`error`) so the others still run, and a server that died on the
    way is flagged (`server_died`)."""
    try:
        result = run()
    except Exception as exc:
        log(f"{target.name} failed: {type(exc).__name__}: {exc}")
        result = {"error": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(Exception):
            lg.disconnect()
    if not target.alive():
        result["server_died"] = True
    target.stop()
    return result


def ratios(
    results: dict[str, Any], metric: Callable[[dict[str, Any]], float | None]
) -> dict[str, float | None]:
    """ours / baseline for a metric, for each baseline present."""
    out: dict[str, float | None] = {}
    ours = results.get("ours")
    if ours is None:
        return out
    a = metric(ours)
    for name, res in results.items():
        if name == "ours":
            continue
        b = metric(res)
        out[f"ours/{name}"] = round(a / b, 3) if a is not None and b else None
    return out


def best_deliveries(result: dict[str, Any]) -> float | None:
    """A stepping target's capacity: deliveries/s of its best passing step."""
    return (result.get("best") or {}).get("deliveries_per_s")
