"""`breachline demo`: generate a store's week with attacks, run the pipeline, print what happened."""

from __future__ import annotations

import argparse
from pathlib import Path

from breachline.cli.common import print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("demo", help="a synthetic store's week with injected attacks, through the whole pipeline")
    p.add_argument("--out", default="demo-output", type=Path, help="where logs, store and config go (default: %(default)s)")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--events-per-day", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-prefect", action="store_true", help="run the steps directly instead of as a Prefect flow")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from breachline.demo import run_demo

    report = run_demo(args.out, days=args.days, events_per_day=args.events_per_day, seed=args.seed,
                      use_prefect=not args.no_prefect)
    if args.json:
        print_json(report)
        return 0
    print()
    print("Events per source")
    print_table([{"source": s, "events": f"{n:,}"} for s, n in report["events"].items()], ["source", "events"])
    print(f"quarantined: {report['quarantined']}")
    print()
    print("Incidents per playbook")
    print_table([{"playbook": p, "incidents": v["incidents"], "alerts": v["alerts"]}
                 for p, v in report["incidents"].items()], ["playbook", "incidents", "alerts"])
    print()
    print("Sent")
    print_table(report["sent"], ["target", "action", "count"])
    print()
    print(f"Done in {report['seconds']} s.")
    print(f"  store:          {report['store']}")
    print(f"  console sink:   {report['console_sink']}  (what Jira and Slack would have received)")
    print(f"  ground truth:   {report['ground_truth']}  (the attacks that were injected)")
    print()
    print("Next, try:")
    print(f"  breachline incidents list --db {report['store']}")
    print(f"  breachline playbooks backtest admin-escalation-then-bulk-export --db {report['store']} --since 30d")
    return 0
