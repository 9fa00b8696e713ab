"""Writing outbox rows. Callers pass their open transaction's connection: the rows commit with the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

TARGETS = ("jira", "slack")
ACTIONS = {
    "jira": ("create_ticket", "comment", "transition", "update_ticket"),
    "slack": ("post_root", "thread_reply", "update_root"),
}


@dataclass(frozen=True)
class NewRow:
    incident_id: str
    target: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS.get(self.target, ()):
            raise ValueError(f"unknown outbox action {self.target}.{self.action}")


def enqueue(con: duckdb.DuckDBPyConnection, rows: Sequence[NewRow], now: datetime) -> list[int]:
    """Insert rows as pending, due now, with ids increasing in the order given (the delivery order)."""
    if not rows:
        return []
    ids = sorted(r[0] for r in con.execute("SELECT nextval('outbox_id_seq') FROM range(?)", [len(rows)]).fetchall())
    con.execute(
        "INSERT INTO outbox (outbox_id, incident_id, target, action, payload, status, next_attempt_at, created_at)"
        " SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
        " unnest(?::VARCHAR[])::JSON, 'pending', ?, ?",
        [
            ids,
            [r.incident_id for r in rows],
            [r.target for r in rows],
            [r.action for r in rows],
            [json.dumps(r.payload, sort_keys=True) for r in rows],
            now,
            now,
        ],
    )
    return ids
