"""`python -m bench lobby`: N sockets in the lobby (every user's room), messages into it.

The 10,000-member room of docs/contract.md §11: each message is one fan-out to every socket.
Owns: the lobby sub-command, its options and its results file (`lobby-<N>`).
Must not: hold the stepping or the plan's making (bench.scenarios.steps, .plans).
"""

from __future__ import annotations

import argparse

from bench.scenarios.options import step_options, target_options
from bench.scenarios.plans import rooms_plan
from bench.scenarios.steps import run_plan
from bench.targets import LOBBY_ROOM_ID


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lobby", help="N connections in the lobby (every user's room), messages into it"
    )
    target_options(p)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--senders", type=int, default=10)
    step_options(p, "2", 20.0)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    run_plan(
        args,
        lambda: rooms_plan(1, args.n, args.senders, lobby=True),
        f"lobby-{args.n}",
        {"connections": args.n, "room": LOBBY_ROOM_ID, "senders": args.senders},
    )
