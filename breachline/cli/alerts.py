"""`breachline alerts list | show`: the detections, newest first."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

import duckdb

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.config import parse_duration
from breachline.errors import BreachlineError
from breachline.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("alerts", help="list and show alerts")
    asub = p.add_subparsers(dest="alerts_command", metavar="COMMAND", required=True)
    lp = asub.add_parser("list", help="one line (or JSON object) per alert")
    add_store_options(lp)
    lp.add_argument("--since", metavar="DURATION", help="only alerts whose last event is this recent (e.g. 7d)")
    lp.add_argument("--playbook", metavar="ID", help="only this playbook's alerts")
    lp.add_argument("--json", action="store_true",
                    help='[{"id", "playbook", "severity", "group", "first_seen", "last_seen", "count", "incident"}]')
    lp.set_defaults(func=run_list)
    sp = asub.add_parser("show", help="one alert with its evidence")
    add_store_options(sp)
    sp.add_argument("id", metavar="ID", help="alert id (a unique prefix is enough)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=run_show)


def list_alerts(con: duckdb.DuckDBPyConnection, *, since: dt.timedelta | None = None,
                playbook: str | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if since is not None:
        where.append("last_seen >= ?")
        params.append((now or dt.datetime.now(dt.UTC)) - since)
    if playbook:
        where.append("playbook_id = ?")
        params.append(playbook)
    rows = con.execute(
        "SELECT alert_id, playbook_id, severity, group_values, first_seen, last_seen, event_count, incident_id"
        f" FROM alerts WHERE {' AND '.join(where)} ORDER BY last_seen DESC, alert_id", params).fetchall()
    return [{"id": r[0], "playbook": r[1], "severity": r[2], "group": json.loads(r[3]), "first_seen": r[4],
             "last_seen": r[5], "count": r[6], "incident": r[7]} for r in rows]


def run_list(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    since = dt.timedelta(seconds=parse_duration(args.since, "--since")) if args.since else None
    with open_store(config.db_path) as con:
        rows = list_alerts(con, since=since, playbook=args.playbook)
    if args.json:
        print_json(rows)
        return 0
    table = [{**r, "group": ", ".join(f"{k}={v}" for k, v in r["group"].items()),
              "first_seen": r["first_seen"].strftime("%Y-%m-%d %H:%M:%S"),
              "last_seen": r["last_seen"].strftime("%Y-%m-%d %H:%M:%S"), "incident": r["incident"] or "-"}
             for r in rows]
    print_table(table, ["id", "playbook", "severity", "group", "first_seen", "last_seen", "count", "incident"])
    return 0


def run_show(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        cur = con.execute("SELECT * FROM alerts WHERE starts_with(alert_id, ?) ORDER BY alert_id LIMIT 2", [args.id])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if not rows:
        raise BreachlineError(f'no alert with id "{args.id}"')
    if len(rows) > 1:
        raise BreachlineError(f'"{args.id}" matches several alerts; give more of the id')
    alert = rows[0]
    for key in ("group_values", "metrics", "samples"):
        if alert.get(key) is not None:
            alert[key] = json.loads(alert[key])
    if args.json:
        print_json(alert)
        return 0
    for key in ("alert_id", "title", "playbook_id", "playbook_version", "severity", "group_values", "first_seen",
                "last_seen", "decision_time", "event_count", "metrics", "incident_id"):
        print(f"{key:17} {alert.get(key)}")
    ids = alert["event_ids"]
    print(f"{'event_ids':17} {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}")
    for sample in alert.get("samples") or []:
        print("  sample: " + json.dumps({k: v for k, v in sample.items() if v is not None}, default=str))
    return 0
