"""The Jira emulator, driven by the real `jira` client: routes, paging, JQL, faults, and its separate-process form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from jira import JIRA, JIRAError

from tests.emulators.common import Control
from tests.emulators.fixtures import Running, jira_cloud_emulator, jira_emulator  # noqa: F401
from tests.emulators.jql import JqlError, parse_jql

REPO = Path(__file__).resolve().parents[1]


def client(emulator: Running, **kw: object) -> JIRA:
    return JIRA(server=emulator.url, basic_auth=("breachline@example.com", "jira-test-token"), max_retries=0,
                timeout=2, **kw)  # type: ignore[arg-type]


def create(j: JIRA, label: str, summary: str = "x") -> str:
    return str(j.create_issue(fields={"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": summary,
                                      "labels": [label]}, prefetch=False).key)


@pytest.mark.parametrize("flavour", ["jira_emulator", "jira_cloud_emulator"])
def test_search_pages_like_the_deployment(flavour: str, request: pytest.FixtureRequest) -> None:
    emulator: Running = request.getfixturevalue(flavour)
    j = client(emulator)
    keys = [create(j, "bl-a" if i % 2 else "bl-b") for i in range(7)]
    found = j.search_issues('labels = "bl-a" AND statusCategory != Done', maxResults=False, fields="labels")
    assert [i.key for i in found] == keys[1::2]
    raw = j.search_issues("project = SEC", maxResults=3, json_result=True)
    if flavour == "jira_cloud_emulator":
        assert j.deploymentType == "Cloud" and raw["nextPageToken"] and raw["isLast"] is False
        assert requests.get(f"{emulator.url}/rest/api/2/search", auth=("breachline@example.com", "jira-test-token"),
                            timeout=2).status_code == 410
    else:
        assert j.deploymentType == "Server" and (raw["total"], len(raw["issues"])) == (7, 3)


def test_issue_comment_transition_and_update(jira_emulator: Running) -> None:  # noqa: F811
    j = client(jira_emulator)
    key = create(j, "bl-x")
    j.add_comment(key, "first")
    j.add_comment(key, "second")
    assert [c.body for c in j.comments(key, order_by="-created")] == ["second", "first"]
    done = next(t for t in j.transitions(key) if t["to"]["statusCategory"]["key"] == "done")
    j.transition_issue(key, done["id"])
    issue = j.issue(key, fields="status")
    assert issue.fields.status.statusCategory.key == "done"
    j.issue(key).update(fields={"description": "new text"})
    assert jira_emulator.control.state()["issues"][0]["description"] == "new text"
    with pytest.raises(JIRAError) as missing:
        j.issue("SEC-99")
    assert missing.value.status_code == 404


def test_create_validates_like_jira(jira_emulator: Running) -> None:  # noqa: F811
    j = client(jira_emulator)
    with pytest.raises(JIRAError) as bad:
        j.create_issue(fields={"project": {"key": "NOPE"}, "issuetype": {"name": "Task"}, "summary": "x",
                               "labels": ["has space"], "duedate": "tomorrow"}, prefetch=False)
    errors = bad.value.response.json()["errors"]
    assert bad.value.status_code == 400 and set(errors) == {"project", "labels", "duedate"}
    with pytest.raises(JIRAError) as unauthorised:
        JIRA(server=jira_emulator.url, basic_auth=("breachline@example.com", "wrong"), max_retries=0, timeout=2)
    assert unauthorised.value.status_code == 401


def test_jql_subset() -> None:
    issue = {"labels": ["breachline", "bl-1"], "status": "In Progress", "key": "SEC-4", "id": "10004",
             "project": "SEC", "issuetype": "Task", "summary": "Bulk export by alice"}
    cases = {
        'labels = "bl-1" AND statusCategory != Done': True,
        'labels = "bl-2" OR (project = SEC AND NOT status = "To Do")': True,
        "key in (SEC-1, SEC-4) AND statusCategory = Done": False,
        "key not in (SEC-1) and summary ~ alice ORDER BY created DESC": True,
        'statusCategory = "In Progress"': True,
    }
    for jql, expected in cases.items():
        predicate, _ = parse_jql(jql)
        assert predicate(issue) is expected, jql
    for bad in ('assignee = "x"', "labels = ", "labels = bl-1 AND (project = SEC", "labels > 3"):
        with pytest.raises(JqlError):
            parse_jql(bad)


def test_faults_are_switched_over_http(jira_emulator: Running) -> None:  # noqa: F811
    j = client(jira_emulator)
    jira_emulator.control.faults(rate=1.0, kinds=["429"], retry_after=[4])
    with pytest.raises(JIRAError) as limited:
        j.search_issues("project = SEC")
    assert limited.value.status_code == 429 and limited.value.response.headers["Retry-After"] == "4"
    jira_emulator.control.faults(rate=1.0, kinds=["slow"], slow_seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):  # serverInfo answers after the client's timeout
        JIRA(server=jira_emulator.url, token_auth="jira-test-token", max_retries=0, timeout=0.2)
    jira_emulator.control.faults(rate=1.0, kinds=["drop"])
    with pytest.raises(requests.exceptions.ConnectionError):
        j.search_issues("project = SEC")
    state = jira_emulator.control.state()
    assert state["_faults"]["injected"] == {"drop": 1}  # counts restart with each new plan
    jira_emulator.control.faults()
    assert j.search_issues("project = SEC") == []


def test_runs_as_a_separate_process() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulators.jira", "--port", "0", "--deployment", "cloud"],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        j = JIRA(server=url, basic_auth=("breachline@example.com", "jira-test-token"), max_retries=0, timeout=5)
        assert j.deploymentType == "Cloud"
        create(j, "bl-p")
        assert [i["key"] for i in Control(url).state()["issues"]] == ["SEC-1"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
