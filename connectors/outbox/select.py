"""Choosing the next calls: queue heads, and the decision for each (call, merge, park, dead, hold)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta

import duckdb

from connectors.outbox.prepare import AlertSource, Decision, Head, parse_payload, prepare
from connectors.outbox.state import RunState
from connectors.outbox.views import load_incidents
from connectors.sinks.redact import collecting, optimistic, prime

_HEAD_COLUMNS = ("outbox_id", "incident_id", "target", "action", "payload", "attempts", "in_flight", "ambiguous",
                 "next_attempt_at", "created_at")


def heads(con: duckdb.DuckDBPyConnection, now: datetime, settle_seconds: float = 0.0) -> list[Head]:
    """The first undelivered row of every (incident, target) queue. A dead row blocks its queue (order is kept
    until someone retries it); a parked comment does not block. A row left in flight by a killed process is due
    `settle_seconds` after that attempt started, like any attempt whose outcome is unknown."""
    return _scan(con, now, settle_seconds)[0]


def _scan(con: duckdb.DuckDBPyConnection, now: datetime, settle_seconds: float
          ) -> tuple[list[Head], set[tuple[str, str]]]:
    """heads(), and the (incident, action) pairs with more than one pending update (all but the last can merge).
    A plain filtered scan and a pass in Python: several times faster here than window functions in SQL."""
    rows = con.execute(
        f"SELECT {', '.join(_HEAD_COLUMNS)}, status, parked, last_attempt_at FROM outbox"
        " WHERE status IN ('pending', 'dead') ORDER BY outbox_id"
    ).fetchall()
    settle = timedelta(seconds=settle_seconds)
    n = len(_HEAD_COLUMNS)
    i_incident, i_target, i_action, i_in_flight, i_next = (
        _HEAD_COLUMNS.index(c) for c in ("incident_id", "target", "action", "in_flight", "next_attempt_at"))
    seen: set[tuple[str, str]] = set()
    updates: Counter[tuple[str, str]] = Counter()
    out = []
    for r in rows:
        status, parked, last_attempt = r[n:]
        if status == "pending" and r[i_action] in ("update_root", "update_ticket"):
            updates[(r[i_incident], r[i_action])] += 1
        if parked and r[i_next] > now:
            continue
        queue = (r[i_incident], r[i_target])
        if queue in seen:
            continue
        seen.add(queue)
        if status != "pending":
            continue
        values = list(r[:n])
        if values[i_in_flight] and last_attempt is not None:
            values[i_next] = max(values[i_next], last_attempt + settle)
        out.append(Head(*values))  # payload still JSON text: parsed for the rows actually prepared
    return out, {k for k, v in updates.items() if v > 1}


def next_calls(
    con: duckdb.DuckDBPyConnection, run: RunState, now: datetime, busy: set[tuple[str, str]], limit: int
) -> list[Decision]:
    """Up to `limit` rows to call now, marked in flight (in the caller's transaction). Rows that need no call
    (merge, park, dead) are settled on the way."""
    for _ in range(50):  # settling a row exposes the next one in its queue; bounded for safety
        all_heads, later = _scan(con, now, run.sinks.settings.settle_seconds)
        due = [h for h in all_heads
               if h.next_attempt_at <= now and h.queue not in busy and h.queue not in run.skipped
               and (h.target, None) not in run.disabled]
        if not due:
            return []
        due = [dataclasses.replace(h, payload=parse_payload(h.payload)) for h in due[:limit]]
        decisions = _decide(con, run, due, later, now)
        calls: list[Decision] = []
        settle: list[Decision] = []
        for h, d in zip(due, decisions, strict=True):
            if h.queue in busy:
                continue
            if run.blocked(h.target, d.dest):
                run.skipped.add(h.queue)
            elif d.kind == "call":
                calls.append(d)
                if h.action == "post_root":
                    busy = busy | {(h.incident_id, "jira")}
            elif d.kind == "hold":
                run.disabled[(h.target, d.dest)] = d.note
                run.skipped.add(h.queue)
            else:
                settle.append(d)
        _settle(con, run, settle, now)
        if calls:
            con.execute(
                "UPDATE outbox SET in_flight = true, attempts = attempts + 1, last_attempt_at = ?"
                " WHERE outbox_id IN (SELECT unnest(?::BIGINT[]))",
                [now, [d.head.outbox_id for d in calls]],
            )
        if calls or not settle:
            return calls
    return []


def _decide(con: duckdb.DuckDBPyConnection, run: RunState, due: list[Head], later: set[tuple[str, str]],
            now: datetime) -> list[Decision]:
    """prepare() each head. It is deterministic, so it runs in passes over the batch: plan the alert reads and
    read them in one query; render from the redaction cache; if a string was missing, redact the misses in one
    call and render again (a pass with misses is discarded: it holds unredacted text)."""
    incidents = load_incidents(con, sorted({h.incident_id for h in due}))
    source = AlertSource(con, planning=True)
    with collecting():
        for h in due:
            prepare(con, h, incidents[h.incident_id], run.sinks, later, now, source)
    source.load()
    for _attempt in range(3):
        with optimistic() as misses:
            decisions = [prepare(con, h, incidents[h.incident_id], run.sinks, later, now, source) for h in due]
        if not misses:
            return decisions
        prime(misses)
    return [prepare(con, h, incidents[h.incident_id], run.sinks, later, now, source) for h in due]


def _settle(con: duckdb.DuckDBPyConnection, run: RunState, decisions: list[Decision], now: datetime) -> None:
    """Rows that need no call: merged (nothing left to say), parked (a throttled comment), dead (cannot be sent)."""
    merged = [d for d in decisions if d.kind == "merge"]
    parked = [d for d in decisions if d.kind == "park"]
    dead = [d for d in decisions if d.kind == "dead"]
    if merged:
        con.execute(
            "UPDATE outbox SET status = 'merged', in_flight = false, done_at = ?, last_error = m.note"
            " FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS note) m WHERE outbox.outbox_id = m.id",
            [now, [d.head.outbox_id for d in merged], [d.note for d in merged]],
        )
    if parked:
        con.execute(
            "UPDATE outbox SET parked = true, next_attempt_at = m.until"
            " FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::TIMESTAMPTZ[]) AS until) m"
            " WHERE outbox.outbox_id = m.id",
            [[d.head.outbox_id for d in parked], [d.until for d in parked]],
        )
    if dead:
        con.execute(
            "UPDATE outbox SET status = 'dead', in_flight = false, error_kind = 'permanent', last_error = m.note"
            " FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS note) m WHERE outbox.outbox_id = m.id",
            [[d.head.outbox_id for d in dead], [d.note for d in dead]],
        )
    run.summary.merged += len(merged)
    run.summary.newly_dead += len(dead)


def seconds_until_next(con: duckdb.DuckDBPyConnection, run: RunState, now: datetime) -> float | None:
    # Heads due now were all offered to _next_calls; those still here are held back by a config problem.
    waits = [(h.next_attempt_at - now).total_seconds() for h in heads(con, now, run.sinks.settings.settle_seconds)
             if h.next_attempt_at > now and h.queue not in run.skipped and (h.target, None) not in run.disabled]
    return min(waits) if waits else None
