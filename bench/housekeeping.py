"""`python -m bench db` and `python -m bench machine`: the bench's housekeeping commands.

Owns: preparing or removing the bench database from the command line (through
bench.fixtures), and printing the machine description recorded with every result.
Must not: measure anything or write to bench/results/.
"""

from __future__ import annotations

import argparse
import json

from bench import fixtures
from bench.common import log, machine


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="create/migrate (or drop) the bench database and its users")
    p.add_argument("--users", type=int, default=0)
    p.add_argument("--fresh", action="store_true", help="drop and recreate first")
    p.add_argument("--drop", action="store_true", help="drop the bench database and exit")
    p.set_defaults(fn=run_db)

    p = sub.add_parser("machine", help="print the machine description recorded with results")
    p.set_defaults(fn=run_machine)


def run_db(args: argparse.Namespace) -> None:
    if args.drop:
        fixtures.drop_db()
        return
    fixtures.ensure_db(drop=args.fresh)
    if args.users:
        fixtures.users(args.users, with_tokens=False)
    log(f"bench database ready: {fixtures.dsn()}")


def run_machine(args: argparse.Namespace) -> None:
    print(json.dumps(machine(), indent=1))
