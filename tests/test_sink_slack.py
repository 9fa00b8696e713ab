"""The Slack sinks through the real slack_sdk clients against the emulator."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from connectors.outbox import deliver
from connectors.sinks import build_sinks
from connectors.sinks.base import Request, SinkFailure
from connectors.sinks.settings import SlackSettings
from connectors.sinks.slack import ROOT_EVENT, SlackSink, WebhookSink
from correlators.incidents import IncidentPolicy, assign
from tests.emulators.fixtures import Running, slack_emulator  # noqa: F401
from tests.emulators.helpers import JIRA_ENV, T0, add_alert, settings_for
from tests.emulators.slack import WEBHOOK_PATH


def sink(emulator: Running, token: str = "xoxb-test-token", **kw: object) -> SlackSink:
    settings = SlackSettings(base_url=emulator.url + "/api/", timeout_seconds=2, client_retries=1, **kw)  # type: ignore[arg-type]
    return SlackSink(settings, token)


def root_request(outbox_id: int = 1, text: str = "hello", **kw: object) -> Request:
    fields = {"channel": "#sec-alerts", "text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                                                "text": text}}],
              "metadata": {"event_type": ROOT_EVENT, "event_payload": {"incident_id": "inc-1", "outbox_id": outbox_id}}}
    return Request(outbox_id, "inc-1", "slack", "post_root", fields, **kw)  # type: ignore[arg-type]


def test_root_message_blocks_fallback_and_metadata(slack_emulator: Running, store: duckdb.DuckDBPyConnection  # noqa: F811
                                                   ) -> None:
    add_alert(store, "a0", severity="high")
    add_alert(store, "a1", at=T0 + timedelta(minutes=3), metrics={"rows": 5000, "customers": 42})
    assign(store, {"admin-export": IncidentPolicy(runbook="https://wiki.example.com/rb/export",
                                                  alert_budget_per_hour=None)}, T0)
    sinks = build_sinks(settings_for(None, slack_emulator.url), JIRA_ENV)
    assert deliver(store, sinks, now=T0).pending == 0
    (channel,) = [c for c in slack_emulator.control.state()["channels"].values() if c["messages"]]
    assert channel["name"] == "sec-alerts"
    (root,) = channel["messages"]
    iid = store.execute("SELECT incident_id FROM incidents").fetchone()[0]
    assert root["metadata"] == {"event_type": ROOT_EVENT, "event_payload": {"incident_id": iid, "outbox_id": 1}}
    header, section, context = root["blocks"]
    assert header["text"]["text"] == "Bulk customer export by alice"
    fields = [f["text"] for f in section["fields"]]
    assert "*Severity*\n:large_orange_circle: high" in fields and "*Alerts / events*\n2 / 6" in fields
    assert "<https://wiki.example.com/rb/export|runbook>" in [e["text"] for e in context["elements"]]
    assert root["text"].startswith(":large_orange_circle: [HIGH] Bulk customer export by alice | actor.user = alice")
    (reply,) = root["replies"]
    assert reply["thread_ts"] == root["ts"]
    assert reply["text"].startswith("1 new alert(s) #2-#2; now 2 alerts, 6 events")
    assert "customers=42, rows=5000" in reply["text"] or "rows=5000, customers=42" in reply["text"]
    ts, permalink = store.execute("SELECT slack_ts, slack_permalink FROM incidents").fetchone()
    assert permalink == f"https://breachline-test.slack.com/archives/C0000000001/p{ts.replace('.', '')}"


def test_a_posted_root_is_found_by_its_metadata(slack_emulator: Running) -> None:  # noqa: F811
    first = sink(slack_emulator).execute(root_request())
    found = sink(slack_emulator).execute(root_request(check_first=True))  # a new process: nothing cached
    assert found["ts"] == first["ts"] and found["found_existing"] is True
    roots = slack_emulator.control.state()["channels"]["C0000000001"]["messages"]
    assert len(roots) == 1
    # conversations.list resolved '#sec-alerts' to its ID for the history lookup
    assert any("conversations.list" in r["path"] for r in slack_emulator.control.requests())


def test_too_long_is_sent_again_short_and_plain(slack_emulator: Running) -> None:  # noqa: F811
    s = sink(slack_emulator)
    result = s.execute(root_request(text="x" * 50_000))
    (msg,) = slack_emulator.control.state()["channels"]["C0000000001"]["messages"]
    assert msg["ts"] == result["ts"] and len(msg["text"]) == 1500 and "blocks" not in msg


def test_errors_are_classified_and_name_the_setting(slack_emulator: Running) -> None:  # noqa: F811
    with pytest.raises(SinkFailure) as bad_token:
        sink(slack_emulator, token="xoxb-wrong").execute(root_request())
    assert bad_token.value.kind == "config" and "[slack] token_env" in str(bad_token.value)

    req = root_request()
    missing = Request(1, "inc-1", "slack", "post_root", {**req.fields, "channel": "C0NOPE"})
    with pytest.raises(SinkFailure) as no_channel:
        sink(slack_emulator).execute(missing)
    assert no_channel.value.kind == "config" and no_channel.value.scope == "C0NOPE"
    assert "notify.slack.channel" in str(no_channel.value)

    slack_emulator.control.faults(rate=1.0, kinds=["drop_after"], paths=["chat.postMessage"])
    with pytest.raises(SinkFailure) as lost:
        sink(slack_emulator).execute(root_request(2))
    assert lost.value.kind == "transient" and lost.value.ambiguous
    slack_emulator.control.faults(rate=1.0, kinds=["drop"], paths=["chat.postMessage"])
    with pytest.raises(SinkFailure) as dropped:
        sink(slack_emulator).execute(root_request(3))
    assert dropped.value.ambiguous  # the client cannot tell a drop before processing from one after


def test_rate_limits_and_server_errors_are_retried_inside_the_client(slack_emulator: Running) -> None:  # noqa: F811
    slack_emulator.control.faults(rate=1.0, kinds=["503"], paths=["chat.postMessage"])
    with pytest.raises(SinkFailure) as failed:
        sink(slack_emulator).execute(root_request())
    assert failed.value.kind == "transient"
    posts = [r for r in slack_emulator.control.requests() if r["path"].endswith("chat.postMessage")]
    assert len(posts) == 2  # ServerErrorRetryHandler: one retry (client_retries = 1)
    slack_emulator.control.faults(rate=1.0, kinds=["429"], retry_after=[0], paths=["chat.postMessage"])
    with pytest.raises(SinkFailure) as limited:
        sink(slack_emulator).execute(root_request())
    assert limited.value.retry_after == 0.0
    posts = [r for r in slack_emulator.control.requests() if r["path"].endswith("chat.postMessage")]
    assert len(posts) == 4  # RateLimitErrorRetryHandler: one retry


def test_incoming_webhook(slack_emulator: Running) -> None:  # noqa: F811
    settings = SlackSettings(webhook_url_env="HOOK", timeout_seconds=2)
    hook = WebhookSink(settings, slack_emulator.url + WEBHOOK_PATH)
    assert hook.execute(root_request()) == {"status": 200}
    assert slack_emulator.control.state()["webhook_messages"][0]["text"] == "hello"
    assert hook.execute(Request(2, "inc-1", "slack", "update_root", {"channel": None, "text": "x", "blocks": None}))[
        "skipped"]
    wrong = WebhookSink(settings, slack_emulator.url + "/services/T0/B0/revoked")
    with pytest.raises(SinkFailure) as revoked:
        wrong.execute(root_request())
    assert revoked.value.kind == "config" and "$HOOK ([slack] webhook_url_env)" in str(revoked.value)
