"""Window semantics at the edges: t = window - 1 ms, = window, + 1 ms, ties, re-arming, absent steps.

docs/playbooks.md ("Windows") is the contract these tests pin down: windows are closed intervals (both ends
inclusive), ties in time are allowed between different events, an event fills one step at most.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

from breachline.store import connect
from correlators.correlation import correlate, insert_events
from correlators.playbooks import Playbook, load_playbook

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)
W = dt.timedelta(minutes=10)
EDGES = [(W - MS, True), (W, True), (W + MS, False)]


def playbook(body: str) -> Playbook:
    head = "id: window-test\nversion: 1\ntitle: window test\nseverity: low\n"
    return load_playbook(Path("window-test.yaml"), head + textwrap.dedent(body))


def ev(offset: dt.timedelta, action: str, user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"time": (T0 + offset).isoformat(), "action": action, "actor": {"user": user}, **extra}


def alerts(pb: Playbook, events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    con = connect(":memory:")
    try:
        insert_events(con, events)
        correlate(con, [pb], flush=True)
        return con.execute(
            "SELECT group_values, first_seen, last_seen, event_count, event_ids FROM alerts ORDER BY first_seen"
        ).fetchall()
    finally:
        con.close()


THRESHOLD = """\
correlation:
  type: threshold
  where: {"==": [{"var": "action"}, "read"]}
  group_by: [actor.user]
  window: 10m
  having: {">=": [{"var": "count"}, 2]}
"""

SEQUENCE = """\
correlation:
  type: sequence
  group_by: [actor.user]
  window: 10m
  steps:
    - {name: first, where: {"==": [{"var": "action"}, "escalate"]}}
    - {name: second, where: {"==": [{"var": "action"}, "export"]}}
"""


@pytest.mark.parametrize(("gap", "fires"), EDGES)
def test_threshold_window_is_closed(gap: dt.timedelta, fires: bool) -> None:
    found = alerts(playbook(THRESHOLD), [ev(dt.timedelta(0), "read"), ev(gap, "read")])
    assert len(found) == (1 if fires else 0)
    if fires:
        _, first, last, count, _ = found[0]
        assert (first, last, count) == (T0, T0 + gap, 2)


@pytest.mark.parametrize(("gap", "fires"), EDGES)
def test_sequence_window_is_closed(gap: dt.timedelta, fires: bool) -> None:
    found = alerts(playbook(SEQUENCE), [ev(dt.timedelta(0), "escalate"), ev(gap, "export")])
    assert len(found) == (1 if fires else 0)


@pytest.mark.parametrize(("gap", "fires"), EDGES)
def test_sequence_window_counts_from_the_first_step(gap: dt.timedelta, fires: bool) -> None:
    # Three steps: the third must be within the window of the first, not of the second.
    pb = playbook(SEQUENCE.replace(
        "    - {name: second",
        '    - {name: middle, where: {"==": [{"var": "action"}, "touch"]}}\n    - {name: second'))
    events = [ev(dt.timedelta(0), "escalate"), ev(dt.timedelta(minutes=5), "touch"), ev(gap, "export")]
    assert len(alerts(pb, events)) == (1 if fires else 0)


def test_sequence_order_matters() -> None:
    assert alerts(playbook(SEQUENCE), [ev(dt.timedelta(0), "export"), ev(dt.timedelta(minutes=1), "escalate")]) == []


def test_sequence_tie_between_different_events_counts() -> None:
    found = alerts(playbook(SEQUENCE), [ev(dt.timedelta(0), "escalate"), ev(dt.timedelta(0), "export")])
    assert len(found) == 1 and found[0][3] == 2


def test_one_event_cannot_fill_two_steps() -> None:
    pb = playbook(SEQUENCE.replace('{"==": [{"var": "action"}, "export"]}', '{"==": [{"var": "action"}, "escalate"]}'))
    assert alerts(pb, [ev(dt.timedelta(0), "escalate")]) == []
    assert len(alerts(pb, [ev(dt.timedelta(0), "escalate"), ev(dt.timedelta(0), "escalate")])) == 1


def test_sequence_groups_do_not_mix() -> None:
    assert alerts(playbook(SEQUENCE), [ev(dt.timedelta(0), "escalate", "a"), ev(dt.timedelta(1), "export", "b")]) == []


def test_sequence_step_alias_fields() -> None:
    # The export step names its user in another field (like Sigma aliases): actor.user_id pairs with actor.user.
    pb = playbook(SEQUENCE.replace(
        "    - {name: second, where:", "    - {name: second, group_by: [actor.user_id], where:"))
    export = {"time": (T0 + dt.timedelta(minutes=1)).isoformat(), "action": "export", "actor": {"user_id": "u1"}}
    found = alerts(pb, [ev(dt.timedelta(0), "escalate"), export])
    assert len(found) == 1 and found[0][0] == '{"actor.user":"u1"}'


def test_many_anchors_one_completion_make_one_alert_at_the_earliest() -> None:
    events = [ev(dt.timedelta(minutes=m), "escalate") for m in (0, 1, 2)] + [ev(dt.timedelta(minutes=3), "export")]
    found = alerts(playbook(SEQUENCE), events)
    assert len(found) == 1 and found[0][1] == T0 and found[0][4] == ["t0", "t3"]


@pytest.mark.parametrize(("gap", "realerts"), [(W - MS, False), (W, False), (W + MS, True)])
def test_sequence_rearms_after_a_quiet_window(gap: dt.timedelta, realerts: bool) -> None:
    # Two complete chains whose completions are `gap` apart: one episode unless the gap exceeds the window.
    events = [ev(dt.timedelta(0), "escalate"), ev(dt.timedelta(minutes=1), "export"),
              ev(gap, "escalate"), ev(gap + dt.timedelta(minutes=1), "export")]
    assert len(alerts(playbook(SEQUENCE), events)) == (2 if realerts else 1)


@pytest.mark.parametrize(("gap", "realerts"), [(W - MS, False), (W, False), (W + MS, True)])
def test_threshold_rearms_after_a_quiet_window(gap: dt.timedelta, realerts: bool) -> None:
    # Two qualifying points, each a pair of reads at one instant, `gap` apart, nothing qualifying between.
    events = [ev(dt.timedelta(0), "read"), ev(dt.timedelta(0), "read"), ev(gap, "read"), ev(gap, "read")]
    assert len(alerts(playbook(THRESHOLD), events)) == (2 if realerts else 1)


def test_threshold_ties_share_a_window() -> None:
    found = alerts(playbook(THRESHOLD), [ev(dt.timedelta(0), "read"), ev(dt.timedelta(0), "read")])
    assert len(found) == 1 and found[0][3] == 2 and sorted(found[0][4]) == ["t0", "t1"]


TRAILING_ABSENT = """\
correlation:
  type: sequence
  group_by: [actor.user]
  window: 10m
  steps:
    - {name: export, where: {"==": [{"var": "action"}, "export"]}}
    - {name: approval, absent: true, where: {"==": [{"var": "action"}, "approve"]}}
