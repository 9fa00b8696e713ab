"""Looking at the outbox and resending: `breachline outbox list` and `breachline outbox retry`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from breachline.errors import DeliveryError


@dataclass(frozen=True)
class OutboxRow:
    outbox_id: int
    incident_id: str
    target: str
    action: str
    status: str          # pending | sent | merged | dead
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    done_at: datetime | None
    sink: str | None
    error_kind: str | None
    last_error: str | None
    blocked_by: int | None  # a dead row earlier in the same queue holds this one back

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("next_attempt_at", "created_at", "done_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def list_rows(con: duckdb.DuckDBPyConnection, *, statuses: tuple[str, ...] = ("pending", "dead"),
              limit: int = 500) -> list[OutboxRow]:
    rows = con.execute(
        "SELECT o.outbox_id, o.incident_id, o.target, o.action, o.status, o.attempts, o.next_attempt_at,"
        " o.created_at, o.done_at, o.sink, o.error_kind, o.last_error,"
        " (SELECT min(d.outbox_id) FROM outbox d WHERE d.status = 'dead' AND d.incident_id = o.incident_id"
        "   AND d.target = o.target AND d.outbox_id < o.outbox_id)"
        " FROM outbox o WHERE o.status IN (SELECT unnest(?::VARCHAR[])) ORDER BY o.outbox_id LIMIT ?",
        [list(statuses), limit],
    ).fetchall()
    return [OutboxRow(*r) for r in rows]


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {k: int(v) for k, v in con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()}


def retry(con: duckdb.DuckDBPyConnection, ids: list[int] | None, now: datetime) -> int:
    """Make dead rows (and rows waiting in backoff) due now with a fresh attempt count. None = all of them."""
    params: list[Any]
    if ids is not None:
        found = dict(con.execute(
            "SELECT outbox_id, status FROM outbox WHERE outbox_id IN (SELECT unnest(?::BIGINT[]))", [ids]
        ).fetchall())
        for i in ids:
            if i not in found:
                raise DeliveryError(f"outbox #{i} does not exist (see `breachline outbox list`)")
            if found[i] not in ("dead", "pending"):
                raise DeliveryError(f"outbox #{i} is {found[i]}: only dead or pending rows can be retried")
        where, params = "outbox_id IN (SELECT unnest(?::BIGINT[]))", [ids]
    else:
        where = "status = 'dead' OR (status = 'pending' AND next_attempt_at > ? AND NOT parked)"
        params = [now]
    # `ambiguous` is kept: a row whose earlier attempt may have landed is still looked for before it is resent.
    changed = con.execute(
        f"UPDATE outbox SET status = 'pending', attempts = 0, in_flight = false, next_attempt_at = ?,"
        f" error_kind = NULL WHERE {where} RETURNING outbox_id",
        [now, *params],
    ).fetchall()
    return len(changed)
