"""No raw PII leaves: every PII vector goes through every sink (Jira, Slack Web API, Slack webhook, console), and
none of them is found in what the emulators received or the console printed.

Vectors: the card networks' test PANs and the detect-secrets plugin positives of the detectors breachline claims
(tests/data/pii, a copy of ../shared/external/pii; the claimed set is the one tests/test_pii_vectors.py checks),
plus one SSN, e-mail, phone and IBAN. Each vector is put in an alert's title, entity, metrics and sample event,
each time after a marker; the markers prove every field was sent, so an absent vector was masked, not dropped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pytest

from breachline.pii import redact_texts
from breachline.store import connect
from connectors.outbox import deliver
from connectors.sinks import build_sinks
from connectors.sinks.settings import SlackSettings
from correlators.incidents import IncidentPolicy, assign
from tests.emulators.fixtures import Running, jira_emulator, slack_emulator  # noqa: F401
from tests.emulators.helpers import JIRA_ENV, T0, add_alert, settings_for
from tests.emulators.slack import WEBHOOK_PATH
from tests.test_pii_vectors import SUPPORTED

DATA = Path(__file__).parent / "data" / "pii"
EXTRA = ["123-45-6789", "jane.doe+orders@example.co.uk", "+1 (502) 459-2181", "DE89370400440532013000"]


def vectors() -> list[str]:
    with (DATA / "test_pans.csv").open(newline="") as f:
        pans = [r["pan"] for r in csv.DictReader(f) if r["expected"] == "PAN"]
    secrets = json.loads((DATA / "detect_secrets_plugin_test_vectors.json").read_text())
    found = [v.get("payload") or v.get("line") or v.get("file_content")
             for detector in sorted(SUPPORTED) for v in secrets[detector] if v.get("should_flag", True)]
    return list(dict.fromkeys([*pans, *[t for t in found if t], *EXTRA]))


VECTORS = vectors()
POLICY = {"admin-export": IncidentPolicy(alert_budget_per_hour=None)}


def load(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("BEGIN TRANSACTION")
    for i, v in enumerate(VECTORS):
        add_alert(con, f"v{i:03d}", user=f"user{i:03d}", title=f"ctl{i:03d}t {v}",
                  group_values={"actor.user": f"ctl{i:03d}g {v}"}, metrics={"note": f"ctl{i:03d}m {v}"},
                  samples=[{"action": "export", "message": f"ctl{i:03d}s {v}"}])
    con.execute("COMMIT")
    assign(con, POLICY, T0)


def views(texts: list[str]) -> str:
    """Everything received, in every form a vector could hide in: raw, JSON-decoded, URL-decoded, with Jira wiki
    and Slack mrkdwn escapes undone."""
    out = []
    for text in texts:
        out += [text, unquote(text)]
        with contextlib.suppress(ValueError):
            out += list(_strings(json.loads(text)))
    joined = "\n".join(out)
    unwiki = re.sub(r"\\([\\{}\[\]|*_^+?~#!-])", r"\1", joined)
    unmrkdwn = joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "\n".join([joined, unwiki, unmrkdwn])


def _strings(obj: Any) -> Any:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def received(emulator: Running) -> str:
    return views([r["body"] for r in emulator.control.requests()] + [r["query"] for r in emulator.control.requests()])


@pytest.fixture
def second_store() -> Any:
    con = connect(":memory:")
    yield con
    con.close()


def test_vectors_cover_every_kind() -> None:
    assert len(VECTORS) >= 60
    assert any(v.startswith("-----BEGIN") for v in VECTORS) and "4242424242424242" in VECTORS


def test_no_pii_reaches_any_sink(store: duckdb.DuckDBPyConnection, second_store: duckdb.DuckDBPyConnection,
                                 jira_emulator: Running, slack_emulator: Running) -> None:  # noqa: F811
    # Pass 1: Jira and the Slack Web API.
    load(store)
    sinks = build_sinks(settings_for(jira_emulator.url, slack_emulator.url, workers=8), JIRA_ENV)
    summary = deliver(store, sinks, now=T0)
    assert (summary.pending, summary.dead) == (0, 0)
    jira_seen = received(jira_emulator)
    slack_seen = received(slack_emulator)
    slack_emulator.control.reset()

    # Pass 2: the incoming webhook, and the console in place of Jira.
    load(second_store)
    console = io.StringIO()
    settings = settings_for(None, None)
    from dataclasses import replace

    settings = replace(settings, slack=SlackSettings(webhook_url_env="HOOK", timeout_seconds=5))
    sinks = build_sinks(settings, {"HOOK": slack_emulator.url + WEBHOOK_PATH}, console=console)
    summary = deliver(second_store, sinks, now=T0)
    assert (summary.pending, summary.dead) == (0, 0)
    hook_seen = received(slack_emulator)
    console_seen = views([console.getvalue()])

    seen = {"jira": jira_seen, "slack": slack_seen, "webhook": hook_seen, "console": console_seen}
    # Which fields each sink shows: the ticket and the console everything; Slack the title and the entity.
    fields = {"jira": "tgms", "slack": "tg", "webhook": "tg", "console": "tgms"}
    leaks = [(name, v) for name, text in seen.items() for v in VECTORS if v in text]
    assert leaks == []
    for name, text in seen.items():
        missing = [f"ctl{i:03d}{f}" for i in range(len(VECTORS)) for f in fields[name] if f"ctl{i:03d}{f}" not in text]
        assert missing == [], f"{name} did not receive {missing[:5]}"
    # And what arrived is the redactor's output, not an accident of truncation.
    titles = redact_texts([f"ctl{i:03d}t {v}" for i, v in enumerate(VECTORS)])  # one call: each costs ~0.2 s
    for title in titles:
        assert title is not None
        assert "[breachline] " + title.replace("\n", " ")[:243] in jira_seen
        assert title in slack_seen
