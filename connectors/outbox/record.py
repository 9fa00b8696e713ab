"""Recording what finished: sent rows with their incident changes and follow-ups, failures with their next try."""

from __future__ import annotations

import json
import random
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

import duckdb

from connectors.outbox.prepare import Decision
from connectors.outbox.queue import NewRow, enqueue
from connectors.outbox.state import RunState
from connectors.sinks.base import SinkFailure


def record(con: duckdb.DuckDBPyConnection, run: RunState, finished: list[tuple[Decision, Future[Any]]],
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


def _success(con: duckdb.DuckDBPyConnection, run: RunState, done: list[tuple[Decision, dict[str, Any]]],
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


def _failures(con: duckdb.DuckDBPyConnection, run: RunState, failed: list[tuple[Decision, SinkFailure]],
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
