"""bench/results/RESULTS.md and its PNG plots, from the runs that stand.

The runs that stand are the JSON files in bench/results/ itself: the ones the docs cite
(README.md, bench/README.md). Superseded runs live in bench/results/archive/ and are not
tabled or plotted (`--all` lists them at the end, without plots). The page opens with the
current run of each scenario shape (the newest that measured the baselines too, if any
did; else the newest), then the earlier cited runs, newest first. Every table shows ours
next to the baselines of the same run.

Owns: choosing and ordering the runs, the page's frame, the plots (and removing plots no
standing run has any more).
Must not: render a run's table (bench/report_tables.py), or read bench/results/archive/
for anything but `--all`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, machine
from bench.report_tables import SECTIONS, run_md, section

ARCHIVE_DIR = RESULTS_DIR / "archive"
RSS_PLOT = "plot-rss-vs-connections.png"
BASELINES = ("py", "node")


def _load(folder: Path) -> list[dict[str, Any]]:
    """The scenario runs in `folder` (not its subfolders), oldest first."""
    runs = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        data["_file"] = path.name
        data["_key"] = path.stem.split("-", 2)[-1]  # drop the date and time
        if "results" in data and section(data):
            runs.append(data)
    return runs


def _shape(run: dict[str, Any]) -> str:
    """Runs of one shape measure the same thing: scenario and size, deflate or not."""
    deflate = "-deflate" if (run.get("params") or {}).get("deflate") else ""
    return (run.get("scenario") or run["_key"]) + deflate


def _current(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per shape, the newest run that measured a baseline too (the docs quote same-run
    ratios), else the newest; in page order, then by shape."""
    best: dict[str, dict[str, Any]] = {}
    for run in runs:  # oldest first: a later run of equal standing replaces an earlier one
        had = best.get(_shape(run))
        with_baseline = any(b in run["results"] for b in BASELINES)
        if had is None or with_baseline or not any(b in had["results"] for b in BASELINES):
            best[_shape(run)] = run
    order = list(SECTIONS)
    return sorted(best.values(), key=lambda r: (order.index(section(r) or ""), _sizes(r)))


def _sizes(run: dict[str, Any]) -> list[int]:
    """The numbers in a shape (`fanout-10x100` -> [10, 100]): smaller shapes first."""
    return [int(n) for n in re.findall(r"\d+", _shape(run))]


