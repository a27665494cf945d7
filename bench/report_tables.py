"""The Markdown tables of bench/results/RESULTS.md, one renderer per kind of run.

Owns: how one results file reads as a table (targets side by side, the step figures, the
best passing step and the ratios), and which renderer a run gets (`run_md`, by its
scenario).
Must not: choose which runs are shown or in what order, read or write files, or plot
(bench/report.py does those).
"""

from __future__ import annotations

from typing import Any


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def connect_md(run: dict[str, Any]) -> list[str]:
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
            f"| {name} | {fmt(r.get('success_pct'), 2)} | {fmt(r.get('connects_per_s'))} | {fmt(lat.get('p50'))} | {fmt(lat.get('p99'))} "
            f"| {fmt((r.get('rss_kb_before') or 0) / 1024)} | {fmt((r.get('rss_kb_after') or 0) / 1024)} | {fmt(r.get('kb_per_connection'))} "
            f"| {fmt(r.get('alive_after_hold'))}/{fmt(r.get('connected'))} after {fmt(r.get('hold_s'), 0)} s |"
        )
    lines += ["", *_ratios_par(run)]
    return lines


def floor_md(run: dict[str, Any]) -> list[str]:
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
            f"| {int(r['n']):,} | {sender} | {fmt(t['min'])} | {fmt(t['median'])} "
            f"| {fmt(t['max'])} | {fmt(r['us_per_send_median'], 2)} |"
        )
    return [*lines, ""]


def redis_md(run: dict[str, Any]) -> list[str]:
    lines = [
        f"### client CPU per Redis command on the message path — `{run['_file']}`",
        "",
        "| command and client | µs CPU, one at a time | µs CPU, "
        f"{run['params']['concurrency']} in flight |",
        "|---|---|---|",
    ]
    for name, r in run["results"].items():
        conc = next(v for k, v in r.items() if k != "sequential")
        lines.append(f"| {name} | {fmt(r['sequential']['cpu_us'])} | {fmt(conc['cpu_us'])} |")
    return [*lines, ""]


def ratios_line(run: dict[str, Any]) -> str:
    parts = []
    for metric, rs in (run.get("ratios") or {}).items():
        if isinstance(rs, dict):
            for k, v in rs.items():
                parts.append(f"{metric} {k} = {fmt(v, 2)}")
        else:
            parts.append(f"{metric} = {fmt(rs, 2)}")
    return ("Ratios: " + "; ".join(parts)) if parts else ""


def _ratios_par(run: dict[str, Any]) -> list[str]:
    """The ratios line as a paragraph, or nothing for a run of ours alone."""
    line = ratios_line(run)
    return [line, ""] if line else []


def steps_md(run: dict[str, Any], title: str) -> list[str]:
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
                f"| {name} | {fmt(s['rate'], 0)} | {fmt(s['deliveries_per_s'], 0)} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | {fmt(lat['p99'])} "
                f"| {fmt(lat['max'])} | {s['loss']:.4%} | {fmt(ack['p50'])} | {fmt(ack['p99'])} | {errs} | {fmt(s['server_cpu_pct'])} "
                f"| {fmt(s['gen_cpu_pct'])}{' (lagging)' if s.get('generator_lagging') else ''} | {'PASS' if s['pass'] else 'fail'} |"
            )
    lines.append("")
    best = []
    for name, r in res.items():
        b = r.get("best") if isinstance(r, dict) else None
        best.append(
            f"{name}: {fmt(b['deliveries_per_s'], 0)} deliveries/s at {fmt(b['rate'], 0)} msg/s"
            if b
            else f"{name}: no passing step"
        )
    lines.append(
        "Best passing step (p99 < 100 ms, no loss, no ack error): " + "; ".join(best) + "."
    )
    rl = ratios_line(run)
    if rl:
        lines.append("")
        lines.append(rl)
    prof = run.get("profile")
    if prof:
        lines += [
            "",
            f"Profile of ours at {fmt(prof.get('rate'), 0)} msg/s ({prof.get('samples')} samples, [{prof['svg']}]({prof['svg']})), self time:",
            "",
        ]
        lines += [f"- {p:.1f}% {fn}" for fn, p in prof.get("self", [])[:12]]
    lines.append("")
    return lines


