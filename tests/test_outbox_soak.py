"""Fault soak: 5,000 alerts over 300 incidents delivered by `breachline notify` processes that are SIGKILLed at
random points and restarted, while both emulators inject 20 % faults of every kind.

At the end: exactly one Jira ticket and one Slack root message per incident, every repeat exactly once in its
thread, no comment twice, no outbox row lost, dead letters only for permanent errors. Bounded: sleeps are scaled
down (Retry-After 0-1 s, client timeouts 0.5 s, backoff 20 ms-1 s).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from breachline.store import connect
from tests.emulators.fixtures import start
from tests.emulators.helpers import JIRA_ENV, T0, add_alerts
from tests.emulators.jira import JiraApp
from tests.emulators.slack import SlackApp

ALERTS, INCIDENTS, WAVES, KILLS_PER_WAVE = 5000, 300, 3, 2
FAULTS = {"rate": 0.2, "retry_after": [0, 0, 1], "slow_seconds": 0.8, "seed": 5}
JIRA_FAULTS = ["429", "500", "502", "503", "slow", "drop", "drop_after"]
SLACK_FAULTS = [*JIRA_FAULTS, "channel_not_found", "invalid_auth", "msg_too_long"]
REPO = Path(__file__).resolve().parents[1]

PLAYBOOK = """\
id: soak-export
version: 1
title: Bulk export (soak test)
severity: high
correlation:
  type: match
  where: {"==": [{"var": "action"}, "export"]}
  group_by: [actor.user]
dedup:
  key: [actor.user]
  suppress_for: 30d
  budget_per_hour: null
notify:
  jira: {project: SEC, issue_type: Incident}
  slack: {channel: "#sec-alerts"}
"""


def _config(tmp: Path, jira_url: str, slack_url: str) -> Path:
    (tmp / "playbooks").mkdir()
    (tmp / "playbooks" / "soak.yml").write_text(PLAYBOOK)
    cfg = tmp / "breachline.toml"
    cfg.write_text(f"""
