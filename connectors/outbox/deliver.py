"""deliver(): send pending outbox rows, in order per (incident, target), concurrently across queues.

Crash safety: before a call the row is marked in flight (committed); the outcome is recorded in the transaction
that also updates the incident and queues follow-ups. A row found in flight (the process died) or whose last
failure was ambiguous (timeout, connection lost after sending) makes the sink look before it resends.
Retries: exponential backoff with jitter, at least what Retry-After asked; after max_attempts the row is dead.
Config errors (bad token, missing project or channel) keep rows pending and are reported in one line each.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from connectors.outbox.prepare import Decision, Head, parse_payload, prepare
from connectors.outbox.queue import NewRow, enqueue
from connectors.outbox.views import load_incidents
from connectors.sinks import SinkSet
from connectors.sinks.base import SinkFailure

_HEAD_COLUMNS = ("outbox_id", "incident_id", "target", "action", "payload", "attempts", "in_flight", "ambiguous",
                 "next_attempt_at", "created_at")


@dataclass
class DeliverySummary:
    sent: int = 0        # actions performed (including ones found already done by an earlier attempt)
    merged: int = 0      # rows with nothing left to say (carried by another action)
    retried: int = 0     # failed attempts scheduled again
    newly_dead: int = 0  # rows dead-lettered in this run
    dead: int = 0        # rows in the dead-letter state now (see `breachline outbox list`)
    pending: int = 0     # rows still pending now
    closed: int = 0      # incidents closed because their ticket went Done
    errors: list[str] = field(default_factory=list)  # one line per setting to fix

    @property
    def ok(self) -> bool:
        return self.dead == 0 and not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retried": self.retried, "dead": self.dead, "pending": self.pending,
                "merged": self.merged, "newly_dead": self.newly_dead, "closed": self.closed,
                "errors": list(self.errors)}

    def raise_for_problems(self) -> None:
        """For the Prefect flow: fail the run visibly while rows are dead-lettered or a setting is wrong."""
        from breachline.errors import DeliveryError

        if self.ok:
            return
        parts = list(self.errors)
        if self.dead:
            parts.append(f"{self.dead} outbox row(s) dead-lettered: see `breachline outbox list`, then "
                         "`breachline outbox retry ID|--all`")
        raise DeliveryError("; ".join(parts))


@dataclass
class _Run:
    sinks: SinkSet
    max_attempts: int
    summary: DeliverySummary
    disabled: dict[tuple[str, str | None], str] = field(default_factory=dict)  # (target, dest|None) -> message
    streaks: dict[tuple[str, str | None], int] = field(default_factory=dict)
    skipped: set[tuple[str, str]] = field(default_factory=set)  # queues held back by a config problem

    def blocked(self, target: str, dest: str | None) -> bool:
        return (target, None) in self.disabled or (dest is not None and (target, dest) in self.disabled)


def deliver(
    con: duckdb.DuckDBPyConnection,
    sinks: SinkSet,
    *,
    now: datetime | None = None,
    max_attempts: int | None = None,
) -> DeliverySummary:
    """Deliver due rows. With `now` given: one pass at that instant (tests); else real time, waiting up to
    `linger_seconds` for rows in backoff before returning."""
    settings = sinks.settings
    run = _Run(sinks, max_attempts or settings.max_attempts, DeliverySummary())
    for target, message in sinks.problems.items():
        run.disabled[(target, None)] = message
    clock: Callable[[], datetime] = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    workers = max(1, settings.workers)
    inflight: dict[Future[Any], Decision] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="breachline-deliver") as pool:
        while True:
            if len(inflight) < workers:
                busy = {d.head.queue for d in inflight.values()}
                # A ticket created while its Slack root is being posted would need a second write for the link.
                busy |= {(d.head.incident_id, "jira") for d in inflight.values() if d.head.action == "post_root"}
                for decision in _next_calls(con, run, clock(), busy, workers * 2 - len(inflight)):
                    assert decision.sink is not None and decision.request is not None
                    inflight[pool.submit(decision.sink.execute, decision.request)] = decision
            if not inflight:
                if now is not None:
                    break
                wait_for = _seconds_until_next(con, run, clock())
                if wait_for is None or wait_for > settings.linger_seconds:
                    break
                time.sleep(min(max(wait_for, 0.01), 1.0))
                continue
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            _record(con, run, [(inflight.pop(f), f) for f in done], clock())
    s = run.summary
    s.errors = sorted(set(run.disabled.values()))
    counts = dict(con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    s.dead, s.pending = counts.get("dead", 0), counts.get("pending", 0)
    return s


# --- choosing the next calls -----------------------------------------------------------------------------------

def heads(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Head]:
    """The first undelivered row of every (incident, target) queue. A dead row blocks its queue (order is kept
    until someone retries it); a parked comment does not block."""
    rows = con.execute(
        f"SELECT {', '.join(_HEAD_COLUMNS)}, status FROM outbox"
        " WHERE status IN ('pending', 'dead') AND NOT (parked AND next_attempt_at > ?)"
        " QUALIFY row_number() OVER (PARTITION BY incident_id, target ORDER BY outbox_id) = 1"
        " ORDER BY outbox_id",
        [now],
    ).fetchall()
    out = []
    for r in rows:
        if r[-1] == "pending":
            values = dict(zip(_HEAD_COLUMNS, r[:-1], strict=True))
            values["payload"] = parse_payload(values["payload"])
            out.append(Head(**values))
    return out


def _next_calls(
    con: duckdb.DuckDBPyConnection, run: _Run, now: datetime, busy: set[tuple[str, str]], limit: int
) -> list[Decision]:
    """Up to `limit` rows to call now. Rows that need no call (merge, park, dead) are settled on the way."""
    for _ in range(50):  # settling a row exposes the next one in its queue; bounded for safety
        due = [h for h in heads(con, now)
               if h.next_attempt_at <= now and h.queue not in busy and (h.target, None) not in run.disabled]
        if not due:
            return []
        due = due[: limit * 4]
        incidents = load_incidents(con, sorted({h.incident_id for h in due}))
        later = _later_updates(con)
        calls: list[Decision] = []
        settled = False
        con.execute("BEGIN TRANSACTION")
        try:
            for h in due:
                if len(calls) >= limit:
                    break
                if h.queue in busy:
                    continue
                decision = prepare(con, h, incidents[h.incident_id], run.sinks, later, now)
                if run.blocked(h.target, decision.dest):
                    run.skipped.add(h.queue)
                    continue
                if decision.kind == "call":
                    calls.append(decision)
                    if h.action == "post_root":
                        busy = busy | {(h.incident_id, "jira")}
                elif decision.kind == "hold":
                    run.disabled[(h.target, decision.dest)] = decision.note
                    run.skipped.add(h.queue)
                else:
                    _settle(con, run, decision, now)
                    settled = True
            if calls:
                ids = [d.head.outbox_id for d in calls]
                con.execute(
                    "UPDATE outbox SET in_flight = true, attempts = attempts + 1, last_attempt_at = ?"
                    " WHERE outbox_id IN (SELECT unnest(?::BIGINT[]))",
                    [now, ids],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if calls or not settled:
            return calls
    return []


def _later_updates(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(incident, action) pairs with more than one pending update: all but the last can be merged."""
    rows = con.execute(
        "SELECT incident_id, action FROM outbox WHERE status = 'pending' AND action IN ('update_root', 'update_ticket')"
        " GROUP BY incident_id, action HAVING count(*) > 1"
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def _settle(con: duckdb.DuckDBPyConnection, run: _Run, d: Decision, now: datetime) -> None:
    oid = d.head.outbox_id
    if d.kind == "merge":
        con.execute("UPDATE outbox SET status = 'merged', in_flight = false, done_at = ?, last_error = ?"
                    " WHERE outbox_id = ?", [now, d.note, oid])
        run.summary.merged += 1
    elif d.kind == "park":
        con.execute("UPDATE outbox SET parked = true, next_attempt_at = ? WHERE outbox_id = ?", [d.until, oid])
    elif d.kind == "dead":
        con.execute("UPDATE outbox SET status = 'dead', in_flight = false, error_kind = 'permanent', last_error = ?"
                    " WHERE outbox_id = ?", [d.note, oid])
        run.summary.newly_dead += 1


def _seconds_until_next(con: duckdb.DuckDBPyConnection, run: _Run, now: datetime) -> float | None:
    # Heads due now were all offered to _next_calls; those still here are held back by a config problem.
    waits = [(h.next_attempt_at - now).total_seconds() for h in heads(con, now)
             if h.next_attempt_at > now and h.queue not in run.skipped and (h.target, None) not in run.disabled]
    return min(waits) if waits else None


# --- recording outcomes ------------------------------------------------------------------------------------------

def _record(con: duckdb.DuckDBPyConnection, run: _Run, finished: list[tuple[Decision, Future[Any]]],
            now: datetime) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for decision, future in finished:
            exc = future.exception()
            if exc is None:
                _success(con, run, decision, future.result(), now)
            else:
                failure = exc if isinstance(exc, SinkFailure) else SinkFailure(
                    f"{type(exc).__name__}: {exc}", kind="transient", ambiguous=True)
                _failure(con, run, decision, failure, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _success(con: duckdb.DuckDBPyConnection, run: _Run, d: Decision, result: dict[str, Any], now: datetime) -> None:
    assert d.sink is not None
    h, meta, real = d.head, d.meta, d.sink.real
    con.execute(
        "UPDATE outbox SET status = 'sent', in_flight = false, ambiguous = false, done_at = ?, sink = ?, result = ?,"
        " error_kind = NULL WHERE outbox_id = ?",
        [now, d.sink.name, json.dumps(result, default=str), h.outbox_id],
    )
    run.summary.sent += 1
    run.streaks.pop((h.target, None), None)
    run.streaks.pop((h.target, d.dest), None)
    iid = h.incident_id
    if h.action == "create_ticket":
        if real:
            con.execute("UPDATE incidents SET jira_key = ?, jira_url = ?, jira_linked_slack = ? WHERE incident_id = ?",
                        [result["key"], result.get("url"), meta["has_slack_link"], iid])
        con.execute("UPDATE incidents SET jira_seen_seq = greatest(jira_seen_seq, ?) WHERE incident_id = ?",
                    [meta["seen_seq"], iid])
    elif h.action == "comment":
        con.execute("UPDATE incidents SET jira_seen_seq = greatest(jira_seen_seq, ?), jira_last_comment_at = ?"
                    " WHERE incident_id = ?", [meta["to_seq"], now, iid])
    elif h.action == "update_ticket" and real:
        con.execute("UPDATE incidents SET jira_linked_slack = jira_linked_slack OR ? WHERE incident_id = ?",
                    [meta["has_slack_link"], iid])
    elif h.action == "transition" and real:
        con.execute("UPDATE incidents SET jira_status = ? WHERE incident_id = ?", [result.get("status"), iid])
    elif h.action == "post_root" and real:
        con.execute("UPDATE incidents SET slack_channel_id = ?, slack_ts = ?, slack_permalink = ?,"
                    " slack_linked_jira = ? WHERE incident_id = ?",
                    [result["channel"], result["ts"], result.get("permalink"), meta["has_jira_link"], iid])
    elif h.action == "update_root" and real:
        con.execute("UPDATE incidents SET slack_linked_jira = slack_linked_jira OR ? WHERE incident_id = ?",
                    [meta["has_jira_link"], iid])
    if real:
        _ensure_cross_links(con, iid, now)


def _ensure_cross_links(con: duckdb.DuckDBPyConnection, incident_id: str, now: datetime) -> None:
    """Once both the ticket and the root message exist, each must link to the other: queue the update that is
    missing (a pending one will render the link anyway, so none is added then)."""
    row = con.execute(
        "SELECT jira_key IS NOT NULL AND slack_ts IS NOT NULL, slack_linked_jira, jira_linked_slack,"
        " (SELECT count(*) FROM outbox WHERE incident_id = ? AND action = 'update_root' AND status = 'pending'),"
        " (SELECT count(*) FROM outbox WHERE incident_id = ? AND action = 'update_ticket' AND status = 'pending')"
        " FROM incidents WHERE incident_id = ?",
        [incident_id, incident_id, incident_id],
    ).fetchone()
    if not row or not row[0]:
        return
    rows = []
    if not row[1] and row[3] == 0:
        rows.append(NewRow(incident_id, "slack", "update_root", {"reason": "jira link"}))
    if not row[2] and row[4] == 0:
        rows.append(NewRow(incident_id, "jira", "update_ticket", {"reason": "slack link"}))
    enqueue(con, rows, now)


def _failure(con: duckdb.DuckDBPyConnection, run: _Run, d: Decision, f: SinkFailure, now: datetime) -> None:
    h = d.head
    oid = h.outbox_id
    attempts = h.attempts + 1
    ambiguous = f.ambiguous or h.in_flight or h.ambiguous  # once in doubt, look until a success settles it
    if f.kind == "config":
        # Scoped failures (one project or channel) are keyed by the row's destination as the selection sees it.
        key = (h.target, d.dest if f.scope is not None else None)
        run.streaks[key] = run.streaks.get(key, 0) + 1
        # One refusal can be a glitch; several in a row mean the setting is wrong. Give up on it for this run.
        if run.streaks[key] >= run.sinks.settings.config_error_threshold:
            run.disabled[key] = str(f)
        con.execute(
            "UPDATE outbox SET in_flight = false, ambiguous = ?, attempts = attempts - 1, error_kind = 'config',"
            " last_error = ?, next_attempt_at = ? WHERE outbox_id = ?",
            [ambiguous, str(f), now + timedelta(seconds=run.sinks.settings.backoff_base_seconds), oid],
        )
        return
    if f.kind == "permanent" or attempts >= run.max_attempts:
        reason = str(f) if f.kind == "permanent" else f"gave up after {attempts} attempts: {f}"
        con.execute(
            "UPDATE outbox SET status = 'dead', in_flight = false, ambiguous = ?, error_kind = ?, last_error = ?"
            " WHERE outbox_id = ?",
            [ambiguous, f.kind, reason, oid],
        )
        run.summary.newly_dead += 1
        return
    delay = backoff(attempts, run.sinks.settings.backoff_base_seconds, run.sinks.settings.backoff_max_seconds,
                    f.retry_after)
    con.execute(
        "UPDATE outbox SET in_flight = false, ambiguous = ?, error_kind = 'transient', last_error = ?,"
        " next_attempt_at = ? WHERE outbox_id = ?",
        [ambiguous, str(f), now + timedelta(seconds=delay), oid],
    )
    run.summary.retried += 1


def backoff(attempts: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with equal jitter, never shorter than the service's Retry-After."""
    step = min(cap, base * 2 ** max(0, attempts - 1))
    delay = step * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)
