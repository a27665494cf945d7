"""`python -m bench dm`: a DM storm, pairs of users messaging each other.

Owns: the dm sub-command, its options and its results file (`dm-<pairs>`).
Must not: hold the stepping or the plan's making (bench.scenarios.steps, .plans).
"""

from __future__ import annotations

import argparse

from bench.scenarios.options import step_options, target_options
from bench.scenarios.plans import dm_plan
from bench.scenarios.steps import run_plan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dm", help="DM storm: pairs messaging each other")
    target_options(p)
    p.add_argument("--pairs", type=int, default=500)
    step_options(p, "250,500,1000,2000", 10.0)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    run_plan(args, lambda: dm_plan(args.pairs), f"dm-{args.pairs}", {"pairs": args.pairs})
