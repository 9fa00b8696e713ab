"""deliver(): send pending outbox rows, in order per (incident, target), concurrently across queues.

Crash safety: before a call the row is marked in flight (committed); the outcome is recorded in the transaction
that also updates the incident and queues follow-ups. A row found in flight (the process died) or whose last
failure was ambiguous (timeout, connection lost after sending) makes the sink look before it resends.
Retries: exponential backoff with jitter, at least what Retry-After asked; after max_attempts the row is dead.
Config errors (bad token, missing project or channel) keep rows pending and are reported in one line each.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from connectors.outbox.prepare import AlertSource, Decision, Head, parse_payload, prepare, warm_redaction
from connectors.outbox.queue import NewRow, enqueue
from connectors.outbox.views import load_incidents
from connectors.sinks import SinkSet
from connectors.sinks.base import SinkFailure
from connectors.sinks.redact import collecting, optimistic, prime

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
    unresolved: dict[tuple[str, str | None], str] = field(default_factory=dict)  # config errors since a success
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
    warm_redaction(con, sinks)
    clock: Callable[[], datetime] = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    workers = max(1, settings.workers)
    inflight: dict[Future[Any], Decision] = {}
    finished: list[tuple[Decision, Future[Any]]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="breachline-deliver") as pool:
        while True:
            # One transaction per cycle: record what finished, then pick the next calls and mark them in flight.
            # Calls are submitted only after the commit, so a call never happens without its in-flight mark.
            calls: list[Decision] = []
            con.execute("BEGIN TRANSACTION")
            try:
                if finished:
                    _record(con, run, finished, clock())
                    finished = []
                # Refill in batches (each costs a few queries), keeping up to four rows per worker submitted so
                # that threads never wait for the main loop.
                if len(inflight) <= workers:
                    busy = {d.head.queue for d in inflight.values()}
                    # A ticket created while its Slack root is being posted would need a second write for the link.
                    busy |= {(d.head.incident_id, "jira") for d in inflight.values() if d.head.action == "post_root"}
                    calls = _next_calls(con, run, clock(), busy, workers * 4 - len(inflight))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            for decision in calls:
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
            wait(list(inflight), return_when=FIRST_COMPLETED)
            # A commit costs milliseconds: give the others 5 ms to finish and record them together. (A crash
            # before the commit leaves them in flight: the restart looks before it resends.)
            wait(list(inflight), timeout=0.005)
            finished = [(inflight.pop(f), f) for f in [f for f in inflight if f.done()]]
    s = run.summary
    # One line per setting to fix: destinations given up on, and config errors no later success contradicted.
    s.errors = sorted(set(run.disabled.values()) | set(run.unresolved.values()))
    counts = dict(con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    s.dead, s.pending = counts.get("dead", 0), counts.get("pending", 0)
    return s


# --- choosing the next calls -----------------------------------------------------------------------------------

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


def _next_calls(
    con: duckdb.DuckDBPyConnection, run: _Run, now: datetime, busy: set[tuple[str, str]], limit: int
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


def _decide(con: duckdb.DuckDBPyConnection, run: _Run, due: list[Head], later: set[tuple[str, str]],
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


def _settle(con: duckdb.DuckDBPyConnection, run: _Run, decisions: list[Decision], now: datetime) -> None:
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


def _seconds_until_next(con: duckdb.DuckDBPyConnection, run: _Run, now: datetime) -> float | None:
    # Heads due now were all offered to _next_calls; those still here are held back by a config problem.
    waits = [(h.next_attempt_at - now).total_seconds() for h in heads(con, now, run.sinks.settings.settle_seconds)
             if h.next_attempt_at > now and h.queue not in run.skipped and (h.target, None) not in run.disabled]
    return min(waits) if waits else None


# --- recording outcomes ------------------------------------------------------------------------------------------

def _record(con: duckdb.DuckDBPyConnection, run: _Run, finished: list[tuple[Decision, Future[Any]]],
            now: datetime) -> None:
    """Outcomes of finished calls (in the caller's transaction)."""
    done = [(d, f.result()) for d, f in finished if f.exception() is None]
    if done:  # mark them sent first: the cross-link check must not count them as pending
        con.execute(
            "UPDATE outbox SET status = 'sent', in_flight = false, ambiguous = false, done_at = ?, sink = m.sink,"
            " result = m.result::JSON, error_kind = NULL"
            " FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS sink, unnest(?::VARCHAR[]) AS result) m"
            " WHERE outbox.outbox_id = m.id",
            [now, [d.head.outbox_id for d, _ in done], [d.sink.name for d, _ in done if d.sink],
             [json.dumps(r, default=str) for _, r in done]],
        )
        _success(con, run, done, now)
    failed = []
    for decision, future in finished:
        exc = future.exception()
        if exc is not None:
            failed.append((decision, exc if isinstance(exc, SinkFailure) else SinkFailure(
                f"{type(exc).__name__}: {exc}", kind="transient", ambiguous=True)))
    if failed:
        _failures(con, run, failed, now)


def _success(con: duckdb.DuckDBPyConnection, run: _Run, done: list[tuple[Decision, dict[str, Any]]],
             now: datetime) -> None:
    """The incident side of delivered rows (the rows themselves are already marked sent), one statement per kind."""
    updates: dict[str, list[list[Any]]] = {}
    linked: set[str] = set()
    for d, result in done:
        assert d.sink is not None
        h, meta, real = d.head, d.meta, d.sink.real
        run.summary.sent += 1
        for key in ((h.target, None), (h.target, d.dest)):
            run.streaks.pop(key, None)
            run.unresolved.pop(key, None)
        iid = h.incident_id
        if h.action == "create_ticket" and real:
            updates.setdefault("ticket", []).append(
                [iid, result["key"], result.get("url"), meta["has_slack_link"], meta["seen_seq"]])
        elif h.action == "create_ticket":
            updates.setdefault("seen", []).append([iid, meta["seen_seq"]])
        elif h.action == "comment":
            updates.setdefault("comment", []).append([iid, meta["to_seq"]])
        elif h.action == "update_ticket" and real and meta["has_slack_link"]:
            updates.setdefault("jira_linked", []).append([iid])
        elif h.action == "transition" and real:
            updates.setdefault("status", []).append([iid, result.get("status")])
        elif h.action == "post_root" and real:
            updates.setdefault("root", []).append(
                [iid, result["channel"], result["ts"], result.get("permalink"), meta["has_jira_link"]])
        elif h.action == "update_root" and real and meta["has_jira_link"]:
            updates.setdefault("slack_linked", []).append([iid])
        if real and h.action in ("create_ticket", "post_root", "update_root", "update_ticket"):
            linked.add(iid)
    for kind, rows in updates.items():
        sql, types = _INCIDENT_UPDATES[kind]
        columns = [list(col) for col in zip(*rows, strict=True)]
        src = ", ".join(f"unnest(?::{t}[]) AS c{i}" for i, t in enumerate(types))
        con.execute(f"UPDATE incidents SET {sql} FROM (SELECT {src}) m WHERE incidents.incident_id = m.c0",
                    [now, *columns] if "?" in sql else columns)  # the SET clause's ? comes first
    _ensure_cross_links(con, sorted(linked), now)


# kind -> (SET clause over m.c1.., column types with c0 = incident id); a trailing ? is `now`
_INCIDENT_UPDATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ticket": ("jira_key = m.c1, jira_url = m.c2, jira_linked_slack = m.c3,"
               " jira_seen_seq = greatest(jira_seen_seq, m.c4)", ("VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN", "BIGINT")),
    "seen": ("jira_seen_seq = greatest(jira_seen_seq, m.c1)", ("VARCHAR", "BIGINT")),
    "comment": ("jira_seen_seq = greatest(jira_seen_seq, m.c1), jira_last_comment_at = ?", ("VARCHAR", "BIGINT")),
    "jira_linked": ("jira_linked_slack = true", ("VARCHAR",)),
    "status": ("jira_status = m.c1", ("VARCHAR", "VARCHAR")),
    "root": ("slack_channel_id = m.c1, slack_ts = m.c2, slack_permalink = m.c3, slack_linked_jira = m.c4",
             ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN")),
    "slack_linked": ("slack_linked_jira = true", ("VARCHAR",)),
}


