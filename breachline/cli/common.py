"""Options and helpers shared by the commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from breachline.config import Config, load_config


def add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", metavar="FILE", help="breachline.toml (default: $BREACHLINE_CONFIG or ./breachline.toml)")
    group.add_argument("--db", metavar="FILE", help="DuckDB file to use instead of the configured one")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None), db=getattr(args, "db", None))


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))
