"""Independent check: the same one-room load from Artillery (npm, its Socket.IO v4 engine)
and from the lean generator, against the same server, back to back.

Load: V virtual users in one room, each sending M messages T seconds apart (total rate
about V/T msgs/s, every message delivered to all V sockets). Artillery reports delivery
latency through bench/artillery/processor.js and ack latency as socketio.response_time; the
lean generator runs `fanout` with 1 room x V members at V/T msgs/s for M*T seconds.
If both agree (same order of magnitude for p50/p95/p99), the lean generator's
numbers are not an artefact of the generator.

Owns: the artillery sub-command, the Artillery script it writes under results/tmp/, and
its results file (`artillery-<target>`).
Must not: need Artillery for any other sub-command (npm's bench/node_modules is optional).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import time
from typing import Any

from bench import fixtures
from bench.common import BENCH_DIR, RESULTS_DIR, log, machine, save_result
from bench.loadgen.pool import LoadGen
from bench.scenarios.options import pin_options
from bench.scenarios.plans import rooms_plan
from bench.scenarios.steps import RunOpts, run_steps
from bench.targets import cpus_from_args, start


def _artillery_cfg(
    target_url: str, args: argparse.Namespace, csv_path: str, room: str
) -> dict[str, Any]:
    """bench/artillery/fanout.yml with this run's values (JSON is valid YAML, so no YAML
    library is needed to write it)."""
    return {
        "config": {
            "target": target_url,
            "phases": [{"duration": 5, "arrivalCount": args.vus}],
            "payload": {
                "path": csv_path,
                "fields": ["token", "uid", "room"],
                "order": "sequence",
                "skipHeader": True,
            },
            "processor": str(BENCH_DIR / "artillery" / "processor.js"),
            "socketio": {
                "transports": ["websocket"],
                # The room is the same for every VU: written literally (Artillery templates
                # `socketio` options per VU, but a literal also works if it does not).
                "auth": {"token": "{{ token }}", "user": "{{ uid }}", "rooms": [room]},
            },
            "variables": {"thinkMs": int(args.think * 1000)},
        },
        "scenarios": [
            {
                "name": "room fan-out",
                "engine": "socketio",
                "flow": [
                    {
                        "emit": {"channel": "sync", "data": {"rooms": {}}},
                        "namespace": "/chat",
                        "acknowledge": {},
                    },
                    {"function": "listen"},
                    {"think": 6},
                    {
                        "loop": [
                            {"function": "stamp"},
                            {
                                "emit": {
                                    "channel": "send_message",
                                    "data": {"roomId": "{{ room }}", "content": "{{ content }}"},
                                },
                                "namespace": "/chat",
                                "acknowledge": {},
                            },
                        ],
                        "count": args.msgs,
                    },
                    {"think": 5},
                ],
            }
        ],
    }


def _summ(s: dict[str, Any] | None) -> dict[str, Any]:
    if not s:
        return {}
    return {
        "n": s.get("count"),
        "p50": s.get("median") or s.get("p50"),
        "p95": s.get("p95"),
        "p99": s.get("p99"),
        "max": s.get("max"),
    }


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "artillery", help="cross-check one scenario with Artillery (npm) vs the lean generator"
    )
    p.add_argument("--target", default="py", choices=["ours", "py", "node"])
    p.add_argument("--vus", type=int, default=50, help="virtual users, all in one room")
    p.add_argument("--msgs", type=int, default=40, help="messages per virtual user")
    p.add_argument("--think", type=float, default=0.5, help="seconds between a user's messages")
    p.add_argument("--workers", type=int, default=1)
    pin_options(p)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    npx = shutil.which("npx")
    if not npx or not (BENCH_DIR / "node_modules" / ".bin" / "artillery").exists():
        raise SystemExit("run `npm ci --prefix bench` first (Artillery)")
    server_cpus, gen_cpus = cpus_from_args(args)
    fixtures.ensure_db()
    plan = rooms_plan(1, args.vus, args.vus)
    room = plan.senders[0]["target"]
    tmp = RESULTS_DIR / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    csv_path = tmp / "artillery-users.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["token", "uid", "room"])
        for u in plan.users:
            w.writerow([u["token"], u["id"], room])
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    target = start(
        args.target,
        cpus=server_cpus,
        port=args.port,
        database_url=fixtures.dsn(),
        jwt_secret=fixtures.JWT_SECRET,
    )
    out: dict[str, Any] = {}
    try:
        cfg_path = tmp / "artillery-fanout.yml"
        cfg_path.write_text(
            json.dumps(_artillery_cfg(target.url, args, str(csv_path), room), indent=1)
        )
        report = tmp / "artillery-report.json"
        cmd = [
            str(BENCH_DIR / "node_modules" / ".bin" / "artillery"),
            "run",
            "--output",
            str(report),
            str(cfg_path),
        ]
        if gen_cpus and shutil.which("taskset"):
            cmd = ["taskset", "-c", ",".join(map(str, gen_cpus)), *cmd]
        log(
            f"artillery: {args.vus} VUs x {args.msgs} msgs every {args.think}s against {args.target}"
        )
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=str(BENCH_DIR))
        (tmp / "artillery-stdout.txt").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not report.exists():
            raise RuntimeError(f"artillery failed ({proc.returncode}): {proc.stderr[-2000:]}")
        agg = json.loads(report.read_text())["aggregate"]
        counters = agg.get("counters", {})
        summaries = agg.get("summaries", {})
        out["artillery"] = {
            "elapsed_s": round(time.monotonic() - t0, 1),
            "deliveries": counters.get("deliveries"),
            "emits": counters.get("socketio.emit"),
            "vusers_completed": counters.get("vusers.completed"),
            "vusers_failed": counters.get("vusers.failed"),
            "errors": {k: v for k, v in counters.items() if k.startswith("errors.")},
            "latency_ms": _summ(summaries.get("delivery_latency")),
            "ack_latency_ms": _summ(summaries.get("socketio.response_time")),
        }
        a = out["artillery"]
        log(
            f"artillery: deliveries {a['deliveries']} p50 {a['latency_ms'].get('p50')} p95 {a['latency_ms'].get('p95')} "
            f"p99 {a['latency_ms'].get('p99')}; ack p50 {a['ack_latency_ms'].get('p50')} p99 {a['ack_latency_ms'].get('p99')}"
        )
        time.sleep(2)
        rate = args.vus / args.think
        opts = RunOpts(
            rates=[rate], duration=args.msgs * args.think, warmup_rate=0, stop_after_fails=1
        )
        with LoadGen(args.workers, gen_cpus) as lg:
            lean = run_steps(target, lg, plan, opts, [p.pid for p in lg.procs])
        step = lean["steps"][0]
        out["lean"] = {
            k: step[k]
            for k in (
                "rate",
                "sent",
                "received",
                "loss",
                "deliveries_per_s",
                "latency_ms",
                "ack_latency_ms",
            )
        }
        log(
            f"lean: deliveries {step['received']} p50 {step['latency_ms']['p50']} p95 {step['latency_ms']['p95']} "
            f"p99 {step['latency_ms']['p99']}; ack p50 {step['ack_latency_ms']['p50']} p99 {step['ack_latency_ms']['p99']}"
        )
    finally:
        target.stop()
    ratio = {}
    for k in ("p50", "p95", "p99"):
        a = out.get("artillery", {}).get("latency_ms", {}).get(k)
        b = out.get("lean", {}).get("latency_ms", {}).get(k)
        ratio[f"delivery_{k}_artillery/lean"] = round(a / b, 2) if a and b else None
    save_result(
        f"artillery-{args.target}",
        {
            "params": {
                "target": args.target,
                "vus": args.vus,
                "msgs_per_vu": args.msgs,
                "think_s": args.think,
                "approx_rate": args.vus / args.think,
            },
            "machine": machine(),
            "started": started,
            "server_cpus": server_cpus,
            "gen_cpus": gen_cpus,
            "results": out,
            "ratios": ratio,
        },
        args.tag,
    )
