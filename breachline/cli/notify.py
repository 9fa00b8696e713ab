"""`breachline notify`: give new alerts their incidents and deliver the outbox to Jira, Slack or the console."""

from __future__ import annotations

import argparse
import sys

from breachline.cli.common import add_store_options, config_from_args, print_json
from breachline.store import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("notify", help="open or update incidents from new alerts and deliver them (Jira, Slack)")
    add_store_options(p)
    p.add_argument("--json", action="store_true", help='print {"sent", "retried", "dead", "pending", ...} as JSON')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from breachline.pipeline import incident_policies, load_configured_playbooks
    from connectors.outbox import notify
    from connectors.sinks import DeliverySettings, build_sinks

    config = config_from_args(args)
    settings = DeliverySettings.from_config(config)
    # With --json, stdout carries the summary only: what the console sink prints goes to stderr.
    sinks = build_sinks(settings, console=sys.stderr if args.json else None)
    try:
        with open_store(config.db_path) as con:
            # the playbooks' policies plus the built-in blind-spot one, as the notify flow uses them
            result = notify(con, incident_policies(load_configured_playbooks(config)), sinks)
    finally:
        sinks.close()
    d, a = result.delivery, result.assigned
    if args.json:
        print_json(result.as_dict())
    else:
        print(f"alerts: {a.alerts} assigned; incidents: {a.opened} opened, {a.reopened} reopened, "
              f"{a.folded} folded into {a.digests} new digest(s); {a.joined} repeats")
        print(f"outbox: {d.sent} sent, {d.retried} retried, {d.newly_dead} dead-lettered, {d.merged} merged; "
              f"now {d.pending} pending, {d.dead} dead" + (f"; {d.closed} incident(s) closed in Jira" if d.closed
                                                           else ""))
    for line in d.errors:
        print(f"breachline: {line}", file=sys.stderr)
    if d.dead:
        print(f"breachline: {d.dead} outbox row(s) dead-lettered: `breachline outbox list` shows why, "
              "`breachline outbox retry ID|--all` resends", file=sys.stderr)
    return 0 if d.ok else 1
