"""Command-line options shared by the scenarios' sub-commands.

Owns: the option parsers (comma lists), the options of every scenario that starts the
targets itself (`target_options`), the pinning options (`pin_options`), and those of a
rate-stepping scenario (`step_options`), with the defaults bench/README.md documents.
Must not: run anything, or hold a scenario's own options (each module adds those).
"""

from __future__ import annotations

import argparse

# Stepping stops at the first failed step by default: the step before it is the capacity.
DEFAULT_STOP_AFTER_FAILS = 1


def floats(s: str) -> list[float]:
    """`50,100,200` -> [50.0, 100.0, 200.0]."""
    return [float(x) for x in s.split(",") if x.strip()]


def ints(s: str) -> list[int]:
    """`1000,1e4` -> [1000, 10000]."""
    return [int(float(x)) for x in s.split(",") if x.strip()]


def pin_options(p: argparse.ArgumentParser, *, port: bool = True) -> None:
    """Where the server and the generator run (bench.targets.cpus_from_args), the started
    server's port, and the results file's tag."""
    p.add_argument(
        "--server-cpus",
        default=None,
        help="taskset list for the server (default: first half of the cores)",
    )
    p.add_argument(
        "--gen-cpus", default=None, help="cpu list for the generator (default: second half)"
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin server or generator")
    if port:
        p.add_argument("--port", type=int, default=None, help="port for the started server")
    p.add_argument("--tag", default="", help="suffix for the results file name")


def target_options(p: argparse.ArgumentParser, targets: str = "ours,py,node") -> None:
    """The options of a scenario that drives ours and the baselines in turn."""
    p.add_argument(
        "--targets", default=targets, help="comma list of ours,py,node (default %(default)s)"
    )
    p.add_argument(
        "--url", help="drive an already running server instead (e.g. HAProxy); disables --targets"
    )
    p.add_argument(
        "--pids", default="", help="with --url: comma list of server pids for RSS/CPU figures"
    )
    p.add_argument(
        "--workers", type=int, default=2, help="load generator processes (default %(default)s)"
    )
    p.add_argument(
        "--deflate", action="store_true", help="offer permessage-deflate like browsers do"
    )
    pin_options(p)


def step_options(p: argparse.ArgumentParser, rates: str, duration: float) -> None:
    """The options of a rate-stepping scenario (bench.scenarios.steps.RunOpts.from_args)."""
    p.add_argument(
        "--rates",
        type=floats,
        default=floats(rates),
        help="total msgs/s per step (default %(default)s)",
    )
    p.add_argument("--duration", type=float, default=duration, help="seconds per step")
    p.add_argument(
        "--drain", type=float, default=5.0, help="seconds to wait for stragglers after a step"
    )
    p.add_argument(
        "--stop-after-fails",
        type=int,
        default=DEFAULT_STOP_AFTER_FAILS,
        help="stop stepping after this many failed steps",
    )
    p.add_argument("--connect-rate", type=float, default=1000.0)
    p.add_argument("--warmup-rate", type=float, default=None, help="default: half the first rate")
    p.add_argument("--pad", type=int, default=0, help="extra characters per message")
    p.add_argument(
        "--profile-rate",
        type=float,
        default=None,
        help="py-spy the server (ours only) during this step",
    )
    p.add_argument("--profile-seconds", type=int, default=20)


def target_names(args: argparse.Namespace) -> list[str]:
    """`--targets ours,py` -> ["ours", "py"]."""
    return [t.strip() for t in args.targets.split(",") if t.strip()]
