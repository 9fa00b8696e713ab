"""deliver(): send pending outbox rows, in order per (incident, target), concurrently across queues.

Crash safety: before a call the row is marked in flight (committed); the outcome is recorded in the transaction
that also updates the incident and queues follow-ups. A row found in flight (the process died) or whose last
failure was ambiguous (timeout, connection lost after sending) makes the sink look before it resends.
Retries: exponential backoff with jitter, at least what Retry-After asked; after max_attempts the row is dead.
Config errors (bad token, missing project or channel) keep rows pending and are reported in one line each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import duckdb

from connectors.outbox.prepare import Decision, warm_redaction
from connectors.outbox.record import backoff, record
from connectors.outbox.select import heads, next_calls, seconds_until_next
from connectors.outbox.state import DeliverySummary, RunState
from connectors.sinks import SinkSet

__all__ = ["DeliverySummary", "backoff", "deliver", "heads"]


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
    run = RunState(sinks, max_attempts or settings.max_attempts, DeliverySummary())
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
                    record(con, run, finished, clock())
                    finished = []
                # Refill in batches (each costs a few queries), keeping up to four rows per worker submitted so
                # that threads never wait for the main loop.
                if len(inflight) <= workers:
                    busy = {d.head.queue for d in inflight.values()}
                    # A ticket created while its Slack root is being posted would need a second write for the link.
                    busy |= {(d.head.incident_id, "jira") for d in inflight.values() if d.head.action == "post_root"}
                    calls = next_calls(con, run, clock(), busy, workers * 4 - len(inflight))
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
                wait_for = seconds_until_next(con, run, clock())
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
