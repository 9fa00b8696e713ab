"""`breachline notify`, `breachline incidents list`, `breachline outbox list | retry`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from breachline.cli import main
from breachline.store import connect
from tests.emulators.fixtures import Running, jira_emulator, slack_emulator  # noqa: F401
from tests.emulators.helpers import JIRA_ENV, T0, add_alert


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BREACHLINE_CONFIG", raising=False)
    for name in ("BREACHLINE_JIRA_TOKEN", "BREACHLINE_SLACK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "breachline.toml").write_text('[playbooks]\nshipped = false\n')
    return tmp_path


def alerts(db: Path, n: int = 2) -> None:
    con = connect(db)
    for i in range(n):
        add_alert(con, f"a{i}", at=T0 + timedelta(minutes=i))
    con.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_notify_without_settings_prints_to_the_console(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alerts(workdir / "s.duckdb")
    code, out, err = run(capsys, "notify", "--db", "s.duckdb")
    assert code == 0 and err == ""
    assert "--- jira create_ticket" in out and "--- slack thread_reply" in out
    assert "alerts: 2 assigned; incidents: 1 opened" in out and "outbox: 3 sent, 0 retried" in out
    code, out, err = run(capsys, "notify", "--db", "s.duckdb", "--json")
    assert code == 0
    summary = json.loads(out)
    assert {k: summary[k] for k in ("sent", "retried", "dead", "pending")} == {"sent": 0, "retried": 0, "dead": 0,
                                                                             "pending": 0}
    code, out, _ = run(capsys, "incidents", "list", "--db", "s.duckdb", "--json")
    (incident,) = json.loads(out)
    assert incident["alert_count"] == 2 and incident["jira_key"] is None


def _config(workdir: Path, jira: Running, slack: Running) -> Path:
    cfg = workdir / "breachline.toml"
    cfg.write_text(f"""
[database]
path = "{workdir / 'c.duckdb'}"
[playbooks]
shipped = false
[jira]
url = "{jira.url}"
user = "breachline@example.com"
project = "SEC"
timeout = "2s"
[slack]
base_url = "{slack.url}/api/"
channel = "#sec-alerts"
timeout = "2s"
[delivery]
linger = "0s"
backoff = "10ms"
""")
    return cfg


def test_a_wrong_token_is_one_line_and_nothing_is_lost(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       jira_emulator: Running, slack_emulator: Running  # noqa: F811
                                                       ) -> None:
    cfg = _config(workdir, jira_emulator, slack_emulator)
    alerts(workdir / "c.duckdb")
    monkeypatch.setenv("BREACHLINE_JIRA_TOKEN", "expired")
    monkeypatch.setenv("BREACHLINE_SLACK_TOKEN", JIRA_ENV["BREACHLINE_SLACK_TOKEN"])
    code, out, err = run(capsys, "notify", "--config", str(cfg))
    assert code == 1
    assert err.splitlines() == ["breachline: Jira rejected the credentials (HTTP 401): check [jira] user "
                                "'breachline@example.com' with the API token in $BREACHLINE_JIRA_TOKEN "
                                "([jira] token_env)"]
    assert "1 pending, 0 dead" in out
    code, out, _ = run(capsys, "outbox", "list", "--config", str(cfg), "--json")
    (row,) = json.loads(out)["rows"]
    assert (row["action"], row["status"], row["attempts"], row["error_kind"]) == ("create_ticket", "pending", 0,
                                                                                   "config")
    monkeypatch.setenv("BREACHLINE_JIRA_TOKEN", JIRA_ENV["BREACHLINE_JIRA_TOKEN"])
    code, out, err = run(capsys, "notify", "--config", str(cfg))
    assert (code, err) == (0, "")
    code, out, _ = run(capsys, "incidents", "list", "--config", str(cfg))
    assert "SEC-1" in out and "https://breachline-test.slack.com/archives/C0000000001/p" in out


def test_dead_letters_fail_the_run_and_can_be_retried(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      jira_emulator: Running, slack_emulator: Running  # noqa: F811
                                                      ) -> None:
    cfg = _config(workdir, jira_emulator, slack_emulator)
    cfg.write_text(cfg.read_text().replace('backoff = "10ms"', 'backoff = "10ms"\nmax_attempts = 1'))
    alerts(workdir / "c.duckdb", 1)
    for k, v in JIRA_ENV.items():
        monkeypatch.setenv(k, v)
    jira_emulator.control.faults(rate=1.0, kinds=["500"])
    code, out, err = run(capsys, "notify", "--config", str(cfg), "--json")
    assert code == 1 and json.loads(out)["dead"] == 1
    assert "dead-lettered: `breachline outbox list` shows why" in err
    code, out, _ = run(capsys, "outbox", "list", "--config", str(cfg))
    assert "jira.create_ticket" in out and "gave up after 1 attempts: Jira server error (HTTP 500" in out
    assert run(capsys, "outbox", "retry", "--config", str(cfg))[0] == 2  # IDs or --all
    code, _, err = run(capsys, "outbox", "retry", "1", "--config", str(cfg))
    assert code == 2 and "outbox #1 is sent" in err
    jira_emulator.control.faults()
    code, out, _ = run(capsys, "outbox", "retry", "--all", "--config", str(cfg))
    assert code == 0 and out.startswith("1 row(s) due again")
    code, out, _ = run(capsys, "notify", "--config", str(cfg), "--json")
    assert code == 0 and (json.loads(out)["dead"], json.loads(out)["pending"]) == (0, 0)
    assert len(jira_emulator.control.state()["issues"]) == 1
