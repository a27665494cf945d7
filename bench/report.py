"""bench/results/RESULTS.md and PNG plots from the JSON files of bench/results/.

Only the latest run of each scenario (file name without its time stamp) is tabled unless
`--all` is given. Every table shows ours next to the baselines of the same run.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.common import RESULTS_DIR, machine


def _load() -> list[dict[str, Any]]:
    runs = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        data["_file"] = path.name
        data["_key"] = path.stem.split("-", 2)[-1]  # drop the date and time
        runs.append(data)
    return runs


def _latest(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[str, dict[str, Any]] = {}
    for r in runs:
        by[r["_key"]] = r
    return sorted(by.values(), key=lambda r: r["_file"])


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _ratio(a: Any, b: Any) -> str:
    try:
        return f"{a / b:.2f}" if a is not None and b else "–"
    except TypeError:
        return "–"


def _connect_md(run: dict[str, Any]) -> list[str]:
    res = run["results"]
    p = run["params"]
    title = f"connect {p['n']:,}"
    if p.get("deflate"):
        title += " (deflate offered)"
    if (p.get("instances") or 1) > 1:
        title += f" to {p['instances']} instances sharing Redis (no proxy)"
    if run.get("tag"):
        title += f" [{run['tag']}]"
    lines = [
        f"### {title} — `{run['_file']}`",
        "",
        "| target | success % | connects/s | connect p50 ms | p99 ms | RSS before MB | RSS after MB | KB / connection | alive after hold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res.items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'][:80]} |||||||")
            continue
        lat = r.get("connect_latency_ms") or {}
        lines.append(
            f"| {name} | {_f(r.get('success_pct'), 2)} | {_f(r.get('connects_per_s'))} | {_f(lat.get('p50'))} | {_f(lat.get('p99'))} "
            f"| {_f((r.get('rss_kb_before') or 0) / 1024)} | {_f((r.get('rss_kb_after') or 0) / 1024)} | {_f(r.get('kb_per_connection'))} "
            f"| {_f(r.get('alive_after_hold'))}/{_f(r.get('connected'))} after {_f(r.get('hold_s'), 0)} s |"
        )
    lines += ["", _ratios_line(run), ""]
    return lines


def _floor_md(run: dict[str, Any]) -> list[str]:
    lines = [
        f"### sending one {run['params']['frame_bytes']}-byte frame to each of N "
        f"loopback sockets (no server) — `{run['_file']}`",
        "",
        "| N | sender | fan-out min ms | median ms | max ms | µs per send (median) |",
        "|---|---|---|---|---|---|",
    ]
    for r in run["results"].values():
        t = r["fanout_ms"]
        threads = r.get("threads", 1)
        sender = "one core" if threads == 1 else f"{threads} threads, any core"
        lines.append(
            f"| {int(r['n']):,} | {sender} | {_f(t['min'])} | {_f(t['median'])} "
            f"| {_f(t['max'])} | {_f(r['us_per_send_median'], 2)} |"
        )
    return [*lines, ""]


def _redis_md(run: dict[str, Any]) -> list[str]:
    lines = [
        f"### client CPU per Redis command on the message path — `{run['_file']}`",
        "",
        "| command and client | µs CPU, one at a time | µs CPU, "
        f"{run['params']['concurrency']} in flight |",
        "|---|---|---|",
    ]
    for name, r in run["results"].items():
        conc = next(v for k, v in r.items() if k != "sequential")
        lines.append(f"| {name} | {_f(r['sequential']['cpu_us'])} | {_f(conc['cpu_us'])} |")
    return [*lines, ""]


def _ratios_line(run: dict[str, Any]) -> str:
    parts = []
    for metric, rs in (run.get("ratios") or {}).items():
        if isinstance(rs, dict):
            for k, v in rs.items():
                parts.append(f"{metric} {k} = {_f(v, 2)}")
        else:
            parts.append(f"{metric} = {_f(rs, 2)}")
    return ("Ratios: " + "; ".join(parts)) if parts else ""


def _steps_md(run: dict[str, Any], title: str) -> list[str]:
    res = run["results"]
    lines = [
        f"### {title} — `{run['_file']}`",
        "",
        *([f"_{run['note']}_", ""] if run.get("note") else []),
        "| target | rate msg/s | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | loss | ack p50 ms | ack p99 ms | ack errors | server CPU % | gen CPU % | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res.items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'][:100]} |||||||||||||")
            continue
        for s in r.get("steps", []):
            lat, ack = s["latency_ms"], s["ack_latency_ms"]
            errs = sum((s.get("ack_errors") or {}).values()) + s.get("ack_missing", 0)
            lines.append(
                f"| {name} | {_f(s['rate'], 0)} | {_f(s['deliveries_per_s'], 0)} | {_f(lat['p50'])} | {_f(lat['p95'])} | {_f(lat['p99'])} "
                f"| {_f(lat['max'])} | {s['loss']:.4%} | {_f(ack['p50'])} | {_f(ack['p99'])} | {errs} | {_f(s['server_cpu_pct'])} "
                f"| {_f(s['gen_cpu_pct'])}{' (lagging)' if s.get('generator_lagging') else ''} | {'PASS' if s['pass'] else 'fail'} |"
            )
    lines.append("")
    best = []
    for name, r in res.items():
        b = r.get("best") if isinstance(r, dict) else None
        best.append(
            f"{name}: {_f(b['deliveries_per_s'], 0)} deliveries/s at {_f(b['rate'], 0)} msg/s"
            if b
            else f"{name}: no passing step"
        )
    lines.append(
        "Best passing step (p99 < 100 ms, no loss, no ack error): " + "; ".join(best) + "."
    )
    rl = _ratios_line(run)
    if rl:
        lines.append("")
        lines.append(rl)
    prof = run.get("profile")
    if prof:
        lines += [
            "",
            f"Profile of ours at {_f(prof.get('rate'), 0)} msg/s ({prof.get('samples')} samples, [{prof['svg']}]({prof['svg']})), self time:",
            "",
        ]
        lines += [f"- {p:.1f}% {fn}" for fn, p in prof.get("self", [])[:12]]
    lines.append("")
    return lines


def _api_md(run: dict[str, Any]) -> list[str]:
    r = run["results"]["ours"]
    lines = [
        f"### API (ours) — `{run['_file']}`",
        "",
        "| endpoint | rate req/s | ok / sent | p50 ms | p95 ms | p99 ms | max ms | dropped | server CPU % | p95 < 20 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["steps"]:
        lat = s["latency_ms"]
        lines.append(
            f"| {s['name']} | {_f(s['rate'], 0)} | {s['ok']}/{s['requests']} | {_f(lat['p50'])} | {_f(lat['p95'])} | {_f(lat['p99'])} "
            f"| {_f(lat['max'])} | {s['dropped']} | {_f(s.get('server_cpu_pct'))} | {_f(s.get('pass_p95_20ms'))} |"
        )
    lg = r.get("login") or {}
    if lg:
        a, b, login = lg["rooms_alone"], lg["rooms_during_login"], lg["login"]
        lines += [
            "",
            f"Login (bcrypt cost 10) at {_f(login['rate'], 0)}/s: ok {login['ok']}/{login['requests']}, "
            f"p50 {_f(login['latency_ms']['p50'])} ms, p99 {_f(login['latency_ms']['p99'])} ms. "
            f"Room list at {_f(a['rate'], 0)}/s alone: p50 {_f(a['latency_ms']['p50'])} / p95 {_f(a['latency_ms']['p95'])} ms; "
            f"during the logins: p50 {_f(b['latency_ms']['p50'])} / p95 {_f(b['latency_ms']['p95'])} ms "
            f"(p95 ratio {_f(lg.get('rooms_p95_ratio_during_login'), 2)}).",
        ]
    lines.append("")
    return lines


def _artillery_md(run: dict[str, Any]) -> list[str]:
    r = run["results"]
    a, b = r.get("artillery", {}), r.get("lean", {})
    p = run["params"]
    lines = [
        f"### Artillery cross-check against {p['target']} — `{run['_file']}`",
        "",
        f"{p['vus']} sockets in one room, each sending {p['msgs_per_vu']} messages {p['think_s']} s apart (~{_f(p['approx_rate'], 0)} msg/s).",
        "",
        "| generator | deliveries | p50 ms | p95 ms | p99 ms | ack p50 ms | ack p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, x, n in (("Artillery", a, a.get("deliveries")), ("lean", b, b.get("received"))):
        lat, ack = x.get("latency_ms", {}), x.get("ack_latency_ms", {})
        lines.append(
            f"| {name} | {_f(n)} | {_f(lat.get('p50'))} | {_f(lat.get('p95'))} | {_f(lat.get('p99'))} | {_f(ack.get('p50'))} | {_f(ack.get('p99'))} |"
        )
    lines += ["", _ratios_line(run), ""]
    return lines


def _plots(runs: list[dict[str, Any]]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["(matplotlib not installed: no plots; pip install -e '.[bench]')", ""]
    made: list[str] = []
    colors = {"ours": "tab:red", "py": "tab:blue", "node": "tab:green", "cluster": "tab:purple"}
    for run in runs:
        key = run["_key"]
        res = run.get("results", {})
        if any(
            "steps" in (r or {}) and r.get("steps") for r in res.values()
        ) and not key.startswith("api"):
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
            for name, r in res.items():
                steps = (r or {}).get("steps") or []
                if not steps:
                    continue
                x = [s["rate"] for s in steps]
                c = colors.get(name)
                for q, style in (("p50", ":"), ("p95", "--"), ("p99", "-")):
                    ax1.plot(
                        x,
                        [s["latency_ms"][q] for s in steps],
                        style,
                        marker="o",
                        color=c,
                        label=f"{name} {q}",
                    )
                ax2.plot(
                    x, [s["deliveries_per_s"] for s in steps], "-", marker="o", color=c, label=name
                )
            ax1.axhline(100, color="grey", lw=0.8)
            ax1.set_yscale("log")
            ax1.set_xlabel("sent msgs/s")
            ax1.set_ylabel("delivery latency ms (log)")
            ax1.set_title(f"{key}: latency percentiles vs rate")
            ax1.legend(fontsize=7, ncol=3)
            ax2.set_xlabel("sent msgs/s")
            ax2.set_ylabel("deliveries/s")
            ax2.set_title(f"{key}: deliveries/s vs rate")
            ax2.legend(fontsize=8)
            fig.tight_layout()
            name = f"plot-{key}.png"
            fig.savefig(RESULTS_DIR / name, dpi=90)
            plt.close(fig)
            made.append(name)
    # RSS vs connections: the latest run of each connection count (all targets), plus
    # ours in the first connect run of the largest count (dashed: before the memory work).
    conn_runs = [r for r in runs if r["_key"].startswith("connect") and "deflate" not in r["_key"]]
    if conn_runs:
        latest: dict[int, dict[str, Any]] = {}
        for run in conn_runs:
            latest[run["params"]["n"]] = run
        first_big = next((r for r in conn_runs if r["params"]["n"] == 10000), None)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        plotted = [(run, name, "-") for run in latest.values() for name in run["results"]]
        if first_big is not None and first_big is not latest.get(10000):
            plotted.append((first_big, "ours", "--"))
        for run, name, style in plotted:
            r = run["results"].get(name) or {}
            pts = [(n, rss / 1024) for _, n, rss in r.get("rss_samples") or [] if rss]
            if pts:
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    style,
                    color=colors.get(name),
                    label=f"{name} ({run['_key']}: {r.get('kb_per_connection')} KB/socket)",
                )
        ax.set_xlabel("connected sockets")
        ax.set_ylabel("server RSS MB")
        ax.set_title("Server RSS vs connections")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(RESULTS_DIR / "plot-rss-vs-connections.png", dpi=90)
        plt.close(fig)
        made.append("plot-rss-vs-connections.png")
    return [f"![{m}]({m})" for m in made] + [""]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="RESULTS.md and PNG plots from bench/results/*.json")
    p.add_argument(
        "--all", action="store_true", help="list every run, not only the latest per scenario"
    )
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    runs = _load()
    chosen = runs if args.all else _latest(runs)
    m = chosen[-1]["machine"] if chosen and "machine" in chosen[-1] else machine()
    v = m.get("versions", {})
    out = [
        "# Benchmark results",
        "",
        "Generated by `python -m bench report` from the JSON files in this folder (latest run of each "
        "scenario). Every table compares targets measured in the same run: `ours` (the chat server: "
        "auth, PostgreSQL, validation), `py` (bare python-socketio + aiohttp, uvloop, orjson), `node` "
        "(socket.io 4 on Node). This machine is shared with other engineers' test suites, so absolute "
        "numbers move by ±15-25 % between runs; read the ratios. See bench/README.md for the method.",
        "",
        "## Machine",
        "",
        f"- {m.get('nproc')} CPUs: {m.get('cpu_model')}; {m.get('ram_gb')} GB RAM; kernel {m.get('kernel')}",
        f"- open files hard limit {m.get('nofile_hard_limit')} (caps sockets per server process)",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- load average at start of the last run: {m.get('loadavg_at_start')}",
        f"- git HEAD {m.get('git_head')}; uncommitted server files then: {', '.join(m.get('uncommitted_server_files') or []) or 'none'}",
        "- server pinned to CPU 0 with taskset, generator processes to CPU 1 (PostgreSQL/Redis unpinned)",
        "",
    ]
    sections: dict[str, list[str]] = {
        "connect": [],
        "fanout": [],
        "lobby": [],
        "dm": [],
        "cluster": [],
        "api": [],
        "artillery": [],
        "floor": [],
        "redis": [],
    }
    for run in chosen:
        key = run["_key"]
        try:
            if key.startswith("connect"):
                sections["connect"] += _connect_md(run)
            elif key.startswith("fanout"):
                p = run["params"]
                sections["fanout"] += _steps_md(
                    run,
                    f"fan-out {p['rooms']} rooms x {p['members']} members{' (deflate offered)' if p.get('deflate') else ''}",
                )
            elif key.startswith("lobby"):
                sections["lobby"] += _steps_md(
                    run, f"lobby: {run['params']['connections']:,} connections"
                )
            elif key.startswith("dm"):
                sections["dm"] += _steps_md(run, f"DM storm: {run['params']['pairs']} pairs")
            elif key.startswith("cluster"):
                sections["cluster"] += _steps_md(
                    run,
                    f"cluster: {run['params'].get('instances')} instances via HAProxy + Redis, "
                    f"{run['params'].get('rooms')} rooms x {run['params'].get('members')}"
                    + ("" if run.get("server_cpus") else " (unpinned: everything on both cores)"),
                )
            elif key.startswith("api"):
                sections["api"] += _api_md(run)
            elif key.startswith("artillery"):
                sections["artillery"] += _artillery_md(run)
            elif key.startswith("floor"):
                sections["floor"] += _floor_md(run)
            elif key.startswith("redis-clients"):
                sections["redis"] += _redis_md(run)
        except (KeyError, TypeError) as exc:
            sections.setdefault("unreadable", []).append(f"- `{run['_file']}`: {exc}")
    titles = {
        "connect": "Connections",
        "fanout": "Room fan-out",
        "lobby": "Lobby",
        "dm": "Direct messages",
        "cluster": "Cluster",
        "api": "HTTP API",
        "artillery": "Artillery cross-check",
        "floor": "The machine's floor for one fan-out",
        "redis": "Redis clients",
        "unreadable": "Unreadable files",
    }
    for k, lines in sections.items():
        if lines:
            out += [f"## {titles[k]}", "", *lines]
    out += ["## Plots", "", *_plots(chosen)]
    (RESULTS_DIR / "RESULTS.md").write_text("\n".join(out) + "\n")
    print(f"wrote {RESULTS_DIR / 'RESULTS.md'}")
