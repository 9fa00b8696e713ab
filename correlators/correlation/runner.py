"""Incremental, consistent correlation runs (`breachline correlate`).

Per playbook, `correlation_state.final_until` (P) says up to which decision time alerts have been emitted.
A run computes the event-time watermark M (newest event time, ignoring events stamped more than an hour after
they were ingested: a broken clock must not finalise the future), sets F = M - lateness, reads the events with
time in [P - look-back, F] and emits the alerts whose decision time is in (P, F]. Because an alert depends only
on events at or before its decision time (and within its look-back), and every event arrives within `lateness`
of its time, the alerts of (P, F] are exactly those a single run over all the events would emit there: one
batch, many small batches in arrival order, or a backfill give the same alert set. Events that arrive later
than that (time already final) are counted as `late_events` and not correlated.

Each playbook is one transaction: alerts, suppressed matches, first-seen sightings and the new final time
commit together, so a crash never leaves a half-run (the rerun redoes it; ids make inserts idempotent).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from correlators.correlation.compiler import (
    Bounds,
    FirstSeenComponent,
    compile_playbook,
    components_of,
    lookback,
)
from correlators.correlation.first_seen import STATE_TABLE, state_update_sql
from correlators.correlation.sqlparts import lit, sample_struct
from correlators.playbooks.model import Playbook

CLOCK_SKEW = dt.timedelta(hours=1)
INFINITY = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass
class PlaybookRun:
    playbook: str
    version: int
    alerts: int = 0
    suppressed: int = 0
    late_events: int = 0
    decided_after: dt.datetime | None = None
    decided_until: dt.datetime | None = None
    seconds: float = 0.0
    note: str = ""

    def summary(self) -> dict[str, Any]:
        """The `correlate --json` object."""
        return {"playbook": self.playbook, "alerts": self.alerts, "suppressed": self.suppressed}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Install the JSONLogic macros compiled conditions may call (idempotent)."""
    from correlators.jsonlogic import install_macros

    install_macros(con)


