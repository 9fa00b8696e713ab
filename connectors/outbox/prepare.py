"""Turning a queue head into a Request (rendered from the incident's current state), or deciding it needs no call.

Content is rendered at delivery time, so a root message update or a comment says what is true now. Rows with
nothing left to say are `merged` (a later update will carry it, the ticket already exists, no new alerts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from connectors.outbox.views import IncidentRow, load_alerts, load_incidents
from connectors.sinks import SinkSet
from connectors.sinks.base import Request, Sink
from connectors.sinks.redact import collecting, prime
from connectors.sinks.render import (
    AlertView,
    jira_comment,
    jira_description,
    jira_priority,
    jira_summary,
    label_safe,
    slack_reply,
    slack_root,
)
from connectors.sinks.slack import REPLY_EVENT, ROOT_EVENT

MAX_ALERTS_RENDERED = 10


@dataclass(frozen=True)
class Head:
    outbox_id: int
    incident_id: str
    target: str
    action: str
    payload: Any  # JSON text as heads() reads it; a dict once the row is about to be prepared
    attempts: int
    in_flight: bool
    ambiguous: bool
    next_attempt_at: datetime
    created_at: datetime

    @property
    def queue(self) -> tuple[str, str]:
        return (self.incident_id, self.target)


@dataclass
class Decision:
    """What to do with a head: call (request), merge (no call), park until a time, dead, or hold (config)."""

    kind: str                      # call | merge | park | dead | hold
    head: Head
    request: Request | None = None
    sink: Sink | None = None
    dest: str | None = None        # project or channel, for config problems scoped to one destination
    note: str = ""
    until: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


AlertKey = tuple[str, int, int, int, bool]  # incident, from seq, to seq, limit, newest first


def prepare(
    con: duckdb.DuckDBPyConnection,
    head: Head,
    inc: IncidentRow,
    sinks: SinkSet,
    later_updates: set[tuple[str, str]],
    now: datetime,
    alerts: AlertSource | None = None,
) -> Decision:
    """Decide and render. Deterministic for the same inputs, so delivery runs it in passes over a batch (plan the
    alert reads, collect the strings to redact, render for real) without changing the outcome."""
    sink = sinks.sinks[head.target]
    source = alerts or AlertSource(con)
    if head.target == "jira":
        return _jira(source, head, inc, sink, sinks, later_updates, now)
    return _slack(source, head, inc, sink, sinks, later_updates)


class AlertSource:
    """The alerts a render asks for. In planning mode it records the requests and answers nothing, so that one
    query can then load them all (`load`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, planning: bool = False) -> None:
        self.con = con
        self.planning = planning
        self.memo: dict[AlertKey, list[AlertView]] = {}
        self.wanted: set[AlertKey] = set()

    def __call__(self, incident_id: str, lo: int, hi: int, *, limit: int, newest_first: bool = True
                 ) -> list[AlertView]:
        key = (incident_id, lo, hi, limit, newest_first)
        if key in self.memo:
            return self.memo[key]
        if self.planning:
            self.wanted.add(key)
            return []
        self.memo[key] = load_alerts(self.con, [key])[key]
        return self.memo[key]

    def load(self) -> None:
        """Read every recorded request in one query and answer from memory from now on."""
        todo = sorted(k for k in self.wanted if k not in self.memo)
        if todo:
            self.memo.update(load_alerts(self.con, todo))
        self.planning = False


