"""The `breachline` command. Each command group lives in its own module and registers its sub-parser here.

The surface is stable (scripts drive it): see docs/cli.md. Errors end in one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from breachline import __version__
from breachline.errors import BreachlineError

# Modules under breachline.cli that define `register(subparsers)`; each sets `func` on its parsers.
COMMAND_MODULES = (
    "generate",
    "ingest",
    "correlate",
    "playbooks",
    "alerts",
    "notify",
    "incidents",
    "outbox",
    "demo",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's module is imported (start-up matters for scripts and
    Prefect runs: some command modules pull in numpy or Prefect)."""
    parser = argparse.ArgumentParser(
        prog="breachline",
        description="Find data leaks and privilege abuse in store logs; alert once per incident.",
    )
    parser.add_argument("--version", action="version", version=f"breachline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if only is None else (only,):
        try:
            module = importlib.import_module(f"breachline.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"breachline.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMAND_MODULES else None)
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BreachlineError as exc:
        print(f"breachline: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("breachline: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
