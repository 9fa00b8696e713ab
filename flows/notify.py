"""The `notify` flow: incidents from new alerts, then the outbox delivered to Jira / Slack / console."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from breachline.config import load_config
from breachline.pipeline import incidents_opened_since, notify_step
from flows.reporting import emit, publish_table


@flow(name="notify")
def notify_flow(
    config_path: str | None = None, db: str | None = None, console_path: str | None = None
) -> dict[str, Any]:
    """console_path: where the console sink writes what it would send (default: standard output)."""
    config = load_config(config_path, db=db)
    started = dt.datetime.now(dt.UTC)
    if console_path:
        with open(console_path, "a", encoding="utf-8") as console:
            result = notify_step(config, console=console)
    else:
        result = notify_step(config)
    d, a = result.delivery, result.assigned
    publish_table(
        "notify-summary",
        "Notify: deliveries",
        [{"incidents opened": a.opened, "repeats": a.joined, "sent": d.sent, "retried": d.retried,
          "dead": d.dead, "pending": d.pending}],
        ["incidents opened", "repeats", "sent", "retried", "dead", "pending"],
    )
    for inc in incidents_opened_since(config, started):
        emit("breachline.incident.opened", f"breachline.incident.{inc['incident_id']}", inc,
             {"breachline.playbook": inc["playbook_id"], "breachline.severity": inc["severity"]})
    if d.newly_dead:
        emit("breachline.delivery.dead_letter", f"breachline.db.{config.db_path.name}",
             {"count": d.newly_dead, "errors": d.errors})
    for line in d.errors:
        get_run_logger().error(line)
    d.raise_for_problems()  # dead letters or a wrong setting fail the run visibly
    return result.as_dict()
