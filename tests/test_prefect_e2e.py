"""End to end through Prefect: the repository's own prefect.yaml deployed to a local server, a process worker,
the `pipeline` deployment run against a generated store, Jira and Slack emulators as separate processes, then the
`digest` deployment.

What must hold afterwards: every incident in DuckDB has exactly one Jira ticket and one Slack root message, the
keys/ts recorded in DuckDB are the ones the services hold, nothing is left in the outbox, each opened incident
emitted its event, and one digest reached the Slack channel with the store's alert counts. The tokens reach the
flows only through the worker's environment (the variables breachline.toml names), as they would in production.
Stopping the worker, then the server, must leave no process behind.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from breachline.config import parse_config
from breachline.demo import DemoPaths, write_demo_config
from tests.emulators.common import Control
from tests.prefect_server import (
    REPO,
    PrefectServer,
    Proc,
    ProcessError,
    cli,
    prefect_env,
    start_emulator,
    start_server,
    start_worker,
    stop,
    wait_for,
    wait_healthy,
)

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.timeout(600)]

POOL = "breachline"
JIRA_USER = "breachline@example.com"
ROOT_EVENT = "breachline_incident"  # the Slack sink's metadata on an incident's root message


class Stack:
    """Processes started by the test, stopped in reverse order (the worker before the server)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[Proc] = []

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def describe(self) -> str:
        return "\n".join(p.describe(80) for p in self.procs)

    def stop_all(self) -> dict[str, list[int]]:
        leftovers = {}
        for p in reversed(self.procs):
            t = time.monotonic()
            left = stop(p)
            print(f"[e2e] stopped {p.name} in {time.monotonic() - t:.1f}s (exit {p.popen.returncode})", flush=True)
            if left:
                leftovers[p.name] = left
        return leftovers


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path / "logs")
    try:
        yield s
    finally:
        leftovers = s.stop_all()
    assert not leftovers, f"processes left behind after stopping their groups: {leftovers}"


def _write_config(paths: DemoPaths, jira_url: str, slack_url: str) -> None:
    """breachline.toml as a user would write it for these services: URLs and the names of the token variables."""
    delivery = parse_config({
        "jira": {"url": jira_url, "user": JIRA_USER, "project": "SEC", "token_env": "BREACHLINE_JIRA_TOKEN",
                 "timeout": "10s"},
        "slack": {"base_url": slack_url + "/api/", "channel": "#sec-alerts", "token_env": "BREACHLINE_SLACK_TOKEN",
                  "timeout": "10s"},
    }, None)
    write_demo_config(paths, delivery)


def _store_facts(db: Path) -> dict[str, Any]:
    from breachline.store import open_store

    with open_store(db, read_only=True, migrate_schema=False, wait_seconds=60) as con:
        cur = con.execute("SELECT incident_id, jira_key, slack_channel_id, slack_ts FROM incidents"
                          " WHERE status <> 'folded' ORDER BY incident_id")  # folded ones speak via their digest
        names = [d[0] for d in cur.description]
        return {
            "incidents": [dict(zip(names, r, strict=True)) for r in cur.fetchall()],
            "opened": [r[0] for r in con.execute("SELECT incident_id FROM incidents").fetchall()],
            "outbox": dict(con.execute("SELECT status, count(*) FROM outbox GROUP BY 1").fetchall()),
            "alerts": dict(con.execute("SELECT playbook_id, count(*) FROM alerts GROUP BY 1").fetchall()),
        }


def _check_jira(jira_url: str, incidents: list[dict[str, Any]]) -> None:
    """One ticket per incident (label bl-<hash>), and the key DuckDB recorded is that ticket's."""
    by_label = {"bl-" + i["incident_id"].split("-", 1)[1]: i for i in incidents}
    issues = Control(jira_url).state()["issues"]
    labels = Counter(label for issue in issues for label in issue["labels"] if label.startswith("bl-"))
    assert set(labels) == set(by_label), "one Jira ticket per incident, and none for anything else"
    assert max(labels.values()) == 1 and len(issues) == len(incidents), f"duplicate tickets: {labels}"
    for issue in issues:
        label = next(lb for lb in issue["labels"] if lb.startswith("bl-"))
        assert by_label[label]["jira_key"] == issue["key"], f"{label}: DuckDB records another ticket key"


