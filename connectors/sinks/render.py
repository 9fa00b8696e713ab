"""What a ticket, a comment and a Slack message say. One renderer for every sink, so the console prints the same.

Every data-derived string (titles, entity values, evidence cells, metrics) passes `redact`; identifiers we
generate (keys, ts, links, dates, counts) do not, because a redactor may mistake a long ts for a number to mask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sinks.redact import redact
from connectors.sinks.settings import DEFAULT_PRIORITIES, DeliverySettings

SEVERITY_ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
                 "low": ":large_blue_circle:"}
MAX_EVIDENCE_ROWS = 10
# Preferred evidence columns (flattened event keys), in display order.
_EVIDENCE_COLUMNS = ("time", "action", "outcome", "actor.user", "actor.role", "src.ip", "src.country",
                     "resource.type", "resource.id", "resource.record_count", "http.method", "http.path",
                     "http.status", "dst.host", "message")
_MAX_COLUMNS = 7


@dataclass(frozen=True)
class AlertView:
    seq: int
    alert_id: str
    title: str
    severity: str
    first_seen: datetime
    last_seen: datetime
    event_count: int
    group_values: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    samples: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    kind: str
    playbook_id: str
    title: str
    severity: str
    entity: Mapping[str, Any]
    status: str
    first_seen: datetime
    last_seen: datetime
    alert_count: int
    event_count: int
    reopen_count: int = 0
    runbook: str | None = None
    jira_key: str | None = None
    jira_url: str | None = None
    slack_permalink: str | None = None
    linked_jira_key: str | None = None   # the earlier incident's ticket
    linked_incident_id: str | None = None
    folded_incidents: int = 0            # digests: how many incidents they report

    @property
    def label(self) -> str:
        return "bl-" + self.incident_id.split("-", 1)[1]


# --- helpers -------------------------------------------------------------------------------------------------

def fmt_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def entity_text(entity: Mapping[str, Any]) -> str:
    if not entity:
        return "-"
    return ", ".join(redact(f"{k} = {_scalar(v)}") for k, v in entity.items())


def _scalar(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k == "raw":
            continue  # the original record: too big for a ticket, and evidence lives in the store
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif v is not None and v != [] and v != "":
            out[key] = v
    return out


def evidence_table(alerts: Sequence[AlertView]) -> tuple[list[str], list[list[str]]]:
    """Columns and redacted cells for up to MAX_EVIDENCE_ROWS sample events of the alerts (newest alerts first)."""
    rows = [flatten(s) for a in sorted(alerts, key=lambda a: -a.seq) for s in a.samples][:MAX_EVIDENCE_ROWS]
    present = {k for r in rows for k in r}
    columns = [c for c in _EVIDENCE_COLUMNS if c in present][:_MAX_COLUMNS]
    if not columns:  # unknown sample shape: show whatever keys the samples have
        columns = sorted(present)[:_MAX_COLUMNS]
    cells = [[redact(_scalar(r[c]))[:200] if c in r else "" for c in columns] for r in rows]
    return columns, cells


def pairs(values: Mapping[str, Any]) -> str:
    """key=value, … with each pair redacted on its own: the key gives the redactor its context (password=…),
    and a greedy match (a PEM block runs to the end of its text) cannot swallow the next pair."""
    return ", ".join(redact(f"{k}={_scalar(v)}") for k, v in values.items())


def alert_line(a: AlertView) -> str:
    parts = [f"#{a.seq}", fmt_time(a.first_seen), f"{a.event_count} events"]
    if a.group_values:
        parts.append(pairs(a.group_values))
    if a.metrics:
        parts.append(pairs(a.metrics))
    return " · ".join(parts)


def runbook_link(view: IncidentView, settings: DeliverySettings) -> str | None:
    if not view.runbook:
        return None
    if re.match(r"^https?://", view.runbook) or not settings.runbook_base_url:
        return view.runbook
    return settings.runbook_base_url.rstrip("/") + "/" + view.runbook.lstrip("/")


def label_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:255] or "unnamed"


# --- Jira (wiki markup, REST v2) -------------------------------------------------------------------------------

_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_^+?~#!-])")


def wiki(text: str) -> str:
    """Escape wiki markup and keep a cell on one line (a pipe or newline in data must not break the table)."""
    return _WIKI_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def jira_priority(severity: str, settings: DeliverySettings) -> str:
    mapping = settings.jira.priorities if settings.jira else DEFAULT_PRIORITIES
    return mapping.get(severity, "Medium")


def jira_summary(view: IncidentView) -> str:
    prefix = "[breachline digest] " if view.kind == "digest" else "[breachline] "
    return (prefix + redact(view.title).replace("\n", " "))[:255]


def jira_description(view: IncidentView, alerts: Sequence[AlertView], settings: DeliverySettings,
                     *, slack_link: str | None) -> str:
    due = view.first_seen + settings.deadline
    lines = [
        f"h2. {wiki(redact(view.title))}",
        f"*Severity:* {view.severity}   *Playbook:* {wiki(redact(view.playbook_id))}   *Status:* {view.status}",
        f"*Entity:* {wiki(entity_text(view.entity))}",
        f"*First seen:* {fmt_time(view.first_seen)}   *Last seen:* {fmt_time(view.last_seen)}",
        f"*Alerts:* {view.alert_count}   *Events:* {view.event_count}",
        f"*Notification deadline:* {fmt_time(due)} (first seen + {_hours(settings.deadline.total_seconds())})",
    ]
    if view.kind == "digest":
        lines.append(f"*Folded incidents:* {view.folded_incidents} (over the playbook's alert budget)")
    if view.linked_incident_id:
        ref = view.linked_jira_key or view.linked_incident_id
        lines.append(f"*Follows:* {ref} (an earlier incident for the same entity)")
    lines += ["", "h3. Alerts", "||#||First seen||Last seen||Events||Details||"]
    for a in sorted(alerts, key=lambda a: -a.seq)[:MAX_EVIDENCE_ROWS]:
        details = pairs({**a.group_values, **a.metrics})
        lines.append(f"|{a.seq}|{fmt_time(a.first_seen)}|{fmt_time(a.last_seen)}|{a.event_count}|"
                     f"{wiki(details) or ' '}|")
    if view.alert_count > MAX_EVIDENCE_ROWS:
        lines.append(f"_{view.alert_count - min(len(alerts), MAX_EVIDENCE_ROWS)} earlier alerts not shown._")
    columns, cells = evidence_table(alerts)
    if cells:
        lines += ["", "h3. Evidence (sample events, masked)", "||" + "||".join(wiki(c) for c in columns) + "||"]
        lines += ["|" + "|".join(wiki(c) or " " for c in row) + "|" for row in cells]
    lines += ["", "h3. Links"]
    runbook = runbook_link(view, settings)
    lines.append(f"* Runbook: [{wiki(redact(view.runbook or ''))}|{runbook}]" if runbook else "* Runbook: none")
    lines.append(f"* Slack thread: [Slack thread|{slack_link}]" if slack_link else "* Slack thread: not posted yet")
    lines += ["", "----", f"_breachline incident {view.incident_id}; repeats are added as comments._"]
    return "\n".join(lines)[:32000]


def jira_comment(view: IncidentView, new_alerts: Sequence[AlertView], *, ref: str, reopened: bool,
                 slack_link: str | None) -> str:
    seqs = [a.seq for a in new_alerts]
    first, last = (min(seqs), max(seqs)) if seqs else (0, 0)
    lines = []
    if reopened:
        lines.append("*Reopened by breachline:* the playbook fired again after this ticket was closed.")
    lines.append(
        f"*{len(new_alerts)} new alert(s)* (#{first}-#{last}) since the last update; "
        f"now {view.alert_count} alerts, {view.event_count} events; last seen {fmt_time(view.last_seen)}."
    )
    lines += ["||#||First seen||Events||Details||"]
    for a in sorted(new_alerts, key=lambda a: -a.seq)[:MAX_EVIDENCE_ROWS]:
        details = pairs({**a.group_values, **a.metrics})
        lines.append(f"|{a.seq}|{fmt_time(a.first_seen)}|{a.event_count}|{wiki(details) or ' '}|")
    columns, cells = evidence_table(new_alerts)
    if cells:
        lines += ["||" + "||".join(wiki(c) for c in columns) + "||"]
        lines += ["|" + "|".join(wiki(c) or " " for c in row) + "|" for row in cells]
    if slack_link:
        lines.append(f"[Slack thread|{slack_link}]")
    # The ref lets a retry find this comment if the first attempt's answer was lost.
    lines += ["----", f"_breachline incident {view.incident_id} · ref {ref}_"]
    return "\n".join(lines)[:32000]


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


# --- Slack (Block Kit, mrkdwn) ----------------------------------------------------------------------------------

def mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def slack_root(view: IncidentView, settings: DeliverySettings, *, jira_link: str | None,
               jira_key: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The incident's root message: (fallback text, blocks)."""
    title = redact(view.title)
    entity = entity_text(view.entity)
    status = view.status.upper() + (f" (reopened {view.reopen_count}x)" if view.reopen_count else "")
    jira = f"<{jira_link}|{jira_key}>" if jira_link and jira_key else "not created yet"
    icon = SEVERITY_ICON.get(view.severity, "")
    text = (f"{icon} [{view.severity.upper()}] {mrkdwn(title)} | {mrkdwn(entity)} | {view.alert_count} alerts, "
            f"{view.event_count} events | {status} | Jira: {jira_key or 'pending'}")
    header = ("Digest: " if view.kind == "digest" else "") + title
    fields = [
        f"*Severity*\n{icon} {view.severity}",
        f"*Status*\n{status}",
        f"*Entity*\n{mrkdwn(_cut(entity, 1500))}",
        f"*Alerts / events*\n{view.alert_count} / {view.event_count}",
        f"*First seen*\n{fmt_time(view.first_seen)}",
        f"*Last seen*\n{fmt_time(view.last_seen)}",
        f"*Jira*\n{jira}",
        f"*Deadline*\n{fmt_time(view.first_seen + settings.deadline)}",
    ]
    if view.kind == "digest":
        fields.append(f"*Folded incidents*\n{view.folded_incidents}")
    context = [f"playbook `{mrkdwn(redact(view.playbook_id))}`", f"incident `{view.incident_id}`"]
    runbook = runbook_link(view, settings)
    if runbook:
        context.append(f"<{runbook}|runbook>")
    if view.linked_incident_id:
        context.append(f"follows {view.linked_jira_key or view.linked_incident_id}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(header, 150), "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, 2000)} for f in fields]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(c, 300)} for c in context]},
    ]
    return _cut(text, 3000), blocks


def slack_reply(view: IncidentView, new_alerts: Sequence[AlertView], *, from_seq: int, to_seq: int,
                reopened: bool) -> tuple[str, list[dict[str, Any]]]:
    n = to_seq - from_seq + 1
    head = ("Reopened: " if reopened else "") + (
        f"{n} new alert(s) #{from_seq}-#{to_seq}; now {view.alert_count} alerts, {view.event_count} events, "
        f"last seen {fmt_time(view.last_seen)}"
    )
    lines = [alert_line(a) for a in sorted(new_alerts, key=lambda a: a.seq)[:5]]
    if n > len(lines):
        lines.append(f"… and {n - len(lines)} more")
    body = "\n".join(f"• {mrkdwn(line)}" for line in lines)
    text = _cut(head + ("\n" + "\n".join(mrkdwn(line) for line in lines) if lines else ""), 3000)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(mrkdwn(head), 3000)}}]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, 3000)}})
    return text, blocks


def compact(text: str) -> str:
    """A plain fallback for a message the service refused as too long."""
    return _cut(text, 1500)


def iter_strings(obj: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (for tests and the console)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from iter_strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from iter_strings(v)
