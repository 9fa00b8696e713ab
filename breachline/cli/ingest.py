"""`breachline ingest`: read the configured sources (or ad-hoc paths) into the event store."""

from __future__ import annotations

import argparse
import sys

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.config import SourceConfig
from breachline.errors import ConfigError
from breachline.pipeline import ingest_step
from breachline.progress import Progress


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("ingest", help="read WAF, application and admin logs into the event store")
    add_store_options(p)
    p.add_argument("--format", help="with PATH...: the format of the ad-hoc paths (e.g. aws_waf)")
    p.add_argument("--source", help="with PATH...: the source name to record (default: the format)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files, directories, globs or s3:// URLs to ingest")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.paths:
        if not args.format:
            raise ConfigError("ingest PATH... needs --format (e.g. --format aws_waf)")
        sources: tuple[SourceConfig, ...] = tuple(
            SourceConfig(name=args.source or args.format, format=args.format, location=p) for p in args.paths
        )
    else:
        sources = config.sources
        if not sources:
            where = config.path or "breachline.toml"
            raise ConfigError(f"{where}: no [[sources]] configured; add one or pass --format F PATH...")
    progress = Progress("ingest", enabled=sys.stderr.isatty() and not args.json)
    result = ingest_step(config, sources=sources, progress=progress)
    stats = result.stats
    progress.done()
    for silence in result.silent:
        print(f"breachline: source {silence.source} has delivered nothing since {silence.silent_since:%Y-%m-%d %H:%M}"
              " UTC (longer than its max_silence): a blind-spot incident is raised", file=sys.stderr)
    merged: dict[str, dict[str, object]] = {}
    for s in stats:  # ad-hoc paths of one source are one line
        row = merged.setdefault(s.source, {**s.summary(), "records": 0, "added": 0, "duplicates": 0, "quarantined": 0})
        for k in ("records", "added", "duplicates", "quarantined"):
            row[k] = int(row[k]) + int(s.summary()[k])  # type: ignore[call-overload]
    rows = list(merged.values())
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["source", "format", "records", "added", "duplicates", "quarantined"])
        print(f"store: {config.db_path}")
    return 0