"""


@pytest.mark.parametrize(("gap", "approved_in_time"), EDGES)
def test_trailing_absent_window_is_closed(gap: dt.timedelta, approved_in_time: bool) -> None:
    found = alerts(playbook(TRAILING_ABSENT), [ev(dt.timedelta(0), "export"), ev(gap, "approve")])
    assert len(found) == (0 if approved_in_time else 1)


def test_trailing_absent_waits_for_the_window_to_pass() -> None:
    pb = playbook(TRAILING_ABSENT.replace("window: 10m", "window: 10m\n  lateness: 0s"))
    con = connect(":memory:")
    try:
        insert_events(con, [ev(dt.timedelta(0), "export"), ev(dt.timedelta(minutes=9), "other")])
        run = correlate(con, [pb])[0]
        assert run.alerts == 0  # the approval could still come
        insert_events(con, [ev(dt.timedelta(minutes=10, milliseconds=1), "other")], id_prefix="later")
        assert correlate(con, [pb])[0].alerts == 1
    finally:
        con.close()


LEADING_ABSENT = """\
correlation:
  type: sequence
  group_by: [actor.user]
  window: 10m
  steps:
    - {name: approval, absent: true, where: {"==": [{"var": "action"}, "approve"]}}
    - {name: export, where: {"==": [{"var": "action"}, "export"]}}