def _jira(load_alerts: AlertSource, head: Head, inc: IncidentRow, sink: Sink, sinks: SinkSet,
          later_updates: set[tuple[str, str]], now: datetime) -> Decision:
    settings = sinks.settings
    project = inc.jira_project or (settings.jira.project if settings.jira else None)
    d = Decision("call", head, sink=sink, dest=project)
    if sink.real and not project:
        d.dest = f"playbook {inc.playbook_id}"
        d.kind, d.note = "hold", (f"no Jira project for playbook {inc.playbook_id}: set notify.jira.project in the "
                                  "playbook or [jira] project")
        return d
    view = inc.view()
    slack_link = inc.slack_permalink if sinks.sinks["slack"].real else None
    action = head.action
    if action == "create_ticket":
        if inc.jira_key:
            return _merge(d, f"ticket {inc.jira_key} already recorded")
        alerts = load_alerts(inc.incident_id, 1, inc.alert_count, limit=MAX_ALERTS_RENDERED)
        fields: dict[str, Any] = {
            "project": project or "(default project)",
            "issue_type": inc.jira_issue_type or (settings.jira.issue_type if settings.jira else "Task"),
            "summary": jira_summary(view),
            "description": jira_description(view, alerts, settings, slack_link=slack_link),
            "labels": ["breachline", label_safe(inc.playbook_id), view.label],
            "priority": jira_priority(inc.severity, settings),
            "duedate": (inc.first_seen + settings.deadline).date().isoformat(),
            "label": view.label,
        }
        d.meta = {"seen_seq": inc.alert_count, "has_slack_link": bool(slack_link)}
    elif action == "comment":
        if inc.jira_seen_seq >= inc.alert_count:
            return _merge(d, "nothing new since the ticket's last update")
        if sink.real and not inc.jira_key:
            return _dead(d, "no ticket to comment on: the create_ticket row recorded no key")
        last = inc.jira_last_comment_at
        if last is not None and now < last + settings.comment_interval:
            d.kind, d.until = "park", last + settings.comment_interval
            return d
        alerts = load_alerts(inc.incident_id, inc.jira_seen_seq + 1, inc.alert_count,
                             limit=MAX_ALERTS_RENDERED)
        fields = {
            "key": inc.jira_key,
            "ref": f"bl-ref-{head.outbox_id}",
            "body": jira_comment(view, alerts, ref=f"bl-ref-{head.outbox_id}",
                                 reopened=bool(head.payload.get("reopened")), slack_link=slack_link),
        }
        d.meta = {"to_seq": inc.alert_count}
    elif action == "transition":
        if sink.real and not inc.jira_key:
            return _dead(d, "no ticket to transition: the create_ticket row recorded no key")
        fields = {"key": inc.jira_key, "to": head.payload.get("to", "new")}
    elif action == "update_ticket":
        if (inc.incident_id, "update_ticket") in later_updates:
            return _merge(d, "a later update carries it")
        if sink.real and not inc.jira_key:
            return _dead(d, "no ticket to update: the create_ticket row recorded no key")
        alerts = load_alerts(inc.incident_id, 1, inc.alert_count, limit=MAX_ALERTS_RENDERED)
        fields = {"key": inc.jira_key,
                  "description": jira_description(view, alerts, settings, slack_link=slack_link)}
        d.meta = {"has_slack_link": bool(slack_link)}
    else:
        return _dead(d, f"unknown action {action}")
    d.request = _request(head, fields, d.meta)
    return d