def _cpu_per_event(s: dict[str, Any]) -> float | None:
    if not s.get("acks_per_s") or s.get("server_cpu_pct") is None:
        return None
    return s["server_cpu_pct"] * 10.0 / s["acks_per_s"]


def changes_md(run: dict[str, Any]) -> list[str]:
    """Per rate: the send step, the reaction step and their ratio (bench.scenarios.changes)."""
    p = run["params"]
    room = (
        f"in the lobby ({p['members']:,} of its members connected)"
        if p.get("lobby")
        else f"in one room of {p['members']:,} members"
    )
    lines = [
        f"### changes: reactions vs new messages {room}, {p['senders']} senders — `{run['_file']}`",
        "",
        *([f"_{run['note']}_", ""] if run.get("note") else []),
        "| rate /s | event | acks/s | ack p50 ms | ack p99 ms | delivery p50 ms | p99 ms "
        "| first / median / last recipient p50 ms | loss | server CPU % | CPU ms / event "
        "| frame bytes | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in run["results"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'][:100]} ||||||||||||")
            continue
        reacts = {s["rate"]: s for s in r.get("reaction_steps") or []}
        pairs = {pr["rate"]: pr["reaction/send"] for pr in r.get("pairs") or []}
        for send in r.get("steps") or []:
            rate = send["rate"]
            for s in (send, reacts.get(rate)):
                if s is None:
                    continue
                lat, ack, pm = s["latency_ms"], s["ack_latency_ms"], s["per_message_ms"]
                sizes = s.get("frame_bytes_mean") or {}
                frame = "new_message" if s is send else "message_updated"
                noops = f" ({s['noop_acks']} no-op)" if s.get("noop_acks") else ""
                lines.append(
                    f"| {fmt(rate, 0)} | {s.get('kind', '')} | {fmt(s['acks_per_s'], 0)}{noops} "
                    f"| {fmt(ack['p50'])} | {fmt(ack['p99'])} | {fmt(lat['p50'])} | {fmt(lat['p99'])} "
                    f"| {fmt(pm['first']['p50'])} / {fmt(pm['median']['p50'])} / {fmt(pm['last']['p50'])} "
                    f"| {s['loss']:.4%} | {fmt(s['server_cpu_pct'])} | {fmt(_cpu_per_event(s), 2)} "
                    f"| {fmt(sizes.get(frame))} | {'PASS' if s['pass'] else 'fail'} |"
                )
            pr = pairs.get(rate)
            if pr:
                lines.append(
                    f"| {fmt(rate, 0)} | **reaction / send** | {fmt(pr['acks_per_s'], 2)} "
                    f"| {fmt(pr['ack_p50'], 2)} | {fmt(pr['ack_p99'], 2)} | {fmt(pr['delivery_p50'], 2)} "
                    f"| {fmt(pr['delivery_p99'], 2)} | last {fmt(pr['last_recipient_p50'], 2)} | | "
                    f"| {fmt(pr['server_cpu_ms_per_event'], 2)} | | |"
                )
    waits = [
        f"{fmt(s['rate'], 0)}/s {s.get('kind', '')}: "
        + ", ".join(f"{k} {v:.2f}" for k, v in s["pg_waits"]["mean_backends"].items())
        for r in run["results"].values()
        for s in [*(r.get("steps") or []), *(r.get("reaction_steps") or [])]
        if s.get("pg_waits")
    ]
    if waits:
        lines += [
            "",
            "The bench database's backends during each step (mean over `pg_stat_activity` "
            "samples; `Lock:transactionid`: waiting for another transaction's row lock; "
            "`cpu:-`: running, no wait):",
            "",
            *(f"- {w}" for w in waits),
        ]
    lines += [
        "",
        "Acks/s: acked events over the time from the first send to the last ack (at least the "
        "step's duration). Delivery: send -> `new_message` / `message_updated` at each member's "
        "socket; first / median / last: each message's (change's) fastest, median and slowest "
        "recipient, p50 over messages. A step passes with p99 < 100 ms, no loss, no ack error.",
        "",
    ]
    return lines