[database]
path = "{tmp / 'soak.duckdb'}"
[playbooks]
shipped = false
dirs = ["{tmp / 'playbooks'}"]
[jira]
url = "{jira_url}"
user = "breachline@example.com"
timeout = "500ms"
[slack]
base_url = "{slack_url}/api/"
channel = "#sec-alerts"
timeout = "500ms"
client_retries = 1
[delivery]
backoff = "20ms"
max_backoff = "1s"
linger = "5s"
settle = "2s"
comment_interval = "0s"
max_attempts = 12
workers = 8
""")
    return cfg


def _write_wave(db: Path, wave: int, rng: random.Random) -> None:
    con = connect(db)
    per_wave = ALERTS // WAVES + (1 if wave < ALERTS % WAVES else 0)
    base = sum(ALERTS // WAVES + (1 if w < ALERTS % WAVES else 0) for w in range(wave))
    add_alerts(con, [{"alert_id": f"soak-{n:05d}", "playbook": "soak-export", "user": f"user{n % INCIDENTS:03d}",
                      "at": T0 + timedelta(minutes=n // INCIDENTS, seconds=rng.randrange(60))}
                     for n in range(base, base + per_wave)])
    con.close()


def _notify(cfg: Path, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "breachline", "notify", "--config", str(cfg), "--json"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _run_summary(out: Path) -> str:
    """sent / retried / merged of a run that finished, or 'killed'."""
    text = out.read_text()
    try:
        s = json.loads(text[text.index("{"): text.rindex("}") + 1])
    except ValueError:
        return "killed"
    return f"sent {s['sent']} retried {s['retried']} merged {s['merged']} pending {s['pending']}"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_fault_soak_exactly_once(tmp_path: Path) -> None:
    jira, slack = start(JiraApp(deployment="cloud")), start(SlackApp())
    try:
        _soak(tmp_path, jira, slack)
    finally:
        jira.server.stop()
        slack.server.stop()


def _soak(tmp_path: Path, jira, slack) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20250301)
    cfg = _config(tmp_path, jira.url, slack.url)
    db = tmp_path / "soak.duckdb"
    # Each restart would recompile every module when bytecode caching is off (PYTHONDONTWRITEBYTECODE): keep
    # a bytecode cache for the notify processes under tmp_path (nothing is written into the tree).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(JIRA_ENV, PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"))
    jira.control.faults(kinds=JIRA_FAULTS, **FAULTS)
    slack.control.faults(kinds=SLACK_FAULTS, **FAULTS)
    kills = runs = 0
    durations: list[str] = []
    started = time.monotonic()
    for wave in range(WAVES):
        _write_wave(db, wave, rng)
        for _ in range(KILLS_PER_WAVE):
            # Kill at a random point of the delivery: after a random number of further requests reached the
            # emulators (a wall-clock delay would mostly hit the interpreter's start-up).
            before = jira.control.count() + slack.control.count()
            target = before + rng.randint(20, 400)
            log = tmp_path / f"notify-{runs}.log"
            proc = _notify(cfg, env, log)
            runs += 1
            t0 = time.monotonic()
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if jira.control.count() + slack.control.count() >= target:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    break
                time.sleep(0.02)
            proc.wait()
            durations.append(f"{time.monotonic() - t0:.1f}s {_run_summary(log)}")
    # Faults stay on: the last runs must converge through them.
    summary: dict[str, object] = {}
    pending_before = -1
    for _ in range(8):
        log = tmp_path / f"notify-{runs}.log"
        proc = _notify(cfg, env, log)
        runs += 1
        t0 = time.monotonic()
        proc.wait(timeout=120)
        durations.append(f"{time.monotonic() - t0:.1f}s {_run_summary(log)}")
        con = connect(db)
        pending = con.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        con.close()
        if pending in (0, pending_before):  # done, or no progress: stop and let the assertions say why
            summary = {"last_output": [ln for ln in log.read_text().splitlines() if ln.startswith("breachline:")]}
            break
        pending_before = pending
    elapsed = time.monotonic() - started

    jstate, sstate = jira.control.state(), slack.control.state()
    (tmp_path / "jira_state.json").write_text(json.dumps(jstate))  # for a post-mortem when an assertion fails
    (tmp_path / "slack_state.json").write_text(json.dumps(sstate))
    (tmp_path / "jira_requests.json").write_text(json.dumps(jira.control.requests()))
    con = connect(db)
    incidents = {r[0]: r[1:] for r in con.execute(
        "SELECT incident_id, alert_count, jira_key, slack_ts FROM incidents WHERE kind = 'incident'").fetchall()}
    outbox = dict(con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    dead = con.execute("SELECT outbox_id, error_kind, last_error FROM outbox WHERE status = 'dead'").fetchall()
    assigned = con.execute("SELECT count(*) FROM alerts WHERE incident_id IS NOT NULL").fetchone()[0]
    found = con.execute("SELECT count(*) FROM outbox WHERE result->>'found_existing' = 'true'").fetchone()[0]
    con.close()

    # Jira: one ticket per incident, found by its label; no comment twice.
    labels = Counter(lbl for i in jstate["issues"] for lbl in i["labels"] if lbl.startswith("bl-"))
    comment_refs = Counter(c["body"].rsplit("ref ", 1)[-1] for i in jstate["issues"] for c in i["comments"])
    # Slack: one root per incident, each repeat exactly once in its thread.
    messages = [m for c in sstate["channels"].values() for m in c["messages"]]
    roots = Counter(m["metadata"]["event_payload"]["incident_id"] for m in messages
                    if (m.get("metadata") or {}).get("event_type") == "breachline_incident")
    reply_ids: Counter[int] = Counter()
    covered: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        for r in m["replies"]:
            p = r["metadata"]["event_payload"]
            reply_ids[p["outbox_id"]] += 1
            covered[p["incident_id"]].extend(range(p["from_seq"], p["to_seq"] + 1))
    faults_jira, faults_slack = jstate["_faults"]["injected"], sstate["_faults"]["injected"]

    print(f"\nsoak: {ALERTS} alerts -> {len(incidents)} incidents in {elapsed:.0f}s; notify runs {runs}, "
          f"SIGKILLed {kills}")
    print(f"soak: jira tickets {len(jstate['issues'])}, comments {sum(comment_refs.values())}; "
          f"slack roots {sum(roots.values())}, thread replies {sum(reply_ids.values())}; "
          f"repeats covered {sum(len(v) for v in covered.values())}")
    print(f"soak: outbox {dict(sorted(outbox.items()))}; dead {len(dead)}; actions found already done by an "
          f"earlier attempt {found}")
    for line in durations:
        print(f"soak: run {line}")
    print(f"soak: faults injected jira {dict(sorted(faults_jira.items()))}")
    print(f"soak: faults injected slack {dict(sorted(faults_slack.items()))}")
    print(f"soak: {json.dumps(summary)}")

    assert assigned == ALERTS
    assert len(incidents) == INCIDENTS
    assert sum(v[0] for v in incidents.values()) == ALERTS
    assert outbox.get("pending", 0) == 0, "rows left pending after the final runs"
    assert all(kind == "permanent" for _, kind, _ in dead), dead
    assert len(jstate["issues"]) == INCIDENTS
    assert all(labels[f"bl-{iid[4:]}"] == 1 for iid in incidents)
    assert {v[1] for v in incidents.values()} == {i["key"] for i in jstate["issues"]}
    assert max(comment_refs.values()) == 1, "a comment was sent twice"
    assert set(roots) == set(incidents) and max(roots.values()) == 1
    assert max(reply_ids.values()) == 1, "a thread reply was sent twice"
    for iid, (alert_count, _, _) in incidents.items():
        assert sorted(covered[iid]) == list(range(2, alert_count + 1)), iid
    assert sum(faults_jira.values()) > 0 and sum(faults_slack.values()) > 0
    assert kills > 0
