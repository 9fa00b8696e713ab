"""`breachline incidents list`: each incident with its counts, Jira key and Slack thread."""

from __future__ import annotations

import argparse
from typing import Any

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("incidents", help="incidents: what the alerts became")
    isub = p.add_subparsers(dest="incidents_command", metavar="COMMAND", required=True)
    lp = isub.add_parser("list", help="list incidents with their Jira ticket and Slack thread")
    add_store_options(lp)
    lp.add_argument("--status", choices=["open", "closed", "folded", "all"], default="all")
    lp.add_argument("--limit", type=int, default=200)
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=run_list)


def list_incidents(con: Any, status: str = "all", limit: int = 200) -> list[dict[str, Any]]:
    where = "" if status == "all" else "WHERE status = ?"
    params: list[Any] = [] if status == "all" else [status]
    cur = con.execute(
        "SELECT incident_id, kind, status, severity, playbook_id, alert_count, event_count, first_seen, last_seen,"
        " jira_key, jira_url, slack_channel_id, slack_ts, slack_permalink, digest_id, linked_incident_id, title"
        f" FROM incidents {where} ORDER BY opened_at DESC, incident_id LIMIT ?",
        [*params, limit],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run_list(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        rows = list_incidents(con, args.status, args.limit)
    if args.json:
        print_json(rows)
        return 0
    table = []
    for r in rows:
        thread = r["slack_permalink"] or (f"{r['slack_channel_id']}/{r['slack_ts']}" if r["slack_ts"] else "-")
        status = r["status"] + (f" → {r['digest_id']}" if r["digest_id"] else "")
        table.append({"incident": r["incident_id"], "status": status, "severity": r["severity"],
                      "playbook": r["playbook_id"], "alerts": r["alert_count"],
                      "last seen": r["last_seen"].strftime("%Y-%m-%d %H:%M"), "jira": r["jira_key"] or "-",
                      "slack thread": thread, "title": r["title"][:60]})
    print_table(table, ["incident", "status", "severity", "playbook", "alerts", "last seen", "jira",
                        "slack thread", "title"])
    return 0
