"""The Prefect side without a worker: prefect.yaml against the flows it names, the digest and backtest flows, the
Secret-block pull step. Most tests call the code directly (tasks through `.fn()`); the ones that need an API
(artifacts, blocks) share one `prefect_test_harness` for the module, with the flow heartbeat off and results in a
temporary directory (FIELD-NOTES: ≈ 12 s per harness, ≈ 1 s per flow with the heartbeat on).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from breachline.config import load_config
from breachline.store import open_store
from connectors.sinks import DeliverySettings, SinkFailure
from tests.emulators.fixtures import Running, slack_emulator  # noqa: F401 (pytest fixture)
from tests.emulators.helpers import add_alert, settings_for

REPO = Path(__file__).resolve().parents[1]
UNTIL = dt.datetime(2025, 3, 2, 7, 0, tzinfo=dt.UTC)
SINCE = UNTIL - dt.timedelta(hours=24)
IN = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


# --- prefect.yaml ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prefect_yaml() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return data


def _flow_of(entrypoint: str) -> Any:
    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def test_every_deployment_names_a_flow_that_accepts_its_parameters(prefect_yaml: dict[str, Any]) -> None:
    deployments = {d["name"]: d for d in prefect_yaml["deployments"]}
    assert set(deployments) == {"pipeline", "digest", "backtest"}
    for name, d in deployments.items():
        flow = _flow_of(d["entrypoint"])
        assert flow.name == name, "`prefect deployment run NAME/NAME` relies on flow name == deployment name"
        sig = inspect.signature(flow.fn)
        sig.bind_partial(**(d.get("parameters") or {}))  # TypeError on a parameter the flow does not take
        assert d["work_pool"]["name"] == "breachline"
        # Secrets never go in job_variables: `prefect deploy` would store them in the deployment in plain text.
        assert not d["work_pool"].get("job_variables"), f"{name}: job_variables must stay empty"
    assert "playbook_id" in inspect.signature(_flow_of(deployments["backtest"]["entrypoint"]).fn).parameters


def test_schedules_and_concurrency(prefect_yaml: dict[str, Any]) -> None:
    d = {d["name"]: d for d in prefect_yaml["deployments"]}
    assert d["pipeline"]["schedules"] == [{"interval": 300, "timezone": "UTC"}]
    assert d["pipeline"]["concurrency_limit"]["limit"] == 1  # one writer per DuckDB file
    assert d["digest"]["schedules"][0]["cron"].split()[2:] == ["*", "*", "*"]  # daily
    assert not d["backtest"].get("schedules"), "backtest runs on demand only"


def test_pull_steps_resolve_on_the_worker(prefect_yaml: dict[str, Any]) -> None:
    steps = prefect_yaml["pull"]
    assert steps[0] == {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $BREACHLINE_HOME }}"}}
    (fqn, args), = steps[1].items()
    module, func = fqn.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), func))
    assert all(v.startswith("breachline-") for v in args.values()), "block names, never secret values"


def test_the_documented_automations_are_valid() -> None:
    """docs/deploying.md's example is what `prefect automation create --from-file` would be given."""
    import re

    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    text = (REPO / "docs" / "deploying.md").read_text()
    block = re.search(r"```yaml\n(automations:.*?)```", text, re.S)
    assert block, "docs/deploying.md: no automations example"
    automations = [AutomationCore.model_validate(a) for a in yaml.safe_load(block.group(1))["automations"]]
    expected = {t.expect and next(iter(t.expect)) for a in automations if isinstance(t := a.trigger, EventTrigger)}
    assert "breachline.delivery.dead_letter" in expected


# --- digest: reading the store, rendering ------------------------------------------------------------------------

def _incident(con: Any, iid: str, playbook: str, at: dt.datetime, *, status: str = "open",
              kind: str = "incident") -> None:
    con.execute(
        "INSERT INTO incidents (incident_id, kind, playbook_id, dedup_key, title, severity, status, first_seen,"
        " last_seen, alert_count, event_count, opened_at, updated_at) VALUES (?, ?, ?, ?, 't', 'high', ?, ?, ?,"
        " 1, 1, ?, ?)", [iid, kind, playbook, iid, status, at, at, at, at])


