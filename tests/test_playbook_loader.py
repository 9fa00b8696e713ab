"""Playbook loading: the model it builds, and errors that name file:line and the JSON path."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from breachline.paths import REPO_ROOT
from correlators.playbooks import (
    PlaybookLoadError,
    SequenceSpec,
    ThresholdSpec,
    load_playbook,
    load_playbooks,
)
from correlators.playbooks.lint import lint
from correlators.playbooks.schema import schema_json

GOOD = textwrap.dedent("""\
    id: admin-escalation-then-bulk-export
    version: 3
    title: Admin privilege escalation followed by a bulk customer export
    severity: critical
    tags: [attack.privilege_escalation, attack.exfiltration, ccpa]
    correlation:
      type: sequence
      group_by: [actor.user]
      window: 2h
      steps:
        - name: escalate
          where: {"in": [{"var": "action"}, ["role_change", "permission_grant"]]}
        - name: export
          where: {"and": [{"==": [{"var": "action"}, "export"]}, {">=": [{"var": "resource.record_count"}, 1000]}]}
    dedup:
      key: [actor.user]
      suppress_for: 24h
    exceptions:
      - where: {"==": [{"var": "actor.user"}, "etl-service"]}
        owner: soc@example.com
        reason: nightly ERP export
        expires: 2027-03-01
    notify:
      jira: {project: SEC, issue_type: Incident}
      slack: {channel: "#sec-alerts"}
    runbook: docs/runbooks/admin-export.md
    tests:
      - name: escalation then export fires once
        events:
          - {at: 0m, action: role_change, actor: {user: mallory}}
          - {at: 90m, action: export, actor: {user: mallory}, resource: {record_count: 5000}}
        expect: {alerts: 1}
""")

THRESHOLD = textwrap.dedent("""\
    id: scraping
    version: 1
    title: API client reads many customers
    severity: high
    correlation:
      type: threshold
      where: {"==": [{"var": "action"}, "api_request"]}
      group_by: [actor.api_client]
      window: 10m
      aggregate:
        customers: {distinct: resource.owner_id}
        rows: {sum: resource.record_count}
      having: {">": [{"var": "customers"}, 20]}
