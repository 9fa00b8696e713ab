"""Retention: events and quarantined records older than the configured days are deleted; alerts, incidents and
the outbox are kept (they are the audit trail of what was detected and said)."""

from __future__ import annotations

import datetime as dt

import duckdb

# table -> the time column retention is measured on
RETAINED_BY = {"events": "time", "quarantine": "quarantined_at"}


def apply_retention(
    con: duckdb.DuckDBPyConnection, retention_days: dict[str, int], now: dt.datetime
) -> dict[str, int]:
    """Delete rows past their table's retention; returns rows deleted per table."""
    deleted = {}
    for table, column in RETAINED_BY.items():
        days = retention_days.get(table)
        if not days:
            continue
        cutoff = now - dt.timedelta(days=days)
        rows = con.execute(f"DELETE FROM {table} WHERE {column} < ?", [cutoff]).fetchall()
        deleted[table] = int(rows[0][0])
    return deleted