def _slack_messages(slack_url: str, event_type: str) -> list[tuple[str, dict[str, Any]]]:
    """(channel id, message) for every top-level message whose metadata has this event type."""
    return [(cid, msg) for cid, channel in Control(slack_url).state()["channels"].items()
            for msg in channel["messages"] if (msg.get("metadata") or {}).get("event_type") == event_type]


def _check_slack(slack_url: str, incidents: list[dict[str, Any]]) -> None:
    """One root message (thread) per incident, and the channel/ts DuckDB recorded is that message's."""
    roots: dict[str, tuple[str, str]] = {}
    for channel_id, msg in _slack_messages(slack_url, ROOT_EVENT):
        iid = msg["metadata"]["event_payload"]["incident_id"]
        assert iid not in roots, f"two root messages for {iid}"
        roots[iid] = (channel_id, msg["ts"])
    assert set(roots) == {i["incident_id"] for i in incidents}, "one Slack thread per incident"
    for i in incidents:
        assert (i["slack_channel_id"], i["slack_ts"]) == roots[i["incident_id"]], (
            f"{i['incident_id']}: DuckDB records another Slack message")


def _run_diagnostics(client: Any, run_id: Any) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    try:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200)
        lines = "\n".join(f"{log.timestamp:%H:%M:%S} {log.message}" for log in logs)
        return f"flow run {run.name}: {run.state_name} {run.state.message if run.state else ''}\n{lines}"
    except Exception as exc:
        return f"(flow run diagnostics unavailable: {exc})"