"""


@pytest.mark.parametrize(("gap", "approved_in_time"), EDGES)
def test_leading_absent_window_is_closed(gap: dt.timedelta, approved_in_time: bool) -> None:
    found = alerts(playbook(LEADING_ABSENT), [ev(dt.timedelta(0), "approve"), ev(gap, "export")])
    assert len(found) == (0 if approved_in_time else 1)


MIDDLE_ABSENT = SEQUENCE.replace(
    "    - {name: second",
    '    - {name: ticket, absent: true, where: {"==": [{"var": "action"}, "ticket"]}}\n    - {name: second')


@pytest.mark.parametrize(("at", "blocks"), [
    (-MS, False), (dt.timedelta(0), True), (dt.timedelta(minutes=2), True), (dt.timedelta(minutes=4), True),
    (dt.timedelta(minutes=4) + MS, False),
])
def test_middle_absent_bounds_are_inclusive(at: dt.timedelta, blocks: bool) -> None:
    events = [ev(dt.timedelta(0), "escalate"), ev(at, "ticket"), ev(dt.timedelta(minutes=4), "export")]
    assert len(alerts(playbook(MIDDLE_ABSENT), events)) == (0 if blocks else 1)


FIRST_SEEN = """\
correlation:
  type: first_seen
  where: {"==": [{"var": "action"}, "login"]}
  group_by: [actor.user]
  value: [src.country]
  baseline: 10m
"""


def login(offset: dt.timedelta, country: str, user: str = "u1") -> dict[str, Any]:
    return ev(offset, "login", user, src={"country": country})


@pytest.mark.parametrize(("gap", "still_known"), EDGES)
def test_first_seen_baseline_is_closed(gap: dt.timedelta, still_known: bool) -> None:
    # DE at -1 h makes u1 a known user; then DE at 0 is new (its last sighting is older than the baseline).
    events = [login(-dt.timedelta(hours=1), "DE"), login(dt.timedelta(0), "DE"), login(gap, "DE")]
    found = alerts(playbook(FIRST_SEEN), events)
    # The DE at 0 alerts (seen an hour ago, baseline 10 m); DE at `gap` alerts only past the baseline.
    assert len(found) == (1 if still_known else 2)


def test_first_seen_needs_a_known_group_and_ties_make_one_alert() -> None:
    pb = playbook(FIRST_SEEN.replace("baseline: 10m", "baseline: 7d"))
    events = [login(dt.timedelta(0), "DE"),                      # first sighting of u1: learning, no alert
              login(dt.timedelta(hours=1), "FR"), login(dt.timedelta(hours=1), "FR"),  # new value, twice at once
              login(dt.timedelta(hours=2), "FR"),                # known now
              login(dt.timedelta(hours=3), "US", user="u2")]     # a new user: learning again
    found = alerts(pb, events)
    assert len(found) == 1 and found[0][3] == 2 and found[0][1] == T0 + dt.timedelta(hours=1)


@pytest.mark.parametrize(("gap", "fires"), [(dt.timedelta(hours=1) - MS, False), (dt.timedelta(hours=1), True)])
def test_first_seen_min_history(gap: dt.timedelta, fires: bool) -> None:
    pb = playbook(FIRST_SEEN.replace("baseline: 10m", "baseline: 7d\n  min_history: 1h"))
    assert len(alerts(pb, [login(dt.timedelta(0), "DE"), login(gap, "FR")])) == (1 if fires else 0)


MATCH = """\
correlation:
  type: match
  where: {"==": [{"var": "action"}, "leak"]}
  group_by: [actor.user]
"""


def test_match_is_one_alert_per_event_and_keeps_null_groups() -> None:
    events = [ev(dt.timedelta(0), "leak"), ev(dt.timedelta(0), "leak"), ev(dt.timedelta(1), "other"),
              {"time": T0.isoformat(), "action": "leak"}]
    found = alerts(playbook(MATCH), events)
    assert len(found) == 3 and '{"actor.user":null}' in [f[0] for f in found]


def test_threshold_skips_null_groups() -> None:
    events = [{"time": T0.isoformat(), "action": "read"}, {"time": T0.isoformat(), "action": "read"}]
    assert alerts(playbook(THRESHOLD), events) == []


def test_sequence_with_two_group_fields() -> None:
    pb = playbook(SEQUENCE.replace("group_by: [actor.user]", "group_by: [actor.user, src.ip]"))
    def at(offset: dt.timedelta, action: str, ip: str) -> dict[str, Any]:
        return ev(offset, action, src={"ip": ip})
    assert len(alerts(pb, [at(dt.timedelta(0), "escalate", "1.1.1.1"), at(W, "export", "1.1.1.1")])) == 1
    assert alerts(pb, [at(dt.timedelta(0), "escalate", "1.1.1.1"), at(W, "export", "2.2.2.2")]) == []