""")


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> PlaybookLoadError:
    with pytest.raises(PlaybookLoadError) as info:
        load_playbook(write(tmp_path, text))
    return info.value


def line_containing(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_loads_the_design_example(tmp_path: Path) -> None:
    pb = load_playbook(write(tmp_path, GOOD))
    assert (pb.id, pb.version, pb.severity) == ("admin-escalation-then-bulk-export", 3, "critical")
    assert isinstance(pb.correlation, SequenceSpec)
    assert pb.correlation.window == dt.timedelta(hours=2)
    assert [s.name for s in pb.correlation.steps] == ["escalate", "export"]
    assert pb.correlation.steps[1].where.path == "correlation.steps[1].where"
    assert pb.exceptions[0].expires == dt.date(2027, 3, 1)
    assert pb.dedup_key == ("actor.user",)
    # `at` offsets become absolute times from the default test start
    assert pb.tests[0].events[1]["time"] == "2026-01-05T01:30:00Z"


def test_threshold_aggregates(tmp_path: Path) -> None:
    pb = load_playbook(write(tmp_path, THRESHOLD))
    assert isinstance(pb.correlation, ThresholdSpec)
    assert [(a.name, a.fn, a.field) for a in pb.correlation.aggregates] == [
        ("customers", "distinct", "resource.owner_id"), ("rows", "sum", "resource.record_count")]


def test_duration_error_names_file_line_and_path(tmp_path: Path) -> None:
    text = GOOD.replace("window: 2h", 'window: "2 hours"')
    err = error_of(tmp_path, text)
    line = line_containing(text, "2 hours")
    assert str(err) == f'{tmp_path / "pb.yaml"}:{line} correlation.window: "2 hours" is not a duration; use e.g. 2h, 30m'


@pytest.mark.parametrize(
    ("old", "new", "path", "needle", "fragment"),
    [
        ("    owner:", "    ownr:", "exceptions[0].ownr", "ownr", 'unknown field "ownr" (did you mean "owner"?)'),
        ('{"in":', '{"inn":', "correlation.steps[0].where", '"inn"', 'unknown operator "inn"'),
        ("group_by: [actor.user]\n  window", "group_by: [actor.usr]\n  window", "correlation.group_by[0]",
         "actor.usr", 'did you mean "actor.user"?'),
        ("severity: critical", "severity: urgent", "severity", "urgent", "'urgent' is not one of"),
        ("name: export", "name: escalate  # again", "correlation.steps[1].name", "# again",
         "step names must be unique"),
        ("  key: [actor.user]", "  key: [src.ip]", "dedup.key[0]", "key: [src.ip]", "not in correlation.group_by"),
        ("expires: 2027-03-01", "expires: 2027-02-30", "exceptions[0].expires", "2027-02-30", "not a date"),
        ("{at: 90m,", "{at: 90 minutes,", "tests[0].events[1].at", "90 minutes", "is not an offset"),
        ("actor: {user: mallory}, resource", "actor: {usr: mallory}, resource", "tests[0].events[1].actor.usr",
         "usr: mallory", 'did you mean "actor.user"?'),
    ],
)
def test_errors_point_at_the_right_line(tmp_path: Path, old: str, new: str, path: str, needle: str,
                                        fragment: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    err = error_of(tmp_path, text)
    assert err.path.startswith(path)  # the JSONLogic compiler may name the operator inside the rule too
    assert err.line == line_containing(text, needle)
    assert fragment in err.problem
    assert str(err).startswith(f"{tmp_path / 'pb.yaml'}:{err.line} {err.path}: ")
    assert "\n" not in str(err)


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("version: 3", "version: 3\nversion: 4")
    err = error_of(tmp_path, text)
    assert err.line == 3 and "duplicate key 'version'" in str(err)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    text = GOOD.replace("  window: 2h", "  window: [2h")
    err = error_of(tmp_path, text)
    assert "not valid YAML" in str(err) and err.line > 1


def test_having_must_name_a_metric(tmp_path: Path) -> None:
    text = THRESHOLD.replace('{"var": "customers"}', '{"var": "customer"}')
    err = error_of(tmp_path, text)
    assert err.path == "correlation.having.>[0].var"
    assert 'did you mean "customers"?' in err.problem


def test_sum_needs_a_numeric_field(tmp_path: Path) -> None:
    err = error_of(tmp_path, THRESHOLD.replace("sum: resource.record_count", "sum: resource.owner_id"))
    assert err.path == "correlation.aggregate.rows.sum" and "numeric" in err.problem


def test_step_group_by_must_pair_up(tmp_path: Path) -> None:
    text = GOOD.replace("- name: export\n", "- name: export\n      group_by: [actor.user, src.ip]\n")
    err = error_of(tmp_path, text)
    assert err.path == "correlation.steps[1].group_by" and "position by position" in err.problem


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(PlaybookLoadError) as info:
        load_playbooks([tmp_path])
    assert f"{tmp_path / 'b.yaml'}:1 id:" in str(info.value) and f"{tmp_path / 'a.yaml'}:1" in str(info.value)


def test_lint_reports_all_problems_and_expiry_warnings(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "good.yaml")
    write(tmp_path, GOOD.replace("id: admin-escalation-then-bulk-export", "id: other")
          .replace("window: 2h", "window: 2 hours").replace("severity: critical", "severity: urgent"), "bad.yaml")
    today = dt.date(2027, 2, 25)  # four days before the exception expires
    loaded, problems = lint([tmp_path], today=today, repo_root=tmp_path)
    assert [p.id for p in loaded] == ["admin-escalation-then-bulk-export"]
    errors = [p for p in problems if p.level == "error"]
    assert {p.path for p in errors} == {"correlation.window", "severity"}
    warnings = [p.message for p in problems if p.level == "warning"]
    assert any("expires on 2027-03-01, in 4 day(s)" in w for w in warnings)
    assert any("does not exist" in w for w in warnings)  # runbook missing under tmp_path
    assert any("no near-miss test" in w for w in warnings)
    _, later = lint([tmp_path / "good.yaml"], today=dt.date(2027, 3, 2), repo_root=tmp_path)
    assert any("expired on 2027-03-01" in p.message for p in later)
    _, early = lint([tmp_path / "good.yaml"], today=dt.date(2027, 1, 1), repo_root=tmp_path)
    assert not any("expire" in p.message for p in early)


def test_incident_policy_comes_from_the_playbook(tmp_path: Path) -> None:
    pytest.importorskip("correlators.incidents.policy")
    pb = load_playbook(write(tmp_path, GOOD))
    try:
        policy = pb.incident_policy()
    except ImportError as exc:  # the delivery package is mid-build in this tree
        pytest.skip(f"correlators.incidents not importable: {exc}")
    assert policy.suppress_for == dt.timedelta(hours=24)
    assert (policy.jira_project, policy.slack_channel) == ("SEC", "#sec-alerts")
    assert policy.runbook == "docs/runbooks/admin-export.md"


def test_published_schema_is_current() -> None:
    published = (REPO_ROOT / "docs" / "playbook.schema.json").read_text()
    assert published == schema_json(), "run: uv run python -m correlators.playbooks.schema > docs/playbook.schema.json"
    json.loads(published)
