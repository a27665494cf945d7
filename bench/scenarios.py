"""Socket scenarios: connect ramp, fan-out rate steps (rooms, lobby, DMs), and the runner
that takes every scenario through each target (ours, py, node) in one run.

Delivery latency: every message's content is `bench <step> <send time ns> <tag>`; the
receiving worker subtracts the send time from its clock at parse time. All processes share
the machine's clock, so no synchronisation is needed (everything runs on 127.0.0.1).

Loss: after a step's sends, expected deliveries = sum over rooms (or DM pairs) of
messages sent to it x sockets alive in it; anything not received within the drain time
counts as lost, as does a send whose ack says ok:false or never comes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fixtures
from bench.common import RESULTS_DIR, CpuMeter, log, pct, rss_kb, summary
from bench.loadgen.pool import LoadGen
from bench.loadgen.worker import C_CONNECTED
from bench.targets import LOBBY_ROOM_ID, Target

P99_LIMIT_MS = 100.0


@dataclass
class Plan:
    """Who connects (users, each with the measured targets it belongs to) and who sends."""

    users: list[dict[str, Any]]
    member_of: dict[int, list[str]]  # user index -> measured targets (room ids, dm:k)
    senders: list[dict[str, Any]]  # {key, event, payload, target}
    description: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- plans ------------------------------------------------------------------------------


def rooms_plan(rooms: int, members: int, senders_per_room: int, lobby: bool = False) -> Plan:
    """R rooms x M members (disjoint users); or the lobby with M members connected."""
    users = fixtures.users(rooms * members)
    if lobby:
        room_ids = [LOBBY_ROOM_ID]
        groups = [users[:members]]
    else:
        groups = [users[k * members : (k + 1) * members] for k in range(rooms)]
        room_ids = fixtures.rooms(f"bench-{rooms}x{members}", groups)
    member_of: dict[int, list[str]] = {}
    for rid, group in zip(room_ids, groups, strict=True):
        for u in group:
            member_of.setdefault(u["index"], []).append(rid)
    senders = []
    s = max(1, min(senders_per_room, members))
    for j in range(s):
        for rid, group in zip(room_ids, groups, strict=True):
            senders.append(
                {
                    "key": group[j]["index"],
                    "event": "send_message",
                    "payload": {"roomId": rid},
                    "target": rid,
                }
            )
    desc = f"lobby x {members} connected" if lobby else f"{rooms} rooms x {members} members"
    return Plan(
        users,
        member_of,
        senders,
        desc,
        {"rooms": rooms, "members": members, "senders": len(senders)},
    )


def dm_plan(pairs: int) -> Plan:
    """`pairs` pairs of users messaging each other; each DM reaches the recipient's socket
    and the sender's own socket (the server echoes new_dm to the sender's user room)."""
    users = fixtures.users(pairs * 2)
    member_of: dict[int, list[str]] = {}
    senders = []
    for k in range(pairs):
        a, b = users[2 * k], users[2 * k + 1]
        tgt = f"dm:{k}"
        member_of[a["index"]] = [tgt]
        member_of[b["index"]] = [tgt]
        senders.append(
            {
                "key": a["index"],
                "event": "send_dm",
                "payload": {"recipientId": b["id"]},
                "target": tgt,
            }
        )
        senders.append(
            {
                "key": b["index"],
                "event": "send_dm",
                "payload": {"recipientId": a["id"]},
                "target": tgt,
            }
        )
    return Plan(
        users, member_of, senders, f"{pairs} DM pairs", {"pairs": pairs, "senders": len(senders)}
    )


# -- running ----------------------------------------------------------------------------


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
        """The options of a rate-stepping command (`fanout_opts` in bench/cli.py); py-spy
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


def run_steps(
    target: Target, lg: LoadGen, plan: Plan, opts: RunOpts, gen_pids: list[int]
) -> dict[str, Any]:
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
    out: dict[str, Any] = {
        "connect": {k: v for k, v in conn.items() if k != "latency_ms"}
        | {"latency_ms": summary(conn["latency_ms"])},
        "rss_kb_before_connect": rss0,
        "rss_kb_connected": rss1,
        "steps": [],
    }
    pad = " " + "x" * opts.pad if opts.pad else ""
    if opts.warmup_rate > 0 and opts.warmup_s > 0:
        log(f"{target.name}: warm-up {opts.warmup_rate}/s for {opts.warmup_s}s")
        lg.send("w", plan.senders, rate=opts.warmup_rate, duration=opts.warmup_s, pad=pad)
        _drain(lg, 0, 0, opts.settle_s + 1)
        lg.collect("w", reset_all=True)
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
        _settle(lg, opts.settle_s)
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


def _drain(lg: LoadGen, d0: int, expected: int, timeout: float) -> None:
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


def _settle(lg: LoadGen, seconds: float) -> None:
    """Let a backlog from an overloaded step flush before the next one starts."""
    _drain(lg, 0, 0, max(seconds, 0.5) + 10)
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
) -> dict[str, Any]:
    server_cpu = CpuMeter(target.pids)
    gen_cpu = CpuMeter(gen_pids)
    d0 = lg.delivered()
    prof: list[subprocess.Popen[bytes]] = []
    if profile and target.pids:
        prof = start_profile(target.pids[0], opts.profile_seconds, opts.profile_name)
    server_cpu.start()
    gen_cpu.start()
    sent = lg.send(step_id, plan.senders, rate=rate, duration=duration, pad=pad)
    st = lg.status()
    alive = st["alive_by_target"]
    expected = sum(n * alive.get(t, 0) for t, n in sent["sent_by_target"].items())
    _drain(lg, d0, expected, opts.drain)
    scpu = server_cpu.stop()
    gcpu = gen_cpu.stop()
    got = lg.collect(step_id)
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


def start_profile(pid: int, seconds: int, name: str) -> list[subprocess.Popen[bytes]]:
    """py-spy flame graph (SVG) and collapsed stacks (for the top-costs table), sampled
    without pausing the server (--nonblocking)."""
    import shutil

    spy = shutil.which("py-spy")
    if spy is None:
        log("py-spy not installed: no profile (pip install -e '.[bench]')")
        return []
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    procs = []
    for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
        out = RESULTS_DIR / f"{name}.{ext}"
        procs.append(
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    fmt,
                    "-o",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    log(f"py-spy recording pid {pid} for {seconds}s -> {RESULTS_DIR / name}.svg/.txt")
    return procs


def top_costs(collapsed: Path, n: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive shares of samples per function from py-spy's collapsed stacks."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        self_c[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
    if not total:
        return {"self": [], "inclusive": []}
    return {
        "samples": total,  # type: ignore[dict-item]
        "self": [(f, round(100 * c / total, 1)) for f, c in self_c.most_common(n)],
        "inclusive": [(f, round(100 * c / total, 1)) for f, c in incl.most_common(n)],
    }


# -- connect ramp -----------------------------------------------------------------------


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
            stop.wait(0.5)

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
        "rss_samples": samples[:: max(1, len(samples) // 200)],
    }


# -- multi-target runner ----------------------------------------------------------------


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