def test_deployments_deliver_each_incident_once_and_the_digest(tmp_path: Path, stack: Stack) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    from breachline.generate import generate_store

    t0 = time.monotonic()

    def mark(what: str) -> float:
        print(f"[e2e {time.monotonic() - t0:6.1f}s] {what}", flush=True)
        return time.monotonic() - t0

    logs = stack.logs
    server: PrefectServer = start_server(tmp_path / "prefect-home", logs)
    stack.add(server.proc)
    # Fresh random tokens: the emulators accept only these, and only the worker's environment carries them.
    jira_token, slack_token = f"jira-{secrets.token_hex(8)}", f"xoxb-{secrets.token_hex(8)}"
    jira, jira_url = start_emulator("jira", ["--project", "SEC", "--project", "PRIV", "--user", JIRA_USER,
                                             "--token", jira_token], logs)
    stack.add(jira)
    slack, slack_url = start_emulator("slack", ["--channel", "sec-alerts", "--channel", "privacy-incidents",
                                                "--token", slack_token], logs)
    stack.add(slack)

    # The store's raw logs are written while the server starts (≈ 15 s on a fresh database).
    paths = DemoPaths(tmp_path / "store")
    summary = generate_store(paths.logs, days=2, seed=11, events_per_day=3000)
    assert summary.scenarios, "the generated logs must contain injected incidents"
    _write_config(paths, jira_url, slack_url)
    mark(f"store logs generated: {summary.total_events} events, {len(summary.scenarios)} scenarios")

    wait_healthy(server, timeout=180)
    t_server = mark("server healthy")
    env = prefect_env(tmp_path / "prefect-home", server.api_url)
    with temporary_settings({PREFECT_API_URL: server.api_url}), get_client(sync_client=True) as client:
        # The pool through the client: `prefect work-pool create breachline --type process` (docs/deploying.md)
        # does the same, at the cost of one more CLI start-up (≈ 5-15 s here).
        client.create_work_pool(WorkPoolCreate(
            name=POOL, type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
        worker = stack.add(start_worker(POOL, {**env, "BREACHLINE_HOME": str(REPO),
                                               "BREACHLINE_JIRA_TOKEN": jira_token,
                                               "BREACHLINE_SLACK_TOKEN": slack_token}, logs))
        cli(["--no-prompt", "deploy", "--all"], env, logs / "cli.log", timeout=240)
        t_deployed = mark("deployed")

        dep = client.read_deployment_by_name("pipeline/pipeline")
        # Stored as written: the working directory is resolved on the worker at run time, not at deploy time.
        assert dep.pull_steps and dep.pull_steps[0] == {
            "prefect.deployments.steps.set_working_directory": {"directory": "{{ $BREACHLINE_HOME }}"}}
        assert dep.global_concurrency_limit and dep.global_concurrency_limit.limit == 1  # one writer per store
        assert [s.schedule.interval.total_seconds() for s in dep.schedules] == [300]  # type: ignore[union-attr]
        assert not dep.job_variables, "nothing (least of all a secret) belongs in job_variables"

        run = client.create_flow_run_from_deployment(dep.id, parameters={"config_path": str(paths.config)})
        mark(f"pipeline run {run.name} created")

        def finished(run_id: Any) -> Any:
            current = client.read_flow_run(run_id)
            return current if current.state and current.state.is_final() else None

        def wait_run(what: str, run_id: Any, timeout: float) -> Any:
            try:
                final = wait_for(what, lambda: finished(run_id), timeout, procs=[worker, server.proc], interval=1)
            except ProcessError as exc:
                raise ProcessError(f"{exc}\n{_run_diagnostics(client, run_id)}") from None
            assert final.state and final.state.is_completed(), (
                f"{_run_diagnostics(client, run_id)}\n{stack.describe()}")
            return final

        wait_run("the pipeline run to finish", run.id, 300)
        t_run = mark("pipeline run completed")
        # The daily digest, over the day up to now (by default it stops at the start of the hour), while this
        # test checks the pipeline's results: it only reads the store.
        digest_run = client.create_flow_run_from_deployment(
            client.read_deployment_by_name("digest/digest").id,
            parameters={"config_path": str(paths.config), "until": dt.datetime.now(dt.UTC).isoformat()})

        artifacts = {a.key for a in client.read_artifacts() if a.key}
        assert {"ingest-summary", "correlate-summary", "notify-summary"} <= artifacts
        facts = _store_facts(paths.db)
        incidents = facts["incidents"]
        assert incidents, "the injected scenarios must open incidents"
        assert facts["outbox"].keys() == {"sent"}, f"outbox not fully delivered: {facts['outbox']}"
        _check_jira(jira_url, incidents)
        _check_slack(slack_url, incidents)

        # One `breachline.incident.opened` event per incident opened (folded ones too), for automations. The
        # server persists events asynchronously: wait for them, boundedly.
        def events() -> list[str] | None:
            page = client.read_events(EventFilter(event=EventNameFilter(name=["breachline.incident.opened"])),
                                      limit=50)  # the API's maximum page
            ids = [e.resource.id for e in page.events]
            while page.next_page:
                page = client.read_events_page(str(page.next_page))
                ids += [e.resource.id for e in page.events]
            ids.sort()
            return ids if len(ids) >= len(facts["opened"]) else None

        assert wait_for("incident events", events, 60, procs=[server.proc]) == sorted(
            f"breachline.incident.{iid}" for iid in facts["opened"])

        wait_run("the digest run to finish", digest_run.id, 180)
        t_digest = mark("digest run completed")
        assert any(a.key == "breachline-digest" for a in client.read_artifacts())

    # The digest went to the [slack] channel, once, and counts what the store holds.
    digests = _slack_messages(slack_url, "breachline_digest")
    assert len(digests) == 1, f"one digest message, got {len(digests)}"
    sections = json.dumps(digests[0][1]["blocks"])
    for playbook, n in facts["alerts"].items():
        assert f"*{playbook}*: {n} alerts" in sections, f"digest misses {playbook}: {n} alerts"

    # Stopping is part of the test: the fixture asserts no process outlives its group.
    print(json.dumps({"incidents": len(incidents), "server_ready": round(t_server, 1),
                      "deployed": round(t_deployed, 1), "pipeline_done": round(t_run, 1),
                      "digest_done": round(t_digest, 1)}))
