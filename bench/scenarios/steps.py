"""Rate steps: one plan's sockets connected, then the message rate stepped up.

Delivery latency: every message's content is `bench <step> <send time ns> <tag>`; the
receiving worker subtracts the send time from its clock at parse time. All processes share
the machine's clock, so no synchronisation is needed (everything runs on 127.0.0.1).

Loss: after a step's sends, expected deliveries = sum over rooms (or DM pairs) of
messages sent to it x sockets alive in it; anything not received within the drain time
counts as lost, as does a send whose ack says ok:false or never comes.

Owns: the stepping (warm-up, steps, settling, the pass rule: p99 < 100 ms, no loss, no ack
error), one step's figures, and `run_plan`, which takes a stepping scenario through every
target and writes its results file (fanout, lobby and dm use it; cluster and artillery
call `run_steps` with targets of their own).
Must not: start or stop servers (bench.scenarios.runner and the cluster scenario do), or
decide what a scenario's plan is (bench.scenarios.plans).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import RESULTS_DIR, CpuMeter, log, machine, pct, rss_kb, save_result, summary
from bench.loadgen.pool import LoadGen
from bench.scenarios.plans import Plan
from bench.scenarios.profile import start_profile, top_costs
from bench.scenarios.runner import best_deliveries, for_targets, ratios
from bench.targets import Target

# docs/contract.md §11's latency target: a step passes only with p99 delivery below it.
P99_LIMIT_MS = 100.0


@dataclass
class RunOpts:
    rates: list[float]
    duration: float = 10.0
    drain: float = 5.0
    warmup_rate: float = 0.0
    warmup_s: float = 3.0
    connect_rate: float = 1000.0
    deflate: bool = False
    stop_after_fails: int = 1
    settle_s: float = 2.0
    pad: int = 0
    profile_rate: float | None = None
    profile_seconds: int = 20
    profile_name: str = "profile-fanout"

    @classmethod
    def from_args(cls, args: Any, profile_name: str | None = None) -> RunOpts:
        """The options of a rate-stepping command (bench.scenarios.options.step_options); py-spy
        only when a `profile_name` is given."""
        profile: dict[str, Any] = {}
        if profile_name is not None:
            profile = {
                "profile_rate": args.profile_rate,
                "profile_seconds": args.profile_seconds,
                "profile_name": profile_name,
            }
        return cls(
            rates=args.rates,
            duration=args.duration,
            drain=args.drain,
            warmup_rate=args.warmup_rate
            if args.warmup_rate is not None
            else max(1.0, args.rates[0] / 2),
            connect_rate=args.connect_rate,
            deflate=args.deflate,
            stop_after_fails=args.stop_after_fails,
            pad=args.pad,
            **profile,
        )


def specs_for(target: Target, plan: Plan) -> list[dict[str, Any]]:
    specs = []
    for u in plan.users:
        rooms = plan.member_of.get(u["index"], [])
        if not rooms:
            continue
        specs.append(
            {
                "key": u["index"],
                "auth": target.auth(u, [r for r in rooms if not r.startswith("dm:")]),
                "rooms": rooms,
            }
        )
    return specs


def connect_plan(target: Target, lg: LoadGen, plan: Plan, opts: RunOpts) -> dict[str, Any]:
    """Connect every socket of `plan` to `target`; the connect figures and the server's RSS
    before and after (the start of a stepping target's result)."""
    specs = specs_for(target, plan)
    log(f"{target.name}: connecting {len(specs)} sockets ({plan.description})")
    rss0 = rss_kb(target.pids[0]) if target.pids else None
    conn = lg.connect(
        target.host,
        target.port,
        specs,
        rate=opts.connect_rate,
        deflate=opts.deflate,
        timeout=max(120.0, len(specs) / opts.connect_rate * 5 + 60),
    )
    time.sleep(1.0)
    rss1 = sum(rss_kb(p) or 0 for p in target.pids) if target.pids else None
    st = lg.status()
    log(f"{target.name}: {conn['connected']}/{conn['attempted']} connected, alive {st['alive']}")
    return {
        "connect": {k: v for k, v in conn.items() if k != "latency_ms"}
        | {"latency_ms": summary(conn["latency_ms"])},
        "rss_kb_before_connect": rss0,
        "rss_kb_connected": rss1,
        "steps": [],
    }


def warm_up(target: Target, lg: LoadGen, plan: Plan, opts: RunOpts, pad: str) -> None:
    """A few seconds of unmeasured sends at the warm-up rate (the database pool's
    connections, the server's caches), so the first step is not the one paying for them."""
    if opts.warmup_rate > 0 and opts.warmup_s > 0:
        log(f"{target.name}: warm-up {opts.warmup_rate}/s for {opts.warmup_s}s")
        lg.send("w", plan.senders, rate=opts.warmup_rate, duration=opts.warmup_s, pad=pad)
        drain(lg, 0, 0, opts.settle_s + 1)
        lg.collect("w", reset_all=True)


def run_steps(
    target: Target, lg: LoadGen, plan: Plan, opts: RunOpts, gen_pids: list[int]
) -> dict[str, Any]:
    out = connect_plan(target, lg, plan, opts)
    pad = " " + "x" * opts.pad if opts.pad else ""
    warm_up(target, lg, plan, opts, pad)
    fails = 0
    for i, rate in enumerate(opts.rates):
        profile = opts.profile_rate is not None and abs(rate - opts.profile_rate) < 1e-9
        duration = max(opts.duration, opts.profile_seconds + 4) if profile else opts.duration
        step = run_step(target, lg, plan, f"s{i}", rate, duration, opts, pad, gen_pids, profile)
        out["steps"].append(step)
        flag = "PASS" if step["pass"] else "FAIL"
        log(
            f"{target.name} {plan.description} @ {rate:g} msg/s: {flag} deliveries/s {step['deliveries_per_s']:.0f} "
            f"p50 {step['latency_ms']['p50']} p99 {step['latency_ms']['p99']} loss {step['loss']} "
            f"ack p99 {step['ack_latency_ms']['p99']} server cpu {step['server_cpu_pct']}% gen cpu {step['gen_cpu_pct']}% "
            f"per message: first p50/max {step['per_message_ms']['first']['p50']}/{step['per_message_ms']['first']['max']} "
            f"last p50/max {step['per_message_ms']['last']['p50']}/{step['per_message_ms']['last']['max']}"
        )
        if not step["pass"]:
            fails += 1
            if fails >= opts.stop_after_fails:
                break
        settle(lg, opts.settle_s)
    if opts.profile_rate is not None and not any(s["profiled"] for s in out["steps"]):
        # Stepping stopped before the profiled rate: profile one extra step at that rate.
        duration = max(opts.duration, opts.profile_seconds + 4)
        step = run_step(
            target, lg, plan, "sp", opts.profile_rate, duration, opts, pad, gen_pids, True
        )
        step["extra_profile_step"] = True
        out["profile_step"] = step
        log(
            f"{target.name} profiled step @ {opts.profile_rate:g} msg/s: p50 {step['latency_ms']['p50']} p99 {step['latency_ms']['p99']} server cpu {step['server_cpu_pct']}%"
        )
    final = lg.status()
    out["alive_at_end"] = final["alive"]
    out["close_reasons"] = final["close_reasons"]
    passing = [s for s in out["steps"] if s["pass"]]
    best = max(passing, key=lambda s: s["deliveries_per_s"]) if passing else None
    out["best"] = (
        {k: best[k] for k in ("rate", "deliveries_per_s", "latency_ms", "ack_latency_ms")}
        if best
        else None
    )
    lg.disconnect()
    return out


def drain(lg: LoadGen, d0: int, expected: int, timeout: float) -> None:
    """Wait until `expected` deliveries arrived after `d0`, or the flow stops, or timeout."""
    deadline = time.monotonic() + timeout
    last = lg.delivered()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        now = lg.delivered()
        if expected and now - d0 >= expected:
            return
        if now != last:
            last = now
            quiet_since = time.monotonic()
        elif not expected and time.monotonic() - quiet_since > 0.5:
            return
        time.sleep(0.05)


def settle(lg: LoadGen, seconds: float) -> None:
    """Let a backlog from an overloaded step flush before the next one starts."""
    drain(lg, 0, 0, max(seconds, 0.5) + 10)
    time.sleep(max(0.0, seconds - 0.5))
    lg.collect("none", reset_all=True)


def run_step(
    target: Target,
    lg: LoadGen,
    plan: Plan,
    step_id: str,
    rate: float,
    duration: float,
    opts: RunOpts,
    pad: str,
    gen_pids: list[int],
    profile: bool,
    senders: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One step at `rate` for `duration` s from the plan's senders (or `senders`: senders
    that change messages, with a `cycle`, are measured by their `message_updated`)."""
    server_cpu = CpuMeter(target.pids)
    gen_cpu = CpuMeter(gen_pids)
    d0 = lg.delivered()
    prof: list[subprocess.Popen[bytes]] = []
    if profile and target.pids:
        prof = start_profile(target.pids[0], opts.profile_seconds, opts.profile_name)
    server_cpu.start()
    gen_cpu.start()
    sent = lg.send(step_id, senders or plan.senders, rate=rate, duration=duration, pad=pad)
    st = lg.status()
    alive = st["alive_by_target"]
    changes = sent["changes"]
    # A change reaches the room's sockets once each, like a message; a no-op reaches nobody.
    per_target = (
        Counter(room for room, _seq in changes["by_key"])
        if changes is not None
        else sent["sent_by_target"]
    )
    expected = sum(n * alive.get(t, 0) for t, n in per_target.items())
    drain(lg, d0, expected, opts.drain)
    scpu = server_cpu.stop()
    gcpu = gen_cpu.stop()
    got = lg.collect(step_id, changes=changes["by_key"] if changes is not None else None)
    for p in prof:
        try:
            p.wait(timeout=opts.profile_seconds + 30)
        except subprocess.TimeoutExpired:
            p.kill()
    received = got["count"]
    lost = max(0, expected - received)
    ack_err = sum(sent["ack_err"].values())
    loss = round(lost / expected, 6) if expected else (1.0 if sent["sent"] else 0.0)
    lat = got["latency_ms"]
    p99 = pct(lat, 99)
    ok = (
        sent["sent"] > 0
        and lost == 0
        and ack_err == 0
        and sent["ack_missing"] == 0
        and sent["unsent_dead_sender"] == 0
        and p99 is not None
        and p99 < P99_LIMIT_MS
    )
    return {
        "rate": rate,
        "duration_s": duration,
        "sent": sent["sent"],
        "acked": sent["acked"],
        "ack_errors": sent["ack_err"],
        "ack_missing": sent["ack_missing"],
        "unsent_dead_sender": sent["unsent_dead_sender"],
        "expected": expected,
        "received": received,
        "extra_received": max(0, received - expected),
        "loss": loss,
        "deliveries_per_s": round(received / duration, 1),
        # Acks over the time from the first send to the last ack (at least the step's
        # duration): below the rate when the server fell behind.
        "acks_per_s": round(sent["acked"] / max(duration, sent["ack_span_s"] or 0.0), 1),
        "changes": len(changes["by_key"]) if changes is not None else None,
        "noop_acks": changes["noops"] if changes is not None else None,
        "unmatched_updates": got["unmatched_updates"],
        "frame_bytes_mean": got["frame_bytes_mean"],
        "latency_ms": summary(lat),
        # Over messages: each one's first / median / last recipient's latency.
        "per_message_ms": {k: summary(v) for k, v in got["per_message"].items()},
        "ack_latency_ms": summary(sent["ack_latency_ms"]),
        "max_send_lag_ms": round(sent["max_send_lag_ms"], 1),
        "generator_lagging": sent["max_send_lag_ms"] > 50,
        "server_cpu_pct": scpu,
        "gen_cpu_pct": gcpu,
        "server_rss_kb": sum(rss_kb(p) or 0 for p in target.pids) if target.pids else None,
        "alive": st["alive"],
        # Other processes on the shared machine: a high load means the server got less CPU.
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "pass": ok,
        "profiled": bool(prof),
    }


def run_plan(
    args: argparse.Namespace,
    make_plan: Callable[[], Plan],
    name: str,
    params: dict[str, Any],
) -> None:
    """A stepping scenario through every target (`--targets`, or `--url`), with the same
    plan for all (made once, after the bench database is ready), into one results file
    named `name` with the best-step ratios; ours alone is profiled at `--profile-rate`."""
    profile_name = f"profile-{name}{'-' + args.tag if args.tag else ''}"
    opts = RunOpts.from_args(args, profile_name=profile_name)
    plans: list[Plan] = []

    def fn(target: Target, lg: LoadGen, gen_pids: list[int]) -> dict[str, Any]:
        if not plans:
            plans.append(make_plan())
        prof = opts.profile_rate if target.kind == "ours" else None
        o = RunOpts(**{**opts.__dict__, "profile_rate": prof})
        return run_steps(target, lg, plans[0], o, gen_pids)

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
        "ratios": {"best_deliveries_per_s": ratios(out["results"], best_deliveries)},
    }
    if args.profile_rate is not None:
        txt = RESULTS_DIR / f"{profile_name}.txt"
        if txt.exists():
            result["profile"] = {
                "svg": f"{profile_name}.svg",
                "rate": args.profile_rate,
                **top_costs(txt),
            }
    save_result(name, result, args.tag or ("deflate" if args.deflate else ""))
