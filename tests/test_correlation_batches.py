"""Incremental runs are consistent: the same events give the same alerts (ids and evidence) and the same
suppressed matches whether correlated in one batch, in many random batches in arrival order, or as a backfill
after the fact; a rerun adds nothing; a late event is counted, not correlated; a new version does not re-alert.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachline.store import connect
from correlators.correlation import correlate, insert_events
from correlators.playbooks import Playbook, load_playbook

T0 = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)  # the stream crosses midnight: an exception expires there
SPAN = dt.timedelta(hours=8)
JITTER = dt.timedelta(minutes=5)  # arrival delay; below every playbook's lateness (10 min by default)

PLAYBOOKS = {
    "scrape": """\
        correlation:
          type: threshold
          where: {"==": [{"var": "action"}, "api_request"]}
          group_by: [actor.api_client]
          window: 10m
          aggregate: {customers: {distinct: resource.owner_id}, rows: {sum: resource.record_count}}
          having: {">=": [{"var": "customers"}, 4]}
    """,
    "escalate-export-unapproved": """\
        correlation:
          type: sequence
          group_by: [actor.user]
          window: 15m
          steps:
            - {name: escalate, where: {"==": [{"var": "action"}, "role_change"]}}
            - {name: export, where: {"and": [{"==": [{"var": "action"}, "export"]}, {">=": [{"var": "resource.record_count"}, 100]}]}}
            - {name: approval, absent: true, where: {"==": [{"var": "action"}, "approve"]}}
    """,
    "export-without-prior-approval": """\
        correlation:
          type: sequence
          group_by: [actor.user]
          window: 10m
          steps:
            - {name: approval, absent: true, where: {"==": [{"var": "action"}, "approve"]}}
            - {name: export, where: {"==": [{"var": "action"}, "export"]}}
            - {name: ticket, absent: true, where: {"==": [{"var": "action"}, "ticket"]}}
            - {name: again, where: {"==": [{"var": "action"}, "export"]}}
    """,
    "new-country": """\
        correlation:
          type: first_seen
          where: {"==": [{"var": "action"}, "login"]}
          group_by: [actor.user]
          value: [src.country]
          baseline: 2h
          min_history: 10m
    """,
    "leak": """\
        correlation:
          type: match
          where: {"==": [{"var": "action"}, "leak"]}
          group_by: [actor.user]
        exceptions:
          - id: u1-until-midnight
            where: {"==": [{"var": "actor.user"}, "u1"]}
            owner: soc@example.com
            reason: test fixture
            expires: 2026-03-02
    """,
    "new-country-then-export": """\
        correlation:
          type: sequence
          group_by: [actor.user]
          window: 20m
          steps:
            - name: login
              where: {"==": [{"var": "action"}, "login"]}
              first_seen: {value: [src.country], baseline: 1h}
            - {name: export, where: {"==": [{"var": "action"}, "export"]}}
    """,
}


def playbooks(version: int = 1) -> list[Playbook]:
    out = []
    for pid, body in PLAYBOOKS.items():
        head = f"id: {pid}\nversion: {version}\ntitle: {pid}\nseverity: medium\n"
        out.append(load_playbook(Path(f"{pid}.yaml"), head + textwrap.dedent(body)))
    return out


def stream(seed: int, n: int = 500) -> list[dict[str, Any]]:
    """Random events in arrival order (arrival = time + jitter < lateness); times on whole seconds so ties occur."""
    rng = random.Random(seed)
    actions = ["api_request"] * 5 + ["role_change", "export", "export", "approve", "ticket", "login", "login", "leak"]
    events = []
    for i in range(n):
        t = T0 + dt.timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
        arrival = t + dt.timedelta(milliseconds=rng.randrange(int(JITTER / dt.timedelta(milliseconds=1))))
        events.append({
            "event_id": f"e{i:04d}", "time": t.isoformat(), "ingested_at": arrival.isoformat(),
            "action": rng.choice(actions),
            "actor": {"user": f"u{rng.randrange(3)}", "api_client": f"k{rng.randrange(2)}"},
            "src": {"country": rng.choice(["DE", "DE", "DE", "FR", "US"])},
            "resource": {"owner_id": f"c{rng.randrange(8)}", "record_count": rng.choice([1, 50, 500])},
        })
    events.sort(key=lambda e: (e["ingested_at"], e["event_id"]))
    return events


def snapshot(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    alerts = con.execute(
        "SELECT alert_id, playbook_id, group_values, dedup_key, first_seen, last_seen, window_start, decision_time,"
        " event_count, metrics, event_ids, samples, title FROM alerts ORDER BY alert_id").fetchall()
    suppressed = con.execute(
        "SELECT alert_id, exception_ref, group_values, first_seen, last_seen, event_count, event_ids"
        " FROM suppressed_matches ORDER BY alert_id, exception_ref").fetchall()
    return alerts, suppressed


def run_batches(events: list[dict[str, Any]], cuts: list[int], pbs: list[Playbook]) -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    bounds = [0, *sorted(set(cuts)), len(events)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            insert_events(con, events[lo:hi])
            correlate(con, pbs)
    return con


@pytest.fixture(scope="module")
def one_batch() -> dict[int, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    return {}


def reference(cache: dict[int, Any], seed: int, events: list[dict[str, Any]]) -> Any:
    if seed not in cache:
        con = run_batches(events, [], playbooks())
        cache[seed] = snapshot(con)
        con.close()
    return cache[seed]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2), cuts=st.lists(st.integers(1, 499), min_size=1, max_size=12))
def test_random_batches_give_the_same_alerts(one_batch: dict[int, Any], seed: int, cuts: list[int]) -> None:
    events = stream(seed)
    expected = reference(one_batch, seed, events)
    con = run_batches(events, cuts, playbooks())
    try:
        assert snapshot(con) == expected
    finally:
        con.close()


def test_reference_is_not_trivial(one_batch: dict[int, Any]) -> None:
    # The property above is only worth something if every playbook fires and exceptions suppress.
    for seed in range(3):
        alerts, suppressed = reference(one_batch, seed, stream(seed))
        fired = {a[1] for a in alerts}
        assert fired == set(PLAYBOOKS), f"seed {seed}: silent playbooks {set(PLAYBOOKS) - fired}"
        assert suppressed, f"seed {seed}: the exception never applied"
        assert any('"actor.user":"u1"' in a[2] for a in alerts if a[1] == "leak"), "exception must expire"


def test_tiny_batches_and_rerun(one_batch: dict[int, Any]) -> None:
    events = stream(0)
    con = run_batches(events, list(range(1, len(events), 20)), playbooks())
    try:
        assert snapshot(con) == reference(one_batch, 0, events)
        before = snapshot(con)
        runs = correlate(con, playbooks())
        assert all(r.alerts == 0 and r.suppressed == 0 for r in runs)
        assert snapshot(con) == before
    finally:
        con.close()


def test_backfill_after_the_fact_matches_live(one_batch: dict[int, Any]) -> None:
    # Live for the first half, then the store is wiped of state and everything is re-correlated at once: the
    # backfill finds exactly the alerts the live runs had, and adds none.
    events = stream(1)
    con = run_batches(events, list(range(1, len(events) // 2, 25)), playbooks())
    try:
        con.execute("DELETE FROM correlation_state")
        con.execute("DELETE FROM correlation_first_seen")
        insert_events(con, events[len(events) // 2:])
        correlate(con, playbooks())
        assert snapshot(con) == reference(one_batch, 1, events)
    finally:
        con.close()


def test_a_late_event_is_counted_not_correlated() -> None:
    pb = [p for p in playbooks() if p.id == "leak"]
    con = connect(":memory:")
    try:
        insert_events(con, [{"time": T0.isoformat(), "action": "other"},
                            {"time": (T0 + dt.timedelta(hours=1)).isoformat(), "action": "other"}])
        correlate(con, pb)
        # a leak 30 min after T0 arrives now: its time is already final (watermark 1 h - 10 min lateness)
        insert_events(con, [{"time": (T0 + dt.timedelta(minutes=30)).isoformat(), "action": "leak",
                             "actor": {"user": "u2"}, "ingested_at": dt.datetime.now(dt.UTC).isoformat()}],
                      id_prefix="late")
        run = correlate(con, pb)[0]
        assert (run.alerts, run.late_events) == (0, 1)
    finally:
        con.close()


def test_new_version_continues_without_realerting() -> None:
    events = stream(2)
    con = run_batches(events[:300], [100, 200], playbooks(1))
    try:
        v1 = {a[0] for a in snapshot(con)[0]}
        insert_events(con, events[300:])
        runs = correlate(con, playbooks(2))
        row = con.execute("SELECT max(decided_until) FROM correlation_runs WHERE playbook_version = 1").fetchone()
        assert row is not None
        final_v1 = row[0]
        assert {a[0] for a in snapshot(con)[0]} >= v1  # v1's alerts stay
        assert sum(r.alerts for r in runs) > 0  # v2 alerts on what is new
        v2_early = con.execute("SELECT count(*) FROM alerts WHERE playbook_version = 2 AND decision_time <= ?",
                               [final_v1]).fetchone()
        assert v2_early is not None and v2_early[0] == 0
    finally:
        con.close()
