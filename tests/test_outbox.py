"""deliver(): the outbox against the Jira and Slack emulators, through the real clients.

Each delivery here is one pass at a fixed `now` (the outbox's clock); later passes move `now` forward, so backoff
and throttling are checked without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest

from connectors.outbox import DeliverySummary, backoff, deliver, list_rows, notify, retry
from connectors.sinks import build_sinks
from correlators.incidents import IncidentPolicy, assign
from tests.emulators.fixtures import Running, jira_emulator, slack_emulator  # noqa: F401
from tests.emulators.helpers import JIRA_ENV, T0, add_alert, settings_for

POLICY = {"admin-export": IncidentPolicy(alert_budget_per_hour=None)}


@dataclass
class World:
    con: duckdb.DuckDBPyConnection
    jira: Running
    slack: Running

    def sinks(self, env: dict[str, str] | None = None, **delivery: Any):  # type: ignore[no-untyped-def]
        return build_sinks(settings_for(self.jira.url, self.slack.url, **delivery), env or JIRA_ENV)

    def deliver(self, at: datetime, env: dict[str, str] | None = None, **delivery: Any) -> DeliverySummary:
        sinks = self.sinks(env, **delivery)
        try:
            return deliver(self.con, sinks, now=at)
        finally:
            sinks.close()

    def outbox(self) -> list[tuple[Any, ...]]:
        return self.con.execute(
            "SELECT outbox_id, target, action, status, attempts, error_kind FROM outbox ORDER BY outbox_id"
        ).fetchall()

    def issues(self) -> list[dict[str, Any]]:
        return list(self.jira.control.state()["issues"])

    def roots(self) -> list[dict[str, Any]]:
        return [m for c in self.slack.control.state()["channels"].values() for m in c["messages"]]

    def requests(self, emulator: Running, fragment: str) -> list[dict[str, Any]]:
        return [r for r in emulator.control.requests() if fragment in r["path"]]


@pytest.fixture
def world(store: duckdb.DuckDBPyConnection, jira_emulator: Running, slack_emulator: Running) -> World:  # noqa: F811
    return World(store, jira_emulator, slack_emulator)


def test_one_ticket_and_one_thread_per_incident_with_cross_links(world: World) -> None:
    for i in range(3):
        add_alert(world.con, f"a{i}", at=T0 + timedelta(minutes=i))
    assign(world.con, POLICY, T0)
    summary = world.deliver(T0)
    assert (summary.sent, summary.pending, summary.dead, summary.errors) == (4, 0, 0, [])
    (issue,) = world.issues()
    (root,) = world.roots()
    assert [r["metadata"]["event_payload"] for r in root["replies"]] == [
        {"incident_id": root["metadata"]["event_payload"]["incident_id"], "outbox_id": 3, "from_seq": 2,
         "to_seq": 3}]
    # The root was posted first, so the ticket carries the thread link; the root is then updated with the key.
    assert root["ts"].replace(".", "") in issue["description"]
    assert issue["key"] in root["text"] and root["update_count"] == 1
    key, ts, linked = world.con.execute(
        "SELECT jira_key, slack_ts, jira_linked_slack AND slack_linked_jira FROM incidents").fetchone()
    assert (key, ts, linked) == (issue["key"], root["ts"], True)
    assert [r[2:4] for r in world.outbox()] == [("post_root", "sent"), ("create_ticket", "sent"),
                                                 ("thread_reply", "sent"), ("update_root", "sent")]


def test_rows_of_one_incident_wait_for_the_row_before_them(world: World) -> None:
    add_alert(world.con, "a0")
    add_alert(world.con, "a1", at=T0 + timedelta(minutes=1))
    assign(world.con, POLICY, T0)
    world.slack.control.faults(rate=1.0, kinds=["502"])
    summary = world.deliver(T0)
    assert summary.retried == 1 and summary.pending == 2
    assert world.requests(world.slack, "/api/") and not world.roots()
    assert len(world.issues()) == 1  # Jira is its own queue: it does not wait for Slack
    world.slack.control.faults()
    summary = world.deliver(T0 + timedelta(minutes=5))
    assert summary.pending == 0 and len(world.roots()) == 1 and len(world.roots()[0]["replies"]) == 1


def test_retry_after_is_honoured(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    world.jira.control.faults(rate=1.0, kinds=["429"], retry_after=[7])
    world.deliver(T0)
    (due,) = world.con.execute("SELECT next_attempt_at FROM outbox WHERE action = 'create_ticket'").fetchone()
    assert due >= T0 + timedelta(seconds=7)
    world.jira.control.faults()
    world.deliver(T0 + timedelta(seconds=3))
    assert world.issues() == []  # not yet due
    world.deliver(T0 + timedelta(seconds=8))
    assert len(world.issues()) == 1


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    for attempt in range(1, 8):
        d = backoff(attempt, 2.0, 60.0)
        assert min(60.0, 2.0 * 2 ** (attempt - 1)) * 0.5 <= d <= min(60.0, 2.0 * 2 ** (attempt - 1))
    assert backoff(1, 2.0, 60.0, retry_after=30.0) == 30.0


def test_dead_letter_after_max_attempts_blocks_its_queue_until_retried(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    add_alert(world.con, "a1", at=T0 + timedelta(minutes=1))
    world.jira.control.faults(rate=1.0, kinds=["500"])
    for n in range(3):
        summary = world.deliver(T0 + timedelta(hours=n), max_attempts=3)
        if n == 0:
            assign(world.con, POLICY, T0)  # a repeat queues a comment behind the failing create
    assert summary.dead == 1 and summary.newly_dead == 1 and summary.pending == 1
    (dead,) = list_rows(world.con, statuses=("dead",))
    assert dead.action == "create_ticket" and dead.attempts == 3 and "gave up after 3 attempts" in (dead.last_error or "")
    (blocked,) = [r for r in list_rows(world.con) if r.status == "pending"]
    assert blocked.action == "comment" and blocked.blocked_by == dead.outbox_id
    with pytest.raises(Exception, match="dead-lettered"):
        summary.raise_for_problems()
    world.jira.control.faults()
    assert retry(world.con, [dead.outbox_id], T0 + timedelta(hours=3)) == 1
    summary = world.deliver(T0 + timedelta(hours=3))
    assert (summary.dead, summary.pending) == (0, 0)
    (issue,) = world.issues()
    assert issue["comments"] == []  # the ticket was created with both alerts: the comment had nothing new


def test_a_killed_process_never_sends_twice(world: World) -> None:
    """Rows left in flight (the process died mid-call after the service acted) are looked for, not resent."""

    def counts() -> tuple[int, int, int, int]:
        issues, roots = world.issues(), world.roots()
        return (len(issues), len(roots), sum(len(i["comments"]) for i in issues),
                sum(len(r["replies"]) for r in roots))

    def found() -> set[str]:
        return {a for (a,) in world.con.execute(
            "SELECT action FROM outbox WHERE result->>'found_existing' = 'true'").fetchall()}

    for i in range(2):
        add_alert(world.con, f"a{i}", at=T0 + timedelta(minutes=i))
    assign(world.con, POLICY, T0)
    world.deliver(T0)
    # Pretend the process died after each call reached the service but before its outcome was recorded.
    world.con.execute("UPDATE outbox SET status = 'pending', in_flight = true, last_attempt_at = ?", [T0])
    world.con.execute("UPDATE incidents SET jira_key = NULL, slack_ts = NULL, jira_seen_seq = 0")
    before = counts()
    assert world.deliver(T0 + timedelta(minutes=1), settle="1s").pending == 0
    assert counts() == before == (1, 1, 0, 1)
    assert found() == {"create_ticket", "post_root", "thread_reply"}

    add_alert(world.con, "a2", at=T0 + timedelta(minutes=5))
    assign(world.con, POLICY, T0 + timedelta(minutes=5))
    (last,) = world.con.execute("SELECT max(outbox_id) FROM outbox WHERE status = 'sent'").fetchone()
    world.deliver(T0 + timedelta(minutes=5))
    world.con.execute("UPDATE outbox SET status = 'pending', in_flight = true, last_attempt_at = ?"
                      " WHERE outbox_id > ?", [T0 + timedelta(minutes=5), last])
    world.con.execute("UPDATE incidents SET jira_seen_seq = 2, jira_last_comment_at = NULL")
    before = counts()
    assert world.deliver(T0 + timedelta(minutes=6), settle="1s").pending == 0
    assert counts() == before == (1, 1, 1, 2)
    assert {"comment", "thread_reply"} <= found()


def test_a_lost_answer_is_looked_for_after_the_settle_time(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    world.slack.control.faults(rate=1.0, kinds=["slow"], slow_seconds=0.6, paths=["chat.postMessage"])
    summary = world.deliver(T0, settle="30s", timeout="300ms")
    assert summary.retried == 1 and len(world.roots()) == 1  # posted, but the answer came too late
    world.slack.control.faults()
    world.deliver(T0 + timedelta(seconds=10), settle="30s")
    assert world.con.execute("SELECT slack_ts FROM incidents").fetchone() == (None,)  # still settling
    world.deliver(T0 + timedelta(seconds=31), settle="30s")
    assert len(world.roots()) == 1
    assert world.con.execute("SELECT slack_ts FROM incidents").fetchone() == (world.roots()[0]["ts"],)


def test_a_bad_token_is_one_line_naming_the_setting_and_rows_stay_pending(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    summary = world.deliver(T0, env={**JIRA_ENV, "BREACHLINE_SLACK_TOKEN": "xoxb-revoked"})
    assert summary.errors == ["Slack rejected the bot token (invalid_auth): put a valid xoxb- token in "
                              "$BREACHLINE_SLACK_TOKEN ([slack] token_env)"]
    assert len(world.issues()) == 1  # Jira went ahead
    assert [r[2:] for r in world.outbox()] == [("post_root", "pending", 0, "config"),
                                               ("create_ticket", "sent", 1, None)]
    summary = world.deliver(T0 + timedelta(minutes=1), env={"BREACHLINE_JIRA_TOKEN": "jira-test-token"})
    assert summary.errors == ["Slack is configured but $BREACHLINE_SLACK_TOKEN is empty: set it to the bot token "
                              "(xoxb-…), or change [slack] token_env"]
    assert world.deliver(T0 + timedelta(minutes=2)).pending == 0


def test_a_missing_project_or_channel_holds_only_that_playbook(world: World) -> None:
    add_alert(world.con, "a0")
    add_alert(world.con, "b0", playbook="other", user="bob")
    assign(world.con, {**POLICY, "other": IncidentPolicy(jira_project="NOPE", slack_channel="#nowhere")}, T0)
    summary = world.deliver(T0, config_error_threshold=1)
    assert sorted(summary.errors) == [
        "Jira project 'NOPE' does not exist or the user cannot create issues in it: fix notify.jira.project in the "
        "playbook or [jira] project",
        "Slack channel '#nowhere' not usable (channel_not_found): fix notify.slack.channel in the playbook or "
        "[slack] channel, and invite the bot to it",
    ]
    assert len(world.issues()) == 1 and len(world.roots()) == 1
    held = world.con.execute("SELECT count(*) FROM outbox WHERE status = 'pending' AND error_kind = 'config'"
                             ).fetchone()
    assert held == (2,)


def test_comments_are_throttled_and_summarise_what_is_new(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    world.deliver(T0, comment_interval="1h")
    for n, minute in enumerate((10, 20, 30), start=1):
        add_alert(world.con, f"a{n}", at=T0 + timedelta(minutes=minute))
        assign(world.con, POLICY, T0 + timedelta(minutes=minute))
        world.deliver(T0 + timedelta(minutes=minute), comment_interval="1h")
    (issue,) = world.issues()
    assert len(issue["comments"]) == 1 and "(#2-#2)" in issue["comments"][0]["body"]
    parked = world.con.execute("SELECT count(*) FROM outbox WHERE parked AND status = 'pending'").fetchone()
    assert parked == (2,)
    world.deliver(T0 + timedelta(minutes=75), comment_interval="1h")
    (issue,) = world.issues()
    assert len(issue["comments"]) == 2 and "2 new alert(s)* (#3-#4)" in issue["comments"][1]["body"]
    assert world.con.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone() == (0,)
    # Every repeat still reached the thread at once.
    assert len(world.roots()[0]["replies"]) == 3


def test_pending_root_updates_collapse_into_one(world: World) -> None:
    add_alert(world.con, "a0")
    assign(world.con, POLICY, T0)
    world.deliver(T0)
    for n in range(1, 4):
        add_alert(world.con, f"a{n}", at=T0 + timedelta(minutes=n))
        assign(world.con, POLICY, T0 + timedelta(minutes=n))
    updates_before = len(world.requests(world.slack, "chat.update"))
    summary = world.deliver(T0 + timedelta(minutes=5))
    assert len(world.requests(world.slack, "chat.update")) - updates_before == 1
    assert summary.merged >= 2
    assert "4 alerts" in world.roots()[0]["text"]


def test_a_done_ticket_closes_the_incident_and_a_repeat_reopens_it(world: World) -> None:
    add_alert(world.con, "a0")
    sinks = world.sinks()
    notify(world.con, POLICY, sinks, now=T0)
    (issue,) = world.issues()
    world.jira.control.post("status", {"key": issue["key"], "status": "Done"})
    result = notify(world.con, POLICY, sinks, now=T0 + timedelta(minutes=5))
    assert result.delivery.closed == 1
    assert world.con.execute("SELECT status, jira_status FROM incidents").fetchone() == ("closed", "Done")
    assert "CLOSED" in world.roots()[0]["text"]
    add_alert(world.con, "a1", at=T0 + timedelta(minutes=10))
    result = notify(world.con, POLICY, sinks, now=T0 + timedelta(minutes=10))
    assert result.assigned.reopened == 1
    (issue,) = world.issues()
    assert issue["statusCategory"] == "new" and "Reopened" in issue["comments"][0]["body"]
    # Read back again: the reopened ticket is not Done, so the incident stays open.
    notify(world.con, POLICY, sinks, now=T0 + timedelta(minutes=15))
    assert world.con.execute("SELECT status, reopen_count FROM incidents").fetchone() == ("open", 1)
    sinks.close()


def test_new_linked_after_close_makes_a_second_ticket_that_names_the_first(world: World) -> None:
    policy = {"admin-export": IncidentPolicy(repeat_after_close="new_linked", alert_budget_per_hour=None)}
    add_alert(world.con, "a0")
    sinks = world.sinks()
    notify(world.con, policy, sinks, now=T0)
    (first,) = world.issues()
    world.jira.control.post("status", {"key": first["key"], "status": "Done"})
    add_alert(world.con, "a1", at=T0 + timedelta(hours=1))
    notify(world.con, policy, sinks, now=T0 + timedelta(hours=1))
    sinks.close()
    first, second = world.issues()
    assert f"*Follows:* {first['key']}" in second["description"]
    assert len(world.roots()) == 2


def test_console_when_nothing_is_configured(store: duckdb.DuckDBPyConnection,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    add_alert(store, "a0", title="Export of 4242424242424242 by alice@example.com")
    add_alert(store, "a1", at=T0 + timedelta(minutes=1))
    assign(store, POLICY, T0)
    sinks = build_sinks(settings_for(None, None), {})
    summary = deliver(store, sinks, now=T0)
    out = capsys.readouterr().out
    assert summary.sent == 3 and summary.pending == 0
    assert "--- jira create_ticket" in out and "--- slack post_root" in out and "--- slack thread_reply" in out
    assert "priority=High" in out and "labels=breachline,admin-export,bl-" in out
    assert "4242424242424242" not in out and "424242" in out and "alice@example.com" not in out
    assert store.execute("SELECT DISTINCT sink FROM outbox").fetchall() == [("console",)]


def test_incoming_webhook_posts_every_message_without_threads(world: World) -> None:
    from tests.emulators.slack import WEBHOOK_PATH

    add_alert(world.con, "a0")
    add_alert(world.con, "a1", at=T0 + timedelta(minutes=1))
    assign(world.con, POLICY, T0)
    settings = settings_for(world.jira.url, None)
    from dataclasses import replace

    from connectors.sinks.settings import SlackSettings

    settings = replace(settings, slack=SlackSettings(webhook_url_env="HOOK", timeout_seconds=2))
    sinks = build_sinks(settings, {**JIRA_ENV, "HOOK": world.slack.url + WEBHOOK_PATH})
    summary = deliver(world.con, sinks, now=T0)
    assert summary.pending == 0
    hooks = world.slack.control.state()["webhook_messages"]
    assert len(hooks) == 2 and "[inc-" in hooks[1]["text"]  # root + reply; the link update is skipped


def test_rows_held_by_a_config_problem_do_not_hide_the_others(world: World) -> None:
    # Eight incidents whose channel is missing come first in the outbox; one worker takes four rows at a time.
    for i in range(8):
        add_alert(world.con, f"b{i}", playbook="other", user=f"user{i}")
    add_alert(world.con, "a0", at=T0 + timedelta(minutes=1))
    assign(world.con, {**POLICY, "other": IncidentPolicy(slack_channel="#nowhere", alert_budget_per_hour=None)}, T0)
    summary = world.deliver(T0, workers=1, config_error_threshold=1)
    assert len(summary.errors) == 1 and "#nowhere" in summary.errors[0]
    assert len(world.roots()) == 1 and len(world.issues()) == 9