def _ensure_cross_links(con: duckdb.DuckDBPyConnection, incident_ids: list[str], now: datetime) -> None:
    """Once both the ticket and the root message exist, each must link to the other: queue the update that is
    missing (a pending one will render the link anyway, so none is added then)."""
    if not incident_ids:
        return
    missing = con.execute(
        "SELECT incident_id, slack_linked_jira, jira_linked_slack FROM incidents"
        " WHERE incident_id IN (SELECT unnest(?::VARCHAR[])) AND jira_key IS NOT NULL AND slack_ts IS NOT NULL"
        " AND NOT (slack_linked_jira AND jira_linked_slack)",
        [incident_ids],
    ).fetchall()
    if not missing:
        return
    pending = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT incident_id, action, count(*) FROM outbox WHERE status = 'pending'"
        " AND action IN ('update_root', 'update_ticket') AND incident_id IN (SELECT unnest(?::VARCHAR[]))"
        " GROUP BY ALL", [[m[0] for m in missing]]).fetchall()}
    rows = [(iid, sl, jl, pending.get((iid, "update_root"), 0), pending.get((iid, "update_ticket"), 0))
            for iid, sl, jl in sorted(missing)]
    new = []
    for iid, slack_linked, jira_linked, pending_root, pending_ticket in rows:
        if not slack_linked and pending_root == 0:
            new.append(NewRow(iid, "slack", "update_root", {"reason": "jira link"}))
        if not jira_linked and pending_ticket == 0:
            new.append(NewRow(iid, "jira", "update_ticket", {"reason": "slack link"}))
    enqueue(con, new, now)