def _suppressed(con: Any, alert_id: str, playbook: str, ref: str, at: dt.datetime) -> None:
    con.execute(
        "INSERT INTO suppressed_matches (alert_id, exception_ref, playbook_id, playbook_version, exception_owner,"
        " exception_reason, exception_expires, group_values, first_seen, last_seen, event_count, event_ids,"
        " suppressed_at) VALUES (?, ?, ?, 1, 'secops@example.com', 'known job', DATE '2030-01-01', '{}', ?, ?, 1,"
        " ['e'], ?)", [alert_id, ref, playbook, at, at, at])


@pytest.fixture
def digest_store(tmp_path: Path) -> Path:
    """Two active playbooks in the period, plus rows just outside it on both sides."""
    (tmp_path / "breachline.toml").write_text('[database]\npath = "store.duckdb"\n')
    with open_store(tmp_path / "store.duckdb") as con:
        for i in range(3):
            add_alert(con, f"a-alice-{i}", playbook="admin-export", user="alice", at=IN + dt.timedelta(minutes=i))
        add_alert(con, "a-bob", playbook="admin-export", user="bob", at=IN)
        for i in range(2):
            add_alert(con, f"w-{i}", playbook="webhook-pii", user="mallory@example.com", at=IN)
        add_alert(con, "old", playbook="admin-export", user="carol", at=SINCE - dt.timedelta(seconds=1))
        add_alert(con, "next", playbook="admin-export", user="carol", at=UNTIL)  # the period excludes its end
        _incident(con, "inc-1", "admin-export", IN)
        _incident(con, "inc-2", "admin-export", IN, status="folded")
        _incident(con, "dig-1", "admin-export", IN, kind="digest")  # a digest incident is not a new incident
        _incident(con, "inc-old", "admin-export", SINCE - dt.timedelta(hours=1))
        _suppressed(con, "s1", "admin-export", "exc-office-vpn", IN)
        _suppressed(con, "s1", "admin-export", "exc-backup-job", IN)  # one match, two exceptions
        _suppressed(con, "s2", "admin-export", "exc-office-vpn", IN)
        _suppressed(con, "s3", "quiet-playbook", "exc-x", UNTIL + dt.timedelta(hours=1))
    return tmp_path / "breachline.toml"


def test_digest_counts_per_playbook_within_the_period(digest_store: Path) -> None:
    from flows.digest import collect_digest

    digest = collect_digest(load_config(digest_store), SINCE, UNTIL, top=1)
    got = {p.playbook_id: p for p in digest.playbooks}
    assert list(got) == ["admin-export", "webhook-pii"]  # busiest first; nothing from outside the period
    ae = got["admin-export"]
    assert (ae.alerts, ae.incidents, ae.folded, ae.suppressed) == (4, 2, 1, 2)
    assert ae.exceptions == [("exc-office-vpn", "s***@example.com", 2), ("exc-backup-job", "s***@example.com", 1)]
    assert ae.noisiest == [("actor.user = alice", 3)]  # top=1
    wp = got["webhook-pii"]
    assert (wp.alerts, wp.incidents, wp.suppressed, wp.exceptions) == (2, 0, 0, [])
    assert wp.noisiest == [("actor.user = m***@example.com", 2)]  # redacted like incident messages


def test_digest_renders_without_raw_pii(digest_store: Path) -> None:
    from flows.digest import collect_digest, digest_markdown, slack_message

    digest = collect_digest(load_config(digest_store), SINCE, UNTIL)
    md = digest_markdown(digest)
    text, blocks = slack_message(digest)
    for out in (md, text, json.dumps(blocks)):
        assert "mallory@example.com" not in out and "secops@example.com" not in out
    assert "| admin-export | 4 | 2 (1 folded) | 2 | exc-office-vpn (s***@example.com) ×2" in md
    assert digest.digest_id == "digest-20250302T070000Z-24h"
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]


def test_digest_of_an_empty_or_missing_store(tmp_path: Path) -> None:
    from flows.digest import collect_digest, digest_markdown, slack_message

    (tmp_path / "breachline.toml").write_text('[database]\npath = "none-yet.duckdb"\n')
    digest = collect_digest(load_config(tmp_path / "breachline.toml"), SINCE, UNTIL)
    assert digest.playbooks == [] and not (tmp_path / "none-yet.duckdb").exists()
    assert "no alerts" in digest_markdown(digest).lower() and "no alerts" in slack_message(digest)[0].lower()


