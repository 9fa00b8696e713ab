"""Reading an incident and its alerts from the store into the renderer's views."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from connectors.sinks.render import AlertView, IncidentView

_COLUMNS = (
    "incident_id", "kind", "playbook_id", "title", "severity", "entity", "status", "first_seen", "last_seen",
    "alert_count", "event_count", "reopen_count", "runbook", "jira_key", "jira_url", "slack_permalink",
    "linked_incident_id", "jira_project", "jira_issue_type", "slack_channel", "jira_linked_slack", "jira_seen_seq",
    "jira_last_comment_at", "slack_channel_id", "slack_ts", "slack_linked_jira", "jira_status", "closed_at",
)


@dataclass(frozen=True)
class IncidentRow:
    incident_id: str
    kind: str
    playbook_id: str
    title: str
    severity: str
    entity: Any
    status: str
    first_seen: datetime
    last_seen: datetime
    alert_count: int
    event_count: int
    reopen_count: int
    runbook: str | None
    jira_key: str | None
    jira_url: str | None
    slack_permalink: str | None
    linked_incident_id: str | None
    jira_project: str | None
    jira_issue_type: str | None
    slack_channel: str | None
    jira_linked_slack: bool
    jira_seen_seq: int
    jira_last_comment_at: datetime | None
    slack_channel_id: str | None
    slack_ts: str | None
    slack_linked_jira: bool
    jira_status: str | None
    closed_at: datetime | None
    linked_jira_key: str | None
    folded_incidents: int

    def view(self) -> IncidentView:
        return IncidentView(
            incident_id=self.incident_id,
            kind=self.kind,
            playbook_id=self.playbook_id,
            title=self.title,
            severity=self.severity,
            entity=_json(self.entity) or {},
            status=self.status,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            alert_count=self.alert_count,
            event_count=self.event_count,
            reopen_count=self.reopen_count,
            runbook=self.runbook,
            jira_key=self.jira_key,
            jira_url=self.jira_url,
            slack_permalink=self.slack_permalink,
            linked_jira_key=self.linked_jira_key,
            linked_incident_id=self.linked_incident_id,
            folded_incidents=self.folded_incidents,
        )


def load_incidents(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, IncidentRow]:
    if not ids:
        return {}
    cols = ", ".join(f"i.{c}" for c in _COLUMNS)
    rows = con.execute(
        f"SELECT {cols}, l.jira_key,"
        " (SELECT count(*) FROM incidents f WHERE f.digest_id = i.incident_id)"
        " FROM incidents i LEFT JOIN incidents l ON l.incident_id = i.linked_incident_id"
        " WHERE i.incident_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    ).fetchall()
    return {r[0]: IncidentRow(*r) for r in rows}


def load_alerts(
    con: duckdb.DuckDBPyConnection,
    incident_id: str,
    from_seq: int,
    to_seq: int,
    *,
    limit: int,
    newest_first: bool = True,
) -> list[AlertView]:
    order = "DESC" if newest_first else "ASC"
    rows = con.execute(
        "SELECT ia.seq, a.alert_id, a.title, a.severity, a.first_seen, a.last_seen, a.event_count,"
        " a.group_values::VARCHAR, a.metrics::VARCHAR, a.samples::VARCHAR"
        " FROM incident_alerts ia JOIN alerts a ON a.alert_id = ia.alert_id"
        f" WHERE ia.incident_id = ? AND ia.seq BETWEEN ? AND ? ORDER BY ia.seq {order} LIMIT ?",
        [incident_id, from_seq, to_seq, limit],
    ).fetchall()
    out = []
    for seq, alert_id, title, severity, first, last, events, groups, metrics, samples in rows:
        raw_samples = _json(samples)
        if isinstance(raw_samples, dict):
            raw_samples = [raw_samples]
        out.append(AlertView(
            seq=seq, alert_id=alert_id, title=title, severity=severity, first_seen=first, last_seen=last,
            event_count=events,
            group_values=_mapping(_json(groups)),
            metrics=_mapping(_json(metrics)),
            samples=[s for s in (raw_samples or []) if isinstance(s, dict)],
        ))
    return out


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else ({} if value is None else {"value": value})
