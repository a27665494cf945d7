"""py-spy profiles of our server during one rate step.

Owns: recording a flame graph (SVG) and collapsed stacks (TXT) as
bench/results/profile-<scenario>.svg/.txt, and the self/inclusive top lists computed from
the stacks for the results file.
Must not: pause the server (always `--nonblocking`), or fail a run when py-spy is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import RESULTS_DIR, log

# py-spy's samples per second: enough for a 20 s step's top list, light on the server core.
SAMPLE_RATE = 200


def start_profile(pid: int, seconds: int, name: str) -> list[subprocess.Popen[bytes]]:
    """py-spy flame graph (SVG) and collapsed stacks (for the top-costs table), sampled
    without pausing the server (--nonblocking)."""
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
                    str(SAMPLE_RATE),
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
