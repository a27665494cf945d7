"""`python -m bench fanout`: R rooms x M members, the total message rate stepped up.

Owns: the fanout sub-command, its options and its results file (`fanout-<R>x<M>`).
Must not: hold the stepping or the plan's making (bench.scenarios.steps, .plans).
"""

from __future__ import annotations

import argparse

from bench.scenarios.options import step_options, target_options
from bench.scenarios.plans import rooms_plan
from bench.scenarios.steps import run_plan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fanout", help="R rooms x M members, stepping the total message rate")
    target_options(p)
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--senders", type=int, default=10, help="senders per room")
    step_options(p, "50,100,200,300,400,600", 10.0)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    run_plan(
        args,
        lambda: rooms_plan(args.rooms, args.members, args.senders),
        f"fanout-{args.rooms}x{args.members}",
        {"rooms": args.rooms, "members": args.members, "senders_per_room": args.senders},
    )
