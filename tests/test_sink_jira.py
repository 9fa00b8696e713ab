"""The Jira sink through the real `jira` client against the emulator (Server and Cloud flavours)."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from connectors.outbox import deliver
from connectors.sinks import build_sinks
from connectors.sinks.base import Request, SinkFailure
from connectors.sinks.jira import JiraSink
from connectors.sinks.settings import JiraSettings
from correlators.incidents import IncidentPolicy, assign
from tests.emulators.fixtures import Running, jira_cloud_emulator, jira_emulator  # noqa: F401
from tests.emulators.helpers import JIRA_ENV, T0, add_alert, settings_for

SAMPLE = {"time": "2025-03-01T12:00:00Z", "action": "export", "actor": {"user": "alice", "role": "admin"},
          "resource": {"type": "customer", "record_count": 1200}, "message": "exported | all [customers]"}


def sink(emulator: Running, **kw: object) -> JiraSink:
    settings = JiraSettings(url=emulator.url, user="breachline@example.com", timeout_seconds=2, **kw)  # type: ignore[arg-type]
    return JiraSink(settings, "jira-test-token")


@pytest.mark.parametrize("flavour", ["jira_emulator", "jira_cloud_emulator"])
def test_ticket_fields(flavour: str, request: pytest.FixtureRequest, store: duckdb.DuckDBPyConnection) -> None:
    emulator: Running = request.getfixturevalue(flavour)
    add_alert(store, "a0", severity="critical", samples=[SAMPLE], metrics={"rows": 1200})
    assign(store, {"admin-export": IncidentPolicy(jira_project="SEC", jira_issue_type="Incident",
                                                  runbook="docs/runbooks/admin-export.md",
                                                  alert_budget_per_hour=None)}, T0)
    sinks = build_sinks(settings_for(emulator.url, None, notification_deadline="48h",
                                     runbook_base_url="https://git.example.com/breachline/blob/main"), JIRA_ENV)
    assert deliver(store, sinks, now=T0).pending == 0
    (issue,) = emulator.control.state()["issues"]
    iid = store.execute("SELECT incident_id FROM incidents").fetchone()[0]
    assert issue["priority"] == "Highest" and issue["issuetype"] == "Incident" and issue["project"] == "SEC"
    assert issue["labels"] == ["breachline", "admin-export", "bl-" + iid[4:]]
    assert issue["duedate"] == (T0 + timedelta(hours=48)).date().isoformat()
    assert issue["summary"] == "[breachline] Bulk customer export by alice"
    d = issue["description"]
    assert r"||time||action||actor.user||actor.role||resource.type||resource.record\_count||message||" in d
    assert r"exported \| all \[customers\]" in d  # a pipe in the data cannot break the table
    assert "[docs/runbooks/admin\\-export.md|https://git.example.com/breachline/blob/main/docs/runbooks/" in d
    assert "*Notification deadline:* 2025-03-03 12:00:00 UTC (first seen + 48 h)" in d
    # The search that guards against a second ticket uses the endpoint of the deployment.
    paths = [r["path"] for r in emulator.control.requests()]
    assert ("/rest/api/2/search/jql" if flavour == "jira_cloud_emulator" else "/rest/api/2/search") in paths


def test_create_finds_an_open_ticket_with_the_label_instead_of_making_a_second(jira_emulator: Running) -> None:  # noqa: F811
    s = sink(jira_emulator)
    fields = {"project": "SEC", "issue_type": "Task", "summary": "x", "description": "d",
              "labels": ["breachline", "bl-0123456789abcdef"], "priority": "High", "duedate": "2025-03-04",
              "label": "bl-0123456789abcdef"}
    req = Request(1, "inc-0123456789abcdef", "jira", "create_ticket", fields)
    first = s.execute(req)
    again = s.execute(req)
    assert again == {**first, "found_existing": True}
    jira_emulator.control.post("status", {"key": first["key"], "status": "Done"})
    third = s.execute(req)  # the old one is Done: a new ticket
    assert third["key"] != first["key"]
    assert len(jira_emulator.control.state()["issues"]) == 2


def test_transition_picks_a_transition_by_status_category(jira_emulator: Running) -> None:  # noqa: F811
    s = sink(jira_emulator)
    key = s.execute(Request(1, "inc-1", "jira", "create_ticket", {
        "project": "SEC", "issue_type": "Task", "summary": "x", "description": "d", "labels": ["bl-1"],
        "priority": "Low", "duedate": None, "label": "bl-1"}))["key"]
    jira_emulator.control.post("status", {"key": key, "status": "Done"})
    assert s.done_keys([key, "SEC-999"]) == {key}
    result = s.execute(Request(2, "inc-1", "jira", "transition", {"key": key, "to": "new"}))
    assert result["status"] == "To Do"
    assert s.execute(Request(3, "inc-1", "jira", "transition", {"key": key, "to": "new"}))["already"] is True
    assert s.done_keys([key]) == set()


def test_errors_are_classified_and_name_the_setting(jira_emulator: Running) -> None:  # noqa: F811
    fields = {"project": "NOPE", "issue_type": "Task", "summary": "x", "description": "d", "labels": ["bl-2"],
              "priority": "High", "duedate": None, "label": "bl-2"}
    with pytest.raises(SinkFailure) as bad_project:
        sink(jira_emulator).execute(Request(1, "inc-2", "jira", "create_ticket", fields))
    assert bad_project.value.kind == "config" and bad_project.value.scope == "NOPE"
    assert "notify.jira.project" in str(bad_project.value)

    with pytest.raises(SinkFailure) as bad_type:
        sink(jira_emulator).execute(Request(1, "inc-2", "jira", "create_ticket",
                                            {**fields, "project": "SEC", "issue_type": "Epic"}))
    assert bad_type.value.kind == "config" and "issue_type" in str(bad_type.value)

    bad_token = JiraSink(JiraSettings(url=jira_emulator.url, user="breachline@example.com", timeout_seconds=2),
                         "wrong")
    with pytest.raises(SinkFailure) as unauthorised:
        bad_token.execute(Request(1, "inc-2", "jira", "create_ticket", {**fields, "project": "SEC"}))
    assert unauthorised.value.kind == "config"
    assert str(unauthorised.value) == ("Jira rejected the credentials (HTTP 401): check [jira] user "
                                       "'breachline@example.com' with the API token in $BREACHLINE_JIRA_TOKEN "
                                       "([jira] token_env)")

    jira_emulator.control.faults(rate=1.0, kinds=["429"], retry_after=[9])
    with pytest.raises(SinkFailure) as limited:
        sink(jira_emulator).execute(Request(1, "inc-2", "jira", "create_ticket", {**fields, "project": "SEC"}))
    assert (limited.value.kind, limited.value.retry_after, limited.value.ambiguous) == ("transient", 9.0, False)

    jira_emulator.control.faults(rate=1.0, kinds=["drop_after"])
    with pytest.raises(SinkFailure) as dropped:
        sink(jira_emulator).execute(Request(1, "inc-2", "jira", "comment",
                                            {"key": "SEC-1", "body": "b", "ref": "bl-ref-1"}))
    assert dropped.value.kind == "transient" and dropped.value.ambiguous


def test_data_center_uses_a_personal_access_token(jira_emulator: Running) -> None:  # noqa: F811
    s = JiraSink(JiraSettings(url=jira_emulator.url, timeout_seconds=2), "jira-test-token")
    key = s.execute(Request(1, "inc-3", "jira", "create_ticket", {
        "project": "SEC", "issue_type": "Task", "summary": "x", "description": "d", "labels": ["bl-3"],
        "priority": "Medium", "duedate": None, "label": "bl-3"}))["key"]
    assert key == "SEC-1"  # the emulator accepts only "Authorization: Bearer <PAT>" without a user