def _by_section_newest_first(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = list(SECTIONS)
    newest = sorted(runs, key=lambda r: r["_file"], reverse=True)
    return sorted(newest, key=lambda r: order.index(section(r) or ""))


def _tables(runs: list[dict[str, Any]], plots: dict[str, str], level: str) -> list[str]:
    """Each run's table under a `level` heading, grouped by section; the plot inline for
    current runs (`level` "###"), linked for the rest."""
    out: list[str] = []
    last = None
    for run in runs:
        kind = section(run)
        if kind != last and level != "###":
            out += [f"### {SECTIONS[kind or '']}", ""]
        last = kind
        try:
            lines = run_md(run)
        except (KeyError, TypeError) as exc:
            lines = [f"### `{run['_file']}`: unreadable ({exc})", ""]
        if lines and lines[0].startswith("### "):
            lines[0] = level + lines[0][3:]
        out += lines
        plot = plots.get(run["_file"])
        if plot:
            out += [f"![{plot}]({plot})" if level == "###" else f"Plot: [{plot}]({plot})", ""]
    return out


def _plots(runs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Draw the plots; {run file or RSS_PLOT: plot file}, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    made: dict[str, str] = {}
    keys = Counter(run["_key"] for run in runs)
    colors = {"ours": "tab:red", "py": "tab:blue", "node": "tab:green", "cluster": "tab:purple"}
    for run in runs:
        key = run["_key"]
        res = run.get("results", {})
        if any(
            "steps" in (r or {}) and r.get("steps") for r in res.values()
        ) and not key.startswith("api"):
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
            # A changes run has a second series per target, its reaction steps, and is
            # about acks/s (its deliveries/s only follow the rate and the room's size).
            changes = any((r or {}).get("reaction_steps") for r in res.values())
            per_s = "acks_per_s" if changes else "deliveries_per_s"
            series = [(name, (r or {}).get("steps") or []) for name, r in res.items()] + [
                (f"{name} reactions", r["reaction_steps"])
                for name, r in res.items()
                if (r or {}).get("reaction_steps")
            ]
            for name, steps in series:
                if not steps:
                    continue
                x = [s["rate"] for s in steps]
                c = colors.get(name, "tab:orange")
                for q, style in (("p50", ":"), ("p95", "--"), ("p99", "-")):
                    ax1.plot(
                        x,
                        [s["latency_ms"][q] for s in steps],
                        style,
                        marker="o",
                        color=c,
                        label=f"{name} {q}",
                    )
                ax2.plot(x, [s[per_s] for s in steps], "-", marker="o", color=c, label=name)
            ax1.axhline(100, color="grey", lw=0.8)
            ax1.set_yscale("log")
            ax1.set_xlabel("sent msgs/s")
            ax1.set_ylabel("delivery latency ms (log)")
            ax1.set_title(f"{key}: latency percentiles vs rate")
            ax1.legend(fontsize=7, ncol=3)
            ax2.set_xlabel("sent msgs/s")
            ax2.set_ylabel(per_s.replace("_per_s", "/s"))
            ax2.set_title(f"{key}: {per_s.replace('_per_s', '/s')} vs rate")
            ax2.legend(fontsize=8)
            fig.tight_layout()
            # Repeats of one tag (probes, A/B pairs) keep their time in the plot's name.
            stamp = "" if keys[key] == 1 else "-" + run["_file"].split("-", 2)[1]
            name = f"plot-{key}{stamp}.png"
            fig.savefig(RESULTS_DIR / name, dpi=90)
            plt.close(fig)
            made[run["_file"]] = name
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
        fig.savefig(RESULTS_DIR / RSS_PLOT, dpi=90)
        plt.close(fig)
        made[RSS_PLOT] = RSS_PLOT
    return made


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="RESULTS.md and PNG plots from bench/results/*.json")
    p.add_argument(
        "--all",
        action="store_true",
        help="also list the archived runs (bench/results/archive/), without plots",
    )
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    runs = _load(RESULTS_DIR)
    current = _current(runs)
    earlier = _by_section_newest_first([r for r in runs if r not in current])
    plots = _plots(runs)
    if plots is not None:  # without matplotlib the plots on disk are left as they are
        for stale in set(p.name for p in RESULTS_DIR.glob("plot-*.png")) - set(plots.values()):
            (RESULTS_DIR / stale).unlink()
    plots = plots or {}
    newest = max(current, key=lambda r: r["_file"]) if current else {}
    m = newest.get("machine") or machine()
    v = m.get("versions", {})
    out = [
        "# Benchmark results",
        "",
        "Generated by `python -m bench report` from the runs in this folder, the ones the "
        "documentation cites (superseded runs are in [archive/](archive/)). It opens with the "
        "current run of each scenario; the earlier cited runs follow, newest first. Every table "
        "compares targets measured in the same run: `ours` (the chat server: auth, PostgreSQL, "
        "validation), `py` (bare python-socketio + aiohttp, uvloop, orjson), `node` (socket.io 4 "
        "on Node). This machine is shared with other engineers' test suites, so absolute numbers "
        "move by ±15-25 % between runs; read the ratios. See bench/README.md for the method.",
        "",
        f"## Machine (of the newest current run, `{newest.get('_file', '-')}`)",
        "",
        f"- {m.get('nproc')} CPUs: {m.get('cpu_model')}; {m.get('ram_gb')} GB RAM; kernel {m.get('kernel')}",
        f"- open files hard limit {m.get('nofile_hard_limit')} (caps sockets per server process)",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- load average at its start: {m.get('loadavg_at_start')}",
        f"- git HEAD {m.get('git_head')}; uncommitted server files then: {', '.join(m.get('uncommitted_server_files') or []) or 'none'}",
        "- server pinned to CPU 0 with taskset, generator processes to CPU 1 (PostgreSQL/Redis unpinned)",
        "",
        "## Current runs",
        "",
        *_tables(current, plots, "###"),
    ]
    if RSS_PLOT in plots:
        out += [f"![{RSS_PLOT}]({RSS_PLOT})", ""]
    out += ["## Earlier runs the docs cite (newest first)", "", *_tables(earlier, plots, "####")]
    if args.all:
        archived = _by_section_newest_first(_load(ARCHIVE_DIR))
        out += ["## Archived runs (newest first)", "", *_tables(archived, {}, "####")]
    (RESULTS_DIR / "RESULTS.md").write_text("\n".join(out) + "\n")
    print(f"wrote {RESULTS_DIR / 'RESULTS.md'}")