def test_slack_message_stays_within_block_limits() -> None:
    from flows.digest import MAX_PLAYBOOK_BLOCKS, Digest, PlaybookDigest, slack_message

    many = [PlaybookDigest(f"pb-{i:03d}", alerts=1, noisiest=[("x" * 5000, 1)]) for i in range(120)]
    text, blocks = slack_message(Digest(SINCE, UNTIL, many))
    assert len(blocks) <= 50 and len(text) <= 3000
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert f"{120 - MAX_PLAYBOOK_BLOCKS} more" in json.dumps(blocks[-2])


def test_period_end() -> None:
    from flows.digest import period_end

    assert period_end(None, dt.datetime(2025, 3, 2, 7, 42, 13, tzinfo=dt.UTC)) == UNTIL
    assert period_end("2025-03-02T07:00") == UNTIL
    assert period_end("2025-03-02T08:00+01:00") == UNTIL


# --- digest: delivery ------------------------------------------------------------------------------------------

def _post(settings: DeliverySettings, channel: str | None, console: Path | None = None) -> dict[str, Any]:
    from flows.digest import Digest, PlaybookDigest, post_digest, slack_message

    digest = Digest(SINCE, UNTIL, [PlaybookDigest("admin-export", alerts=3)])
    text, blocks = slack_message(digest)
    result: dict[str, Any] = post_digest.fn(settings, channel, digest.digest_id, text, blocks,
                                            UNTIL.timestamp() - 60, str(console) if console else None)
    return result


def test_digest_posts_to_slack_once_even_when_run_again(
        slack_emulator: Running, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("BREACHLINE_SLACK_TOKEN", "xoxb-test-token")
    settings = settings_for(None, slack_emulator.url)
    first = _post(settings, "#sec-alerts")
    second = _post(settings, "#sec-alerts")  # a task retry or a rerun of the same period
    assert first["sink"] == "slack" and not first.get("found_existing")
    assert second["found_existing"] and second["ts"] == first["ts"]
    channel = slack_emulator.control.state()["channels"][first["channel"]]
    assert len(channel["messages"]) == 1
    assert channel["messages"][0]["metadata"]["event_payload"] == {"digest_id": "digest-20250302T070000Z-24h"}


def test_digest_prints_through_the_console_sink_without_slack(tmp_path: Path) -> None:
    out = tmp_path / "console.log"
    result = _post(DeliverySettings(), None, out)
    assert result["sink"] == "console"
    assert "admin-export: 3 alerts" in out.read_text()


def test_digest_slack_failures_retry_only_when_transient(
        slack_emulator: Running, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from prefect.states import Failed

    from flows.digest import _transient

    settings = settings_for(None, slack_emulator.url)
    monkeypatch.delenv("BREACHLINE_SLACK_TOKEN", raising=False)
    with pytest.raises(SinkFailure) as missing:
        _post(settings, "#sec-alerts")
    assert missing.value.kind == "config" and "BREACHLINE_SLACK_TOKEN" in str(missing.value)
    monkeypatch.setenv("BREACHLINE_SLACK_TOKEN", "xoxb-test-token")
    with pytest.raises(SinkFailure) as no_channel:
        _post(settings, None)
    assert no_channel.value.kind == "config"
    slack_emulator.control.faults(rate=1.0, kinds=["503"])
    with pytest.raises(SinkFailure) as down:
        _post(settings, "#sec-alerts")
    assert down.value.kind == "transient"
    assert _transient(None, None, Failed(data=down.value)) is True  # type: ignore[arg-type]
    assert _transient(None, None, Failed(data=missing.value)) is False  # type: ignore[arg-type]
    assert _transient(None, None, Failed(data=ValueError("bug"))) is False  # type: ignore[arg-type]


# --- with a Prefect API -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    results = tmp_path_factory.mktemp("prefect-results")
    settings = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None, PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(results)}
    # Under load a fresh harness database takes far longer than the 30 s default to migrate.
    with temporary_settings(settings), prefect_test_harness(server_startup_timeout=180):
        yield


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key!r}"
    return str(found[0].data)


