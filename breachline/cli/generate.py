"""`breachline generate`: write a synthetic store's logs, with injected incidents and their ground truth."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from breachline.cli.common import print_json, print_table
from breachline.generate import DEFAULT_EVENTS_PER_DAY, DEFAULT_START, GenerateError, generate_store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-01, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write a synthetic store's WAF, app and admin logs with injected incidents (docs/generate.md)",
        description="Write N days of a synthetic store's logs in every supported format under DIR, one folder per "
        "format, plus DIR/ground_truth.jsonl. The same arguments always give byte-identical files.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--days", required=True, type=int, metavar="N", help="days of logs to write")
    p.add_argument("--seed", required=True, type=int, metavar="S", help="random seed (same seed, same files)")
    p.add_argument("--events-per-day", type=int, default=DEFAULT_EVENTS_PER_DAY, metavar="N",
                   help=f"benign events per day over all formats (default {DEFAULT_EVENTS_PER_DAY:,}); "
                   "injected scenarios come on top")
    p.add_argument("--start", type=_date, metavar="YYYY-MM-DD",
                   help=f"first day, UTC (default {DEFAULT_START.isoformat()}, fixed so output is reproducible)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


class _Bar:
    """A one-line progress bar on stderr, for runs long enough to want one."""

    def __init__(self, enabled: bool, delay: float = 1.0) -> None:
        self.enabled, self.delay = enabled, delay
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled or (time.monotonic() - self.start < self.delay and done < total):
            return
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\rgenerate [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what:<40}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    bar = _Bar(enabled=sys.stderr.isatty() and not args.json)
    try:
        summary = generate_store(args.out, days=args.days, seed=args.seed, events_per_day=args.events_per_day,
                                 start=args.start, progress=bar)
    finally:
        bar.close()
    if args.json:
        print_json({
            "out": str(summary.out), "start": summary.start.isoformat(), "days": summary.days, "seed": summary.seed,
            "events_per_day": summary.events_per_day, "events": summary.events, "total_events": summary.total_events,
            "seconds": round(summary.seconds, 3), "events_per_second": round(summary.events_per_second),
            "scenarios": summary.scenario_counts, "files": len(summary.paths),
        })
        return 0
    days = f"{summary.days} day{'s' if summary.days != 1 else ''}"
    print(f"wrote {summary.total_events:,} events ({days} from {summary.start.isoformat()}, seed "
          f"{summary.seed}) to {summary.out} in {summary.seconds:.1f} s ({summary.events_per_second:,.0f} events/s)")
    print_table([{"format": k, "events": f"{v:,}"} for k, v in summary.events.items()], ["format", "events"])
    print(f"injected {len(summary.scenarios)} scenarios (ground truth: {summary.out / 'ground_truth.jsonl'})")
    print_table([{"playbook": k, "instances": v} for k, v in sorted(summary.scenario_counts.items())],
                ["playbook", "instances"])
    return 0


__all__ = ["GenerateError", "register", "run"]
