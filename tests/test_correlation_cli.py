"""The SOC commands end to end on a small store: correlate, alerts list/show, playbooks lint/test/explain/
backtest/diff. Output shapes are what scripts rely on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from breachline.cli import main
from breachline.store import connect
from correlators.correlation import insert_events

T0 = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)

PLAYBOOK = """\
id: cli-export
version: {version}
title: Big export
severity: high
correlation:
  type: match
  where: {{">=": [{{"var": "resource.record_count"}}, {limit}]}}
  group_by: [actor.user]
exceptions:
  - where: {{"==": [{{"var": "actor.user"}}, "erp-sync"]}}
    owner: soc@example.com
    reason: nightly sync
    expires: 2027-01-01
tests:
  - name: fires
    events: [{{at: 0s, actor: {{user: a}}, resource: {{record_count: 5000}}}}]
    expect: {{alerts: 1}}
  - name: silent
    events: [{{at: 0s, actor: {{user: a}}, resource: {{record_count: 5}}}}]
    expect: {{alerts: 0}}
"""


def events() -> list[dict[str, Any]]:
    out = []
    for day in range(3):
        for user, count in (("mallory", 5000), ("erp-sync", 40000), ("lee", 2000), ("sam", 10)):
            t = T0 + dt.timedelta(days=day, minutes=len(out))
            out.append({"time": t.isoformat(), "action": "export", "actor": {"user": user},
                        "resource": {"type": "customer", "record_count": count}})
    # later traffic moves the watermark past the default 10-minute lateness: every export above is final
    out.append({"time": (T0 + dt.timedelta(days=3)).isoformat(), "action": "page_view"})
    return out


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "store.duckdb"
    con = connect(db)
    insert_events(con, events())
    con.close()
    pbdir = tmp_path / "pb"
    pbdir.mkdir()
    (pbdir / "cli-export.yaml").write_text(PLAYBOOK.format(version=1, limit=1000))
    return db, pbdir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_correlate_then_alerts(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, pbdir = setup
    code, out = run(capsys, "correlate", "--db", str(db), "--playbooks", str(pbdir), "--json")
    assert code == 0
    assert json.loads(out) == [{"playbook": "cli-export", "alerts": 6, "suppressed": 3}]
    code, out = run(capsys, "correlate", "--db", str(db), "--playbooks", str(pbdir), "--json")
    assert code == 0
    assert json.loads(out) == [{"playbook": "cli-export", "alerts": 0, "suppressed": 0}]  # nothing new

    code, out = run(capsys, "alerts", "list", "--db", str(db), "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 6
    assert set(rows[0]) == {"id", "playbook", "severity", "group", "first_seen", "last_seen", "count", "incident"}
    assert {r["group"]["actor.user"] for r in rows} == {"mallory", "lee"}
    assert all(r["incident"] is None and r["count"] == 1 for r in rows)

    code, out = run(capsys, "alerts", "show", "--db", str(db), rows[0]["id"][:10])
    assert code == 0 and rows[0]["id"] in out and "sample:" in out


def test_playbooks_lint_test_explain(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    _, pbdir = setup
    code, out = run(capsys, "playbooks", "lint", "--playbooks", str(pbdir))
    assert code == 0 and "1 playbook(s) ok, 0 error(s)" in out
    code, out = run(capsys, "playbooks", "test", "--playbooks", str(pbdir))
    assert code == 0 and "2 passed, 0 failed" in out
    code, out = run(capsys, "playbooks", "explain", "cli-export", "--playbooks", str(pbdir), "--test", "0", "--json")
    explained = json.loads(out)
    assert "WITH base AS" in explained["sql"]
    assert [c["matched"] for c in explained["conditions"]] == [1, 0]  # the where, the exception
    assert len(explained["alerts"]) == 1

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text(PLAYBOOK.format(version=1, limit=1000).replace("match", "matc"))
    code, out = run(capsys, "playbooks", "lint", "--playbooks", str(bad))
    assert code == 1 and "x.yaml:6 error: correlation.type" in out


def test_backtest_and_diff(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db, pbdir = setup
    chart = tmp_path / "chart.html"
    code, out = run(capsys, "playbooks", "backtest", "cli-export", "--db", str(db), "--playbooks", str(pbdir),
                    "--since", "30d", "--chart", str(chart), "--json")
    result = json.loads(out)
    assert (result["alerts"], result["suppressed"]) == (6, 3)
    assert result["incidents"] == 6  # a day (and a few minutes) apart: longer than the default suppress_for 24h
    assert result["suppressed_by_exception"] == {"exceptions[0]": 3}
    assert chart.read_text().count("<rect") == 2 * len(result["per_day"])

    newer = tmp_path / "new.yaml"
    newer.write_text(PLAYBOOK.format(version=2, limit=3000))
    code, out = run(capsys, "playbooks", "diff", str(pbdir / "cli-export.yaml"), str(newer), "--db", str(db),
                    "--since", "30d", "--json")
    assert code == 0
    diff = json.loads(out)
    assert len(diff["disappear"]) == 3 and not diff["appear"] and diff["common"] == 6  # lee's 2000-record exports
    assert {d["group"]["actor.user"] for d in diff["disappear"]} == {"lee"}