def watermark(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The newest trustworthy event time in the store (None when it is empty)."""
    return _watermark(con, None)[0]


def _watermark(con: duckdb.DuckDBPyConnection, ingested_from: dt.datetime | None
               ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(newest trustworthy event time, newest ingest time) over the events ingested at or after
    `ingested_from` (all events when None). Ingest times grow with each load, so with a bound only the last
    row groups are read: an incremental run does not scan the history to find out where it is."""
    where = "WHERE ingested_at >= ?" if ingested_from is not None else ""
    row = con.execute(
        f'SELECT max("time") FILTER (WHERE "time" <= ingested_at + INTERVAL {int(CLOCK_SKEW.total_seconds())} SECOND),'
        f" max(ingested_at) FROM events {where}",
        [ingested_from] if ingested_from is not None else [],
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


_MARK, _INGESTED = "@mark", "@ingested"  # reserved keys in state_until (step names cannot contain "@")


def correlate(
    con: duckdb.DuckDBPyConnection,
    playbooks: Iterable[Playbook],
    *,
    flush: bool = False,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[PlaybookRun]:
    """Run every playbook over what is new since its last run; returns one summary per playbook.

    flush: treat the store as closed history: every decision is final now (lateness ignored, trailing
        `absent` steps decided at the end). For tests and one-shot analyses; the playbook is then done.
    since: a playbook with no state yet starts deciding at `since` instead of the first event (its look-back
        and first-seen baselines still read the history before it).

    Three phases: each playbook's candidate alerts into a temp table (reads only); the sample events of all
    candidates in one pass over the wide columns; then one transaction per playbook records its alerts,
    suppressed matches, first-seen sightings and new final time.
    """
    prepare(con)
    run_id = uuid.uuid4().hex[:12]
    started = now or dt.datetime.now(dt.UTC)
    playbooks = list(playbooks)
    mark, ingested = _current_mark(con, playbooks)
    plans = [_plan(con, pb, mark, i, flush=flush, since=since, started=started) for i, pb in enumerate(playbooks)]
    todo = [p for p in plans if p.table]
    try:
        _fetch_samples(con, [p.table for p in todo])
        for p in todo:
            _commit(con, p, mark, ingested, flush=flush, run_id=run_id, started=started)
    finally:
        for p in todo:
            con.execute(f"DROP TABLE IF EXISTS {p.table}")
        con.execute("DROP TABLE IF EXISTS bl_sample_rows")
    return [p.res for p in plans]


def _current_mark(con: duckdb.DuckDBPyConnection, playbooks: list[Playbook]
                  ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The watermark: from the events ingested since the last run when every playbook has run before (the
    marks stored then are the floor), else from all events."""
    saved = [s[3] for s in (_state(con, pb) for pb in playbooks) if s is not None]
    if playbooks and len(saved) == len(playbooks) and all(_MARK in s and _INGESTED in s for s in saved):
        floor = max(dt.datetime.fromisoformat(s[_MARK]) for s in saved)
        since_ingest = min(dt.datetime.fromisoformat(s[_INGESTED]) for s in saved)
        mark, ingested = _watermark(con, since_ingest)
        return max(floor, mark) if mark else floor, ingested or since_ingest
    return _watermark(con, None)


def _state(con: duckdb.DuckDBPyConnection, pb: Playbook) -> tuple[int, dt.datetime, dt.datetime, dict[str, Any]] | None:
    row = con.execute(
        "SELECT playbook_version, final_until, last_run_at, state_until FROM correlation_state WHERE playbook_id = ?",
        [pb.id],
    ).fetchone()
    if row is None:
        return None
    state_until = json.loads(row[3]) if row[3] else {}
    return row[0], row[1], row[2], state_until


@dataclass
class _Plan:
    pb: Playbook
    res: PlaybookRun
    table: str = ""  # the temp table holding the candidates; empty: nothing to do
    final_new: dt.datetime | None = None
    state_until: dict[str, dt.datetime | None] = field(default_factory=dict)
    seconds: float = 0.0


def _plan(con: duckdb.DuckDBPyConnection, pb: Playbook, mark: dt.datetime | None, index: int, *, flush: bool,
          since: dt.datetime | None, started: dt.datetime) -> _Plan:
    t0 = time.perf_counter()
    plan = _Plan(pb, PlaybookRun(pb.id, pb.version))
    res = plan.res
    if mark is None:
        res.note = "no events"
        return plan
    state = _state(con, pb)
    final_prev = state[1] if state else since
    final_new = INFINITY if flush else mark - pb.lateness
    if state is not None and state[3].get(_INGESTED):
        res.late_events = _late_events(con, dt.datetime.fromisoformat(state[3][_INGESTED]), state[1])
    if final_prev is not None and final_new <= final_prev:
        res.note = "nothing new is final yet"
        res.decided_after = final_prev
        return plan
    res.decided_after, res.decided_until = final_prev, (None if flush else final_new)
    plan.final_new = final_new
    same_version = state is not None and state[0] == pb.version
    components = components_of(pb)
    if components:
        # (Re)building the sightings is idempotent, so it may commit before the alerts do.
        con.execute("BEGIN TRANSACTION")
        try:
            for comp in components:
                plan.state_until[comp.key] = _component_start(con, pb, comp, final_prev,
                                                              state[3] if state and same_version else None)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    read_from = final_prev - lookback(pb) if final_prev is not None else None
    bounds = Bounds(read_from=read_from, decide_after=final_prev, decide_until=res.decided_until,
                    state_until=plan.state_until, use_state=True)
    query = compile_playbook(pb, bounds)
    plan.table = f"bl_candidates_{index}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {plan.table} AS\n{query.sql}")
    plan.seconds = time.perf_counter() - t0
    return plan


def _commit(con: duckdb.DuckDBPyConnection, plan: _Plan, mark: dt.datetime | None, ingested: dt.datetime | None,
            *, flush: bool, run_id: str, started: dt.datetime) -> None:
    t0 = time.perf_counter()
    pb, res = plan.pb, plan.res
    assert mark is not None and plan.final_new is not None
    con.execute("BEGIN TRANSACTION")
    try:
        res.alerts, res.suppressed = _record(con, pb, plan.table)
        new_until: dict[str, str | None] = {_MARK: mark.isoformat(),
                                            _INGESTED: ingested.isoformat() if ingested else None}
        for comp in components_of(pb):
            upto = mark - pb.lateness - comp.keep_back if not flush else mark
            start = plan.state_until.get(comp.key)
            if start is None or upto > start:
                for stmt in state_update_sql(pb, comp, start, upto):
                    con.execute(stmt)
                start = upto
            new_until[comp.key] = start.isoformat() if start else None
        con.execute(
            "INSERT INTO correlation_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (playbook_id) DO UPDATE SET "
            "playbook_version = excluded.playbook_version, final_until = excluded.final_until, "
            "last_run_at = excluded.last_run_at, state_until = excluded.state_until",
            [pb.id, pb.version, plan.final_new, started, json.dumps(new_until)],
        )
        res.seconds = plan.seconds + time.perf_counter() - t0
        con.execute(
            "INSERT INTO correlation_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, pb.id, pb.version, started, res.decided_after, plan.final_new, res.alerts, res.suppressed,
             res.late_events, res.seconds],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _component_start(con: duckdb.DuckDBPyConnection, pb: Playbook, comp: FirstSeenComponent,
                     final_prev: dt.datetime | None, saved: dict[str, Any] | None) -> dt.datetime | None:
    """Up to when the sightings table holds this component's events; (re)builds it when it cannot be trusted
    (first run after `since`, a new playbook version, a new step)."""
    if saved is not None and comp.key in saved:
        value = saved[comp.key]
        return dt.datetime.fromisoformat(value) if value else None
    con.execute(f"DELETE FROM {STATE_TABLE} WHERE playbook_id = ? AND component = ?", [pb.id, comp.key])
    if final_prev is None:
        return None  # first run: everything is read and folded from the events themselves
    upto = final_prev - comp.keep_back
    for stmt in state_update_sql(pb, comp, upto - comp.baseline - comp.min_history, upto):
        con.execute(stmt)
    return upto


def _late_events(con: duckdb.DuckDBPyConnection, ingested_through: dt.datetime, final_until: dt.datetime) -> int:
    """Events ingested after the last run whose time was already final then: they will never be correlated."""
    row = con.execute(
        'SELECT count(*) FROM events WHERE ingested_at > ? AND "time" <= ?', [ingested_through, final_until]
    ).fetchone()
    return int(row[0]) if row else 0


_ALERT_COLUMNS = ("alert_id", "playbook_id", "playbook_version", "severity", "group_values", "dedup_key",
                  "first_seen", "last_seen", "window_start", "event_count", "metrics", "event_ids", "samples",
                  "title", "created_at", "incident_id", "decision_time", "anchor")


def _fetch_samples(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """bl_sample_rows(rid, sample): the sample events of every candidate of this run, read in one pass.

    The compiled queries read only the narrow columns their conditions need; the wide ones (actor, http,
    message, ...) are read here for the few sample rows, by rowid (a semi-join within the rows' rowid range:
    an incremental run's samples are recent, so only the last row groups are touched)."""
    union = " UNION ALL ".join(f"SELECT unnest(sample_rids) AS rid FROM {t}" for t in tables)
    con.execute(f"CREATE OR REPLACE TEMP TABLE bl_sample_rids AS SELECT DISTINCT rid FROM ({union or 'SELECT NULL::BIGINT AS rid WHERE FALSE'})")
    lo, hi = con.execute("SELECT min(rid), max(rid) FROM bl_sample_rids").fetchone()  # type: ignore[misc]
    where = f"rowid BETWEEN {int(lo)} AND {int(hi)} AND rowid IN (SELECT rid FROM bl_sample_rids)" if lo is not None else "FALSE"
    con.execute(f"CREATE OR REPLACE TEMP TABLE bl_sample_rows AS SELECT rowid AS rid, {sample_struct()} AS sample "
                f"FROM events WHERE {where}")
    con.execute("DROP TABLE bl_sample_rids")


def _record(con: duckdb.DuckDBPyConnection, pb: Playbook, table: str) -> tuple[int, int]:
    """New alerts into `alerts`, suppressed ones into `suppressed_matches`; both skip ids already there."""
    added = _inserted(con, f"""
INSERT INTO alerts ({', '.join(_ALERT_COLUMNS)})
SELECT c.alert_id, {lit(pb.id)}, {pb.version}, {lit(pb.severity)}, c.group_values, c.dedup_key,
       c.first_seen, c.last_seen, c.window_start, c.event_count, c.metrics, c.event_ids,
       (SELECT to_json(list(s.sample ORDER BY u.i))
        FROM (SELECT unnest(c.sample_rids) AS rid, generate_subscripts(c.sample_rids, 1) AS i) u
        JOIN bl_sample_rows s ON s.rid = u.rid),
       c.title, now(), NULL, c.decision_time, c.anchor
FROM {table} c
WHERE len(c.suppressed_by) = 0 AND c.alert_id NOT IN (SELECT alert_id FROM alerts)""")
    suppressed = 0
    if pb.exceptions:
        values = ", ".join(
            f"({lit(e.ref)}, {lit(e.owner)}, {lit(e.reason)}, DATE '{e.expires.isoformat()}')" for e in pb.exceptions
        )
        suppressed = _inserted(con, f"""
INSERT INTO suppressed_matches
SELECT s.alert_id, s.ref, {lit(pb.id)}, {pb.version}, x.owner, x.reason, x.expires, s.group_values,
       s.first_seen, s.last_seen, s.event_count, s.metrics, s.event_ids, now()
FROM (SELECT *, unnest(suppressed_by) AS ref FROM {table}) s
JOIN (VALUES {values}) x(ref, owner, reason, expires) ON x.ref = s.ref
WHERE NOT EXISTS (SELECT 1 FROM suppressed_matches m WHERE m.alert_id = s.alert_id AND m.exception_ref = s.ref)""")
    return added, suppressed


def _inserted(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()  # DuckDB answers an INSERT with the number of rows it inserted
    return int(row[0]) if row else 0


def evaluate(con: duckdb.DuckDBPyConnection, pb: Playbook, bounds: Bounds | None = None) -> list[dict[str, Any]]:
    """The alert rows the playbook yields for `bounds`, without writing anything (explain, backtest, diff)."""
    query = compile_playbook(pb, bounds or Bounds())
    prepare(con)
    cur = con.execute(query.sql)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return sorted(rows, key=lambda r: (r["decision_time"], r["alert_id"]))


def reset(con: duckdb.DuckDBPyConnection, playbook_ids: Sequence[str]) -> None:
    """Forget the state of these playbooks (their next run starts over; existing alerts stay)."""
    for pid in playbook_ids:
        con.execute("DELETE FROM correlation_state WHERE playbook_id = ?", [pid])
        con.execute(f"DELETE FROM {STATE_TABLE} WHERE playbook_id = ?", [pid])


__all__ = ["INFINITY", "PlaybookRun", "correlate", "evaluate", "reset", "watermark"]
