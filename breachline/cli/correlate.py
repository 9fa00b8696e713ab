"""`breachline correlate`: run the playbooks over what arrived since the last run (incremental, idempotent)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.config import Config, parse_duration
from breachline.store import harden, open_store
from correlators.playbooks import Playbook, configured_playbook_dirs, load_playbooks


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("correlate", help="run the playbooks over new events and record alerts")
    add_store_options(p)
    add_playbook_options(p)
    p.add_argument("--since", metavar="DURATION",
                   help="a playbook's first run decides only the last DURATION (e.g. 7d) instead of all history")
    p.add_argument("--json", action="store_true", help='print [{"playbook", "alerts", "suppressed"}, ...]')
    p.set_defaults(func=run)


def add_playbook_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--playbooks", metavar="DIR", action="append",
                   help="playbook directory or file (repeatable); default: the shipped library and the configured dirs")


def playbooks_from_args(args: argparse.Namespace, config: Config) -> list[Playbook]:
    dirs = configured_playbook_dirs(config.playbook_dirs, config.use_shipped_playbooks, getattr(args, "playbooks", None))
    return load_playbooks(dirs)


def run(args: argparse.Namespace) -> int:
    from correlators.correlation import correlate, watermark

    config = config_from_args(args)
    playbooks = playbooks_from_args(args, config)
    since = None
    with open_store(config.db_path) as con:
        harden(con)
        if args.since:
            mark = watermark(con)
            if mark is not None:
                since = mark - duration(args.since, "--since")
        runs = correlate(con, playbooks, since=since)
    if args.json:
        print_json([r.summary() for r in runs])
        return 0
    rows = [{"playbook": r.playbook, "alerts": r.alerts, "suppressed": r.suppressed, "late": r.late_events,
             "decided until": r.decided_until.strftime("%Y-%m-%d %H:%M:%S") if r.decided_until else "-",
             "seconds": f"{r.seconds:.2f}", "note": r.note} for r in runs]
    print_table(rows, ["playbook", "alerts", "suppressed", "late", "decided until", "seconds", "note"])
    print(f"store: {Path(config.db_path)}")
    return 0


def duration(value: str, key: str) -> dt.timedelta:
    return dt.timedelta(seconds=parse_duration(value, key))