def _failures(con: duckdb.DuckDBPyConnection, run: _Run, failed: list[tuple[Decision, SinkFailure]],
              now: datetime) -> None:
    """Failed attempts: config errors keep the row pending (and may give up on a destination for this run),
    permanent errors and exhausted retries dead-letter it, the rest wait with backoff. One statement."""
    settings = run.sinks.settings
    updates = []  # (id, status, attempts delta, ambiguous, error kind, message, next attempt)
    for d, f in failed:
        h = d.head
        attempts = h.attempts + 1
        ambiguous = f.ambiguous or h.in_flight or h.ambiguous  # once in doubt, look until a success settles it
        if f.kind == "config":
            # Scoped failures (one project or channel) are keyed by the row's destination as selection sees it.
            key = (h.target, d.dest if f.scope is not None else None)
            run.streaks[key] = run.streaks.get(key, 0) + 1
            run.unresolved[key] = str(f)
            # One refusal can be a glitch; several in a row mean the setting is wrong: give it up for this run.
            if run.streaks[key] >= settings.config_error_threshold:
                run.disabled[key] = str(f)
            updates.append((h.outbox_id, "pending", -1, ambiguous, "config", str(f),
                            now + timedelta(seconds=settings.backoff_base_seconds)))
        elif f.kind == "permanent" or attempts >= run.max_attempts:
            reason = str(f) if f.kind == "permanent" else f"gave up after {attempts} attempts: {f}"
            updates.append((h.outbox_id, "dead", 0, ambiguous, f.kind, reason, now))
            run.summary.newly_dead += 1
        else:
            delay = backoff(attempts, settings.backoff_base_seconds, settings.backoff_max_seconds, f.retry_after)
            if ambiguous:  # let a request the client gave up on land before the next attempt looks for it
                delay = max(delay, settings.settle_seconds)
            updates.append((h.outbox_id, "pending", 0, ambiguous, "transient", str(f), now + timedelta(seconds=delay)))
            run.summary.retried += 1
    cols = list(zip(*updates, strict=True))
    con.execute(
        "UPDATE outbox SET status = m.status, in_flight = false, attempts = attempts + m.delta, ambiguous = m.amb,"
        " error_kind = m.kind, last_error = m.msg, next_attempt_at = m.next"
        " FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS status, unnest(?::INTEGER[]) AS delta,"
        "   unnest(?::BOOLEAN[]) AS amb, unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS msg,"
        "   unnest(?::TIMESTAMPTZ[]) AS next) m WHERE outbox.outbox_id = m.id",
        [list(c) for c in cols],
    )


def backoff(attempts: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with equal jitter, never shorter than the service's Retry-After."""
    step = min(cap, base * 2 ** max(0, attempts - 1))
    delay = step * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)