def _slack(load_alerts: AlertSource, head: Head, inc: IncidentRow, sink: Sink, sinks: SinkSet,
           later_updates: set[tuple[str, str]]) -> Decision:
    fields: dict[str, Any]
    settings = sinks.settings
    channel = inc.slack_channel_id or inc.slack_channel or (settings.slack.channel if settings.slack else None)
    d = Decision("call", head, sink=sink, dest=inc.slack_channel or (settings.slack.channel if settings.slack
                                                                      else None))
    if sink.name == "slack" and not channel:
        d.dest = f"playbook {inc.playbook_id}"
        d.kind, d.note = "hold", (f"no Slack channel for playbook {inc.playbook_id}: set notify.slack.channel in the "
                                  "playbook or [slack] channel")
        return d
    view = inc.view()
    jira_real = sinks.sinks["jira"].real
    jira_link = inc.jira_url if jira_real and inc.jira_key else None
    threaded = sink.name == "slack"  # the Web API; webhooks and the console have no thread
    action = head.action
    if action == "post_root":
        if inc.slack_ts:
            return _merge(d, "root message already recorded")
        text, blocks = slack_root(view, settings, jira_link=jira_link, jira_key=inc.jira_key if jira_link else None)
        fields = {
            "channel": channel, "text": text, "blocks": blocks,
            "metadata": {"event_type": ROOT_EVENT,
                         "event_payload": {"incident_id": inc.incident_id, "outbox_id": head.outbox_id}},
        }
        d.meta = {"has_jira_link": bool(jira_link)}
    elif action == "thread_reply":
        if threaded and not inc.slack_ts:
            return _dead(d, "no root message to reply to: the post_root row recorded no ts")
        lo, hi = int(head.payload.get("from_seq", 1)), int(head.payload.get("to_seq", inc.alert_count))
        alerts = load_alerts(inc.incident_id, lo, hi, limit=5, newest_first=False)
        text, blocks = slack_reply(view, alerts, from_seq=lo, to_seq=hi, reopened=bool(head.payload.get("reopened")))
        if not threaded:
            text = f"[{view.incident_id}] {text}"
        fields = {
            "channel": channel, "thread_ts": inc.slack_ts, "text": text, "blocks": blocks,
            "metadata": {"event_type": REPLY_EVENT,
                         "event_payload": {"incident_id": inc.incident_id, "outbox_id": head.outbox_id,
                                           "from_seq": lo, "to_seq": hi}},
        }
    elif action == "update_root":
        if (inc.incident_id, "update_root") in later_updates:
            return _merge(d, "a later update carries it")
        if threaded and not inc.slack_ts:
            return _dead(d, "no root message to update: the post_root row recorded no ts")
        text, blocks = slack_root(view, settings, jira_link=jira_link, jira_key=inc.jira_key if jira_link else None)
        fields = {"channel": channel, "ts": inc.slack_ts, "text": text, "blocks": blocks}
        d.meta = {"has_jira_link": bool(jira_link)}
    else:
        return _dead(d, f"unknown action {action}")
    d.request = _request(head, fields, d.meta)
    return d


def _request(head: Head, fields: dict[str, Any], meta: dict[str, Any]) -> Request:
    return Request(
        outbox_id=head.outbox_id,
        incident_id=head.incident_id,
        target=head.target,
        action=head.action,
        fields=fields,
        check_first=head.in_flight or head.ambiguous,
        first_attempt_at=head.created_at,
        meta=meta,
    )


def _merge(d: Decision, note: str) -> Decision:
    d.kind, d.note = "merge", note
    return d


def _dead(d: Decision, note: str) -> Decision:
    d.kind, d.note = "dead", note
    return d


def parse_payload(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value) if value else {}
    return value if isinstance(value, dict) else {}


def warm_redaction(con: duckdb.DuckDBPyConnection, sinks: SinkSet, *, max_rows: int = 20_000) -> None:
    """Redact, in one call, the strings the pending rows' messages are likely to need (the redactor's cost is
    mostly per call). Only an optimisation: a string missed here is redacted when its message is rendered."""
    rows = con.execute(
        "SELECT incident_id, action, payload::VARCHAR FROM outbox WHERE status = 'pending' ORDER BY outbox_id LIMIT ?",
        [max_rows],
    ).fetchall()
    if not rows:
        return
    incidents = load_incidents(con, sorted({r[0] for r in rows}))
    source = AlertSource(con, planning=True)
    for iid, action, payload in rows:
        inc = incidents[iid]
        if action in ("create_ticket", "update_ticket"):
            source(iid, 1, inc.alert_count, limit=MAX_ALERTS_RENDERED)
        elif action == "comment":
            source(iid, inc.jira_seen_seq + 1, inc.alert_count, limit=MAX_ALERTS_RENDERED)
        elif action == "thread_reply":
            p = parse_payload(payload)
            source(iid, int(p.get("from_seq", 1)), int(p.get("to_seq", inc.alert_count)), limit=5, newest_first=False)
    source.load()
    settings = sinks.settings
    with collecting() as texts:
        for inc in incidents.values():
            view = inc.view()
            jira_summary(view)
            slack_root(view, settings, jira_link=None, jira_key=None)
        for (iid, lo, hi, _, _), alerts in source.memo.items():
            view = incidents[iid].view()
            jira_description(view, alerts, settings, slack_link=None)
            slack_reply(view, alerts, from_seq=lo, to_seq=hi, reopened=False)
    prime(texts)
