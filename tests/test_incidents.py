"""assign(): alerts become incidents (suppression, repeat policy after close, alert budget) with their outbox rows."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from breachline.errors import PlaybookError
from correlators.incidents import IncidentPolicy, assign
from tests.emulators.helpers import T0, add_alert

POLICY = {"admin-export": IncidentPolicy(alert_budget_per_hour=None)}


def rows(con: duckdb.DuckDBPyConnection, incident_id: str | None = None) -> list[tuple[str, str]]:
    where = "WHERE incident_id = ?" if incident_id else ""
    return [(r[0], r[1]) for r in con.execute(
        f"SELECT target, action FROM outbox {where} ORDER BY outbox_id", [incident_id] if incident_id else []
    ).fetchall()]


def incidents(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT incident_id, status, alert_count, event_count, first_seen, last_seen, linked_incident_id, digest_id,"
        " kind, severity FROM incidents ORDER BY opened_at, first_seen, incident_id"
    ).fetchall()


def test_repeats_within_suppress_for_join_one_incident(store: duckdb.DuckDBPyConnection) -> None:
    for i in range(3):
        add_alert(store, f"a{i}", at=T0 + timedelta(hours=i), events=2)
    add_alert(store, "b0", user="bob", at=T0)
    summary = assign(store, POLICY, T0 + timedelta(hours=3))
    assert (summary.alerts, summary.opened, summary.joined) == (4, 2, 2)
    found = {r[2]: r for r in incidents(store)}
    alice = found[3]
    assert alice[1] == "open" and alice[3] == 6
    assert (alice[4], alice[5]) == (T0, T0 + timedelta(hours=2))
    # The opening alert speaks through the root message and the ticket; the repeats through the thread.
    assert rows(store, alice[0]) == [("slack", "post_root"), ("jira", "create_ticket"), ("slack", "thread_reply")]
    assert rows(store, found[1][0]) == [("slack", "post_root"), ("jira", "create_ticket")]
    reply = store.execute("SELECT payload->>'from_seq', payload->>'to_seq' FROM outbox WHERE action = 'thread_reply'"
                          ).fetchone()
    assert reply == ("2", "3")
    assert store.execute("SELECT count(*) FROM alerts WHERE incident_id IS NULL").fetchone()[0] == 0
    # A second run has nothing to do.
    assert assign(store, POLICY, T0 + timedelta(hours=4)).alerts == 0


def test_a_later_run_adds_a_reply_an_update_and_a_comment(store: duckdb.DuckDBPyConnection) -> None:
    add_alert(store, "a0")
    assign(store, POLICY, T0)
    add_alert(store, "a1", at=T0 + timedelta(hours=1))
    add_alert(store, "a2", at=T0 + timedelta(hours=2))
    summary = assign(store, POLICY, T0 + timedelta(hours=2))
    assert summary.joined == 2 and summary.opened == 0
    assert rows(store)[2:] == [("slack", "thread_reply"), ("slack", "update_root"), ("jira", "comment")]


def test_past_suppress_for_a_new_incident_opens_linked_to_the_old(store: duckdb.DuckDBPyConnection) -> None:
    policy = {"admin-export": IncidentPolicy(suppress_for=timedelta(hours=1), alert_budget_per_hour=None)}
    add_alert(store, "a0")
    add_alert(store, "a1", at=T0 + timedelta(minutes=50))
    add_alert(store, "a2", at=T0 + timedelta(hours=3))
    assign(store, policy, T0 + timedelta(hours=3))
    first, second = incidents(store)
    assert first[2] == 2 and second[2] == 1
    assert second[6] == first[0]


def _close(con: duckdb.DuckDBPyConnection, incident_id: str) -> None:
    con.execute("UPDATE incidents SET status = 'closed', closed_at = ? WHERE incident_id = ?", [T0, incident_id])


def test_repeat_after_close_reopens_by_default(store: duckdb.DuckDBPyConnection) -> None:
    add_alert(store, "a0")
    assign(store, POLICY, T0)
    (iid, *_), = incidents(store)
    _close(store, iid)
    add_alert(store, "a1", at=T0 + timedelta(hours=2))
    summary = assign(store, POLICY, T0 + timedelta(hours=2))
    assert summary.reopened == 1 and summary.opened == 0
    (row,) = incidents(store)
    assert row[1] == "open" and row[2] == 2
    assert rows(store, iid)[2:] == [("jira", "transition"), ("slack", "thread_reply"), ("slack", "update_root"),
                                    ("jira", "comment")]
    assert store.execute("SELECT reopen_count, closed_at FROM incidents").fetchone() == (1, None)


def test_repeat_after_close_can_open_a_new_linked_incident(store: duckdb.DuckDBPyConnection) -> None:
    policy = {"admin-export": IncidentPolicy(repeat_after_close="new_linked", alert_budget_per_hour=None)}
    add_alert(store, "a0")
    assign(store, policy, T0)
    (old, *_), = incidents(store)
    _close(store, old)
    add_alert(store, "a1", at=T0 + timedelta(hours=2))
    summary = assign(store, policy, T0 + timedelta(hours=2))
    assert summary.opened == 1 and summary.reopened == 0
    statuses = {r[0]: (r[1], r[6]) for r in incidents(store)}
    new = next(i for i in statuses if i != old)
    assert statuses[old] == ("closed", None) and statuses[new] == ("open", old)


def test_over_the_budget_new_incidents_fold_into_one_digest(store: duckdb.DuckDBPyConnection) -> None:
    policy = {"admin-export": IncidentPolicy(alert_budget_per_hour=2)}
    for i in range(5):
        add_alert(store, f"a{i}", user=f"user{i}", at=T0 + timedelta(minutes=i))
    summary = assign(store, policy, T0 + timedelta(minutes=10))
    assert (summary.opened, summary.folded, summary.digests) == (5, 3, 1)
    found = incidents(store)
    digests = [r for r in found if r[8] == "digest"]
    folded = [r for r in found if r[1] == "folded"]
    assert len(digests) == 1 and len(folded) == 3 and all(r[7] == digests[0][0] for r in folded)
    assert digests[0][2] == 3  # the digest counts the folded alerts
    for r in folded:
        assert rows(store, r[0]) == []  # only the digest talks
    assert rows(store, digests[0][0]) == [("slack", "post_root"), ("jira", "create_ticket"), ("slack", "thread_reply")]
    # A repeat of a folded incident joins it and updates the digest; the hour's budget stays spent.
    add_alert(store, "a9", user="user4", at=T0 + timedelta(minutes=20))
    add_alert(store, "a10", user="user9", at=T0 + timedelta(minutes=21))
    summary = assign(store, policy, T0 + timedelta(minutes=30))
    assert (summary.joined, summary.folded) == (1, 1)
    assert store.execute("SELECT alert_count FROM incidents WHERE incident_id = ?", [digests[0][0]]).fetchone() == (5,)
    assert rows(store, digests[0][0])[3:] == [("slack", "thread_reply"), ("slack", "update_root"),
                                              ("jira", "comment")]


def test_severity_is_the_policys_or_the_highest_alerts(store: duckdb.DuckDBPyConnection) -> None:
    add_alert(store, "a0", severity="medium")
    add_alert(store, "a1", severity="critical", at=T0 + timedelta(minutes=1))
    add_alert(store, "b0", user="bob", severity="critical", playbook="other")
    assign(store, {"admin-export": IncidentPolicy(alert_budget_per_hour=None),
                   "other": IncidentPolicy(severity="low")}, T0)
    assert sorted(r[9] for r in incidents(store)) == ["critical", "low"]


def test_assign_is_one_transaction(store: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module = importlib.import_module("correlators.incidents.assign")  # the package re-exports the function

    add_alert(store, "a0")

    def broken(*args: object) -> list[int]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "enqueue", broken)
    with pytest.raises(RuntimeError):
        assign(store, POLICY, T0)
    assert store.execute("SELECT count(*) FROM incidents").fetchone() == (0,)
    assert store.execute("SELECT count(*) FROM alerts WHERE incident_id IS NULL").fetchone() == (1,)


def test_policy_from_a_playbook_mapping() -> None:
    policy = IncidentPolicy.from_playbook({
        "severity": "critical", "runbook": "docs/runbooks/x.md",
        "dedup": {"key": ["actor.user"], "suppress_for": "2h", "after_close": "new_linked", "budget_per_hour": 5},
        "notify": {"jira": {"project": "SEC", "issue_type": "Incident"}, "slack": {"channel": "#soc"}},
    })
    assert policy == IncidentPolicy(severity="critical", suppress_for=timedelta(hours=2),
                                    repeat_after_close="new_linked", alert_budget_per_hour=5, jira_project="SEC",
                                    jira_issue_type="Incident", slack_channel="#soc", runbook="docs/runbooks/x.md")
    assert IncidentPolicy.from_playbook({"dedup": {"budget_per_hour": None}}).alert_budget_per_hour is None
    with pytest.raises(PlaybookError, match="after_close"):
        IncidentPolicy.from_playbook({"dedup": {"after_close": "ignore"}})
    with pytest.raises(PlaybookError, match="suppress_for"):
        IncidentPolicy.from_playbook({"dedup": {"suppress_for": "soon"}})