def test_digest_flow_publishes_the_artifact_and_prints(prefect_api: None, digest_store: Path) -> None:
    from flows.digest import ARTIFACT_KEY, digest_flow

    console = digest_store.parent / "console.log"
    result = digest_flow(config_path=str(digest_store), until=UNTIL.isoformat(), console_path=str(console))
    assert result["delivery"]["sink"] == "console"
    assert [p["playbook_id"] for p in result["playbooks"]] == ["admin-export", "webhook-pii"]
    md = _artifact(ARTIFACT_KEY)
    assert "| admin-export | 4 | 2 (1 folded) | 2 |" in md and "mallory@example.com" not in md
    assert "admin-export: 4 alerts" in console.read_text()


def _pan_store(tmp_path: Path) -> Path:
    from correlators.correlation import insert_events

    def pan_line(at: dt.datetime) -> dict[str, Any]:
        return {"time": at, "category": "app", "action": "log", "tenant": "eu-store",
                "pii": {"types": ["pan"], "count": 1}}

    day1 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
    events = [pan_line(day1), pan_line(day1 + dt.timedelta(hours=1)), pan_line(day1 + dt.timedelta(days=1)),
              {"time": day1, "category": "app", "action": "log", "tenant": "eu-store",
               "pii": {"types": ["email"], "count": 1}},  # not a PAN: no alert
              # later traffic, so the PAN lines are well inside the decided history
              {"time": day1 + dt.timedelta(days=3), "category": "app", "action": "view", "tenant": "eu-store"}]
    (tmp_path / "breachline.toml").write_text('[database]\npath = "store.duckdb"\n')
    with open_store(tmp_path / "store.duckdb") as con:
        insert_events(con, events)
    return tmp_path / "breachline.toml"


def test_backtest_flow_reports_a_playbook_over_history(prefect_api: None, tmp_path: Path) -> None:
    from flows.backtest import backtest_flow

    config = _pan_store(tmp_path)
    result = backtest_flow(playbook_id="pan-in-application-log", since="30d", config_path=str(config))
    assert result["alerts"] == 3 and result["suppressed"] == 0  # one alert per PAN log line
    assert result["incidents"] == 1  # deduplicated per tenant within 24 h of the last alert
    per_day = {d["day"]: d["alerts"] for d in result["per_day"]}
    assert per_day["2025-03-01"] == 2 and per_day["2025-03-02"] == 1
    assert result["top_groups"] == [{"group": {"tenant": "eu-store"}, "alerts": 3}]
    assert Path(result["chart"]).read_text().startswith("<!doctype html>")
    assert "**3** alerts" in _artifact("backtest-pan-in-application-log")


def test_backtest_flow_names_the_known_playbooks(prefect_api: None, tmp_path: Path) -> None:
    from breachline.errors import PlaybookError
    from flows.backtest import backtest_flow

    config = _pan_store(tmp_path)
    with pytest.raises(PlaybookError, match="pan-in-application-log"):
        backtest_flow(playbook_id="pan-in-app-log", config_path=str(config))


def test_secrets_from_blocks(prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    from flows.deployments import secrets_from_blocks

    Secret(value=SecretStr("from-the-block")).save("bl-test-jira", overwrite=True)
    Secret(value=SecretStr("ignored")).save("bl-test-slack", overwrite=True)
    monkeypatch.setenv("BL_TEST_JIRA", "")
    monkeypatch.setenv("BL_TEST_SLACK", "from-the-environment")
    monkeypatch.delenv("BL_TEST_OTHER", raising=False)
    out = secrets_from_blocks(BL_TEST_JIRA="bl-test-jira", BL_TEST_SLACK="bl-test-slack",
                              BL_TEST_OTHER="no-such-block")
    assert out == {"secrets_from_blocks": ["BL_TEST_JIRA"]}
    assert os.environ["BL_TEST_JIRA"] == "from-the-block"
    assert os.environ["BL_TEST_SLACK"] == "from-the-environment"  # the worker's environment wins
    assert "BL_TEST_OTHER" not in os.environ
