"""notify(): what `breachline notify` and the Prefect flow run: read ticket status, assign alerts, deliver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from connectors.outbox.deliver import DeliverySummary, deliver
from connectors.outbox.status import sync_ticket_status
from connectors.sinks import SinkSet

if TYPE_CHECKING:  # correlators.incidents imports the outbox queue: import it lazily to avoid a cycle
    from correlators.incidents import AssignSummary, IncidentPolicy


@dataclass
class NotifySummary:
    assigned: AssignSummary
    delivery: DeliverySummary

    def as_dict(self) -> dict[str, Any]:
        return {**self.delivery.as_dict(), "assigned": self.assigned.as_dict()}


def notify(
    con: duckdb.DuckDBPyConnection,
    policies: Mapping[str, IncidentPolicy],
    sinks: SinkSet,
    *,
    now: datetime | None = None,
) -> NotifySummary:
    """Close incidents whose ticket is Done, give new alerts their incidents, then deliver the outbox.

    Status is read first so that a repeat after a close follows the playbook's after_close policy."""
    from correlators.incidents import assign

    start = now or datetime.now(UTC)
    closed, problem = sync_ticket_status(con, sinks, start)
    assigned = assign(con, policies, start)
    delivery = deliver(con, sinks, now=now)
    delivery.closed = closed
    if problem:
        delivery.errors = sorted({*delivery.errors, problem})
    return NotifySummary(assigned, delivery)
