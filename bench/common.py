"""Shared helpers: percentiles, /proc readings (RSS, CPU time), machine description, results."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
_TICK = os.sysconf("SC_CLK_TCK")


def pct(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(p / 100.0 * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[k], 3)


def summary(sorted_values: list[float]) -> dict[str, Any]:
    return {
        "n": len(sorted_values),
        "p50": pct(sorted_values, 50),
        "p95": pct(sorted_values, 95),
        "p99": pct(sorted_values, 99),
        "max": round(sorted_values[-1], 3) if sorted_values else None,
    }


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KB, from /proc/<pid>/status."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU time of a process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU use of a set of processes between start() and stop(), as % of one core."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.t0 = 0.0
        self.c0: dict[int, float] = {}

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = {p: cpu_seconds(p) or 0.0 for p in self.pids}

    def stop(self) -> float:
        dt = max(time.monotonic() - self.t0, 1e-6)
        used = sum((cpu_seconds(p) or 0.0) - self.c0.get(p, 0.0) for p in self.pids)
        return round(100.0 * used / dt, 1)


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            m = re.search(r"model name\s*:\s*(.*)", fh.read())
            cpu_model = m.group(1).strip() if m else ""
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as fh:
            mem_kb = int(fh.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for mod in ("aiohttp", "socketio", "engineio", "uvloop", "orjson", "asyncpg"):
        try:
            from importlib.metadata import version

            dist = {"socketio": "python-socketio", "engineio": "python-engineio"}.get(mod, mod)
            versions[mod] = version(dist)
        except Exception:
            pass
    if shutil.which("node"):
        versions["node"] = _cmd(["node", "--version"])
    pkg = BENCH_DIR / "node_modules" / "socket.io" / "package.json"
    if pkg.exists():
        versions["socket.io"] = json.loads(pkg.read_text())["version"]
    if shutil.which("haproxy"):
        versions["haproxy"] = (
            _cmd(["haproxy", "-v"]).splitlines()[0] if _cmd(["haproxy", "-v"]) else ""
        )
    pg = _cmd(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"])
    if pg:
        versions["postgresql"] = pg
    head = _cmd(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"])
    dirty = _cmd(
        ["git", "-C", str(REPO_DIR), "status", "--short", "--", "chat_server", "schemas", "sql"]
    )
    return {
        "git_head": head,
        # The server code measured may include uncommitted work: list it.
        "uncommitted_server_files": [
            line.split(maxsplit=1)[-1] for line in dirty.splitlines() if line.strip()
        ],
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
        "nofile_hard_limit": _nofile_hard(),
        "versions": versions,
    }


def _nofile_hard() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def save_result(scenario: str, result: dict[str, Any], tag: str = "") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{scenario}{'-' + tag if tag else ''}.json"
    path = RESULTS_DIR / name
    result.setdefault("scenario", scenario)
    result.setdefault("tag", tag)
    result.setdefault("started_at", stamp)
    result.setdefault("command", " ".join(["python", "-m", "bench", *sys.argv[1:]]))
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {path.relative_to(REPO_DIR)}", file=sys.stderr)
    return path


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
