"""`python -m bench <command> [options]`: see bench/README.md for the exact commands.

Owns: the list of sub-commands and the top-level parser; nothing else.
Must not: define a command's options or behaviour: each module in COMMANDS does that in
its own `register(sub)` (which sets `fn`), so a new scenario is one new module and one
line here.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import downtime, housekeeping, report
from bench.scenarios import (
    api,
    artillery,
    changes,
    cluster,
    connect,
    dm,
    fanout,
    floor,
    lobby,
    redis_clients,
)

# In the order `python -m bench --help` lists them.
COMMANDS = (
    connect,
    fanout,
    lobby,
    changes,
    dm,
    api,
    cluster,
    artillery,
    floor,
    redis_clients,
    downtime,
    report,
    housekeeping,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Chat server benchmark suite"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args.fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