def api_md(run: dict[str, Any]) -> list[str]:
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
            f"| {s['name']} | {fmt(s['rate'], 0)} | {s['ok']}/{s['requests']} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | {fmt(lat['p99'])} "
            f"| {fmt(lat['max'])} | {s['dropped']} | {fmt(s.get('server_cpu_pct'))} | {fmt(s.get('pass_p95_20ms'))} |"
        )
    lg = r.get("login") or {}
    if lg:
        a, b, login = lg["rooms_alone"], lg["rooms_during_login"], lg["login"]
        lines += [
            "",
            f"Login (bcrypt cost 10) at {fmt(login['rate'], 0)}/s: ok {login['ok']}/{login['requests']}, "
            f"p50 {fmt(login['latency_ms']['p50'])} ms, p99 {fmt(login['latency_ms']['p99'])} ms. "
            f"Room list at {fmt(a['rate'], 0)}/s alone: p50 {fmt(a['latency_ms']['p50'])} / p95 {fmt(a['latency_ms']['p95'])} ms; "
            f"during the logins: p50 {fmt(b['latency_ms']['p50'])} / p95 {fmt(b['latency_ms']['p95'])} ms "
            f"(p95 ratio {fmt(lg.get('rooms_p95_ratio_during_login'), 2)}).",
        ]
    lines.append("")
    return lines


def artillery_md(run: dict[str, Any]) -> list[str]:
    r = run["results"]
    a, b = r.get("artillery", {}), r.get("lean", {})
    p = run["params"]
    lines = [
        f"### Artillery cross-check against {p['target']} — `{run['_file']}`",
        "",
        f"{p['vus']} sockets in one room, each sending {p['msgs_per_vu']} messages {p['think_s']} s apart (~{fmt(p['approx_rate'], 0)} msg/s).",
        "",
        "| generator | deliveries | p50 ms | p95 ms | p99 ms | ack p50 ms | ack p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, x, n in (("Artillery", a, a.get("deliveries")), ("lean", b, b.get("received"))):
        lat, ack = x.get("latency_ms", {}), x.get("ack_latency_ms", {})
        lines.append(
            f"| {name} | {fmt(n)} | {fmt(lat.get('p50'))} | {fmt(lat.get('p95'))} | {fmt(lat.get('p99'))} | {fmt(ack.get('p50'))} | {fmt(ack.get('p99'))} |"
        )
    lines += ["", *_ratios_par(run)]
    return lines


# Sections in page order, with their titles.
SECTIONS = {
    "connect": "Connections",
    "fanout": "Room fan-out",
    "lobby": "Lobby",
    "changes": "Message changes (reactions vs new messages)",
    "dm": "Direct messages",
    "cluster": "Cluster",
    "api": "HTTP API",
    "artillery": "Artillery cross-check",
    "floor": "The machine's floor for one fan-out",
    "redis": "Redis clients",
}


def section(run: dict[str, Any]) -> str | None:
    """The section key of a run, or None for a file that is not a scenario's run."""
    key = (run.get("scenario") or run["_key"]).split("-", 1)[0]
    return key if key in SECTIONS else None


def run_md(run: dict[str, Any]) -> list[str]:
    """The table (and notes) of one run, under a `### title — file` heading."""
    p = run.get("params") or {}
    kind = section(run)
    if kind == "connect":
        return connect_md(run)
    if kind == "fanout":
        deflate = " (deflate offered)" if p.get("deflate") else ""
        return steps_md(run, f"fan-out {p['rooms']} rooms x {p['members']} members{deflate}")
    if kind == "lobby":
        return steps_md(run, f"lobby: {p['connections']:,} connections")
    if kind == "changes":
        return changes_md(run)
    if kind == "dm":
        return steps_md(run, f"DM storm: {p['pairs']} pairs")
    if kind == "cluster":
        return steps_md(
            run,
            f"cluster: {p.get('instances')} instances via HAProxy + Redis, "
            f"{p.get('rooms')} rooms x {p.get('members')}"
            + ("" if run.get("server_cpus") else " (unpinned: everything on both cores)"),
        )
    if kind == "api":
        return api_md(run)
    if kind == "artillery":
        return artillery_md(run)
    if kind == "floor":
        return floor_md(run)
    if kind == "redis":
        return redis_md(run)
    return []
