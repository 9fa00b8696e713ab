"""Reading ticket status back from Jira: a ticket in a Done status category closes its incident."""

from __future__ import annotations

from datetime import datetime

import duckdb

from connectors.outbox.queue import NewRow, enqueue
from connectors.sinks import SinkSet
from connectors.sinks.base import SinkFailure


def sync_ticket_status(con: duckdb.DuckDBPyConnection, sinks: SinkSet, now: datetime) -> tuple[int, str | None]:
    """Close open incidents whose ticket is Done. Returns (closed, problem); a failed read changes nothing."""
    jira = sinks.sinks.get("jira")
    done_keys = getattr(jira, "done_keys", None)
    if jira is None or not jira.real or done_keys is None:
        return 0, None
    # An incident with a transition still to deliver was reopened by us: its Done status is about to change.
    rows = con.execute(
        "SELECT incident_id, jira_key FROM incidents i WHERE status = 'open' AND jira_key IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.incident_id AND o.action = 'transition'"
        "   AND o.status IN ('pending', 'dead'))"
    ).fetchall()
    if not rows:
        return 0, None
    by_key = {key: iid for iid, key in rows}
    try:
        done = done_keys(sorted(by_key))
    except SinkFailure as exc:
        return 0, str(exc) if exc.kind == "config" else None
    closing = [by_key[k] for k in sorted(done) if k in by_key]
    if not closing:
        return 0, None
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "UPDATE incidents SET status = 'closed', closed_at = ?, jira_status = 'Done', updated_at = ?"
            " WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))",
            [now, now, closing],
        )
        enqueue(con, [NewRow(iid, "slack", "update_root", {"reason": "ticket done"}) for iid in closing], now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(closing), None
