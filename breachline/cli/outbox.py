"""`breachline outbox list | retry`: what is waiting, what is dead-lettered and why; resend."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.errors import ConfigError
from breachline.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("outbox", help="the queue of Jira and Slack actions")
    osub = p.add_subparsers(dest="outbox_command", metavar="COMMAND", required=True)
    lp = osub.add_parser("list", help="pending and dead-lettered rows (with --all: every row)")
    add_store_options(lp)
    lp.add_argument("--all", action="store_true", help="include sent and merged rows")
    lp.add_argument("--limit", type=int, default=500)
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=run_list)
    rp = osub.add_parser("retry", help="resend dead-lettered rows (attempts start again)")
    add_store_options(rp)
    rp.add_argument("ids", nargs="*", type=int, metavar="ID")
    rp.add_argument("--all", action="store_true", help="every dead row, and rows waiting in backoff")
    rp.set_defaults(func=run_retry)


def run_list(args: argparse.Namespace) -> int:
    from connectors.outbox import counts, list_rows

    statuses = ("pending", "dead", "sent", "merged") if args.all else ("pending", "dead")
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        rows = list_rows(con, statuses=statuses, limit=args.limit)
        totals = counts(con)
    if args.json:
        print_json({"rows": [r.as_dict() for r in rows], "counts": totals})
        return 0
    table = []
    for r in rows:
        state = r.status + (f" (after #{r.blocked_by})" if r.blocked_by and r.status == "pending" else "")
        table.append({"id": r.outbox_id, "incident": r.incident_id, "action": f"{r.target}.{r.action}",
                      "status": state, "attempts": r.attempts,
                      "next try": r.next_attempt_at.strftime("%H:%M:%S") if r.status == "pending" else "-",
                      "error": (r.last_error or "")[:100]})
    print_table(table, ["id", "incident", "action", "status", "attempts", "next try", "error"])
    print(", ".join(f"{v} {k}" for k, v in sorted(totals.items())) or "outbox empty")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    from connectors.outbox import retry

    if bool(args.ids) == bool(args.all):
        raise ConfigError("outbox retry: give row IDs or --all (not both)")
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        n = retry(con, None if args.all else list(args.ids), datetime.now(UTC))
    print(f"{n} row(s) due again; `breachline notify` sends them")
    return 0
