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
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM incidents WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    ).fetchall()
    linked = sorted({r[_COLUMNS.index("linked_incident_id")] for r in rows} - {None})
    keys = dict(con.execute(
        "SELECT incident_id, jira_key FROM incidents WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))", [linked]
    ).fetchall()) if linked else {}
    digests = sorted(r[0] for r in rows if r[1] == "digest")
    folded = dict(con.execute(
        "SELECT digest_id, count(*) FROM incidents WHERE digest_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY digest_id",
        [digests],
    ).fetchall()) if digests else {}
    link_at = _COLUMNS.index("linked_incident_id")
    return {r[0]: IncidentRow(**dict(zip(_COLUMNS, r, strict=True)), linked_jira_key=keys.get(r[link_at]),
                              folded_incidents=folded.get(r[0], 0)) for r in rows}


def load_alerts(
    con: duckdb.DuckDBPyConnection, requests: list[tuple[str, int, int, int, bool]]
) -> dict[tuple[str, int, int, int, bool], list[AlertView]]:
    """Answer many (incident, from seq, to seq, limit, newest first) requests with one query. `to seq` must not
    exceed the incident's alert count (callers pass it), so that "newest" counts from the real last alert."""
    out: dict[tuple[str, int, int, int, bool], list[AlertView]] = {r: [] for r in requests}
    if not requests:
        return out
    # Seqs of an incident are 1..n without gaps, so "the newest `limit` in [lo, hi]" is itself a seq range.
    ranges = []
    for incident_id, lo, hi, limit, newest in requests:
        ranges.append((incident_id, max(lo, hi - limit + 1), hi) if newest else (incident_id, lo, min(hi, lo + limit - 1)))
    rows = con.execute(
        "WITH req AS (SELECT unnest(?::INTEGER[]) AS rid, unnest(?::VARCHAR[]) AS incident_id,"
        "   unnest(?::BIGINT[]) AS lo, unnest(?::BIGINT[]) AS hi)"
        " SELECT r.rid, ia.seq, a.alert_id, a.title, a.severity, a.first_seen, a.last_seen, a.event_count,"
        "   a.group_values::VARCHAR, a.metrics::VARCHAR, a.samples::VARCHAR"
        " FROM req r JOIN incident_alerts ia ON ia.incident_id = r.incident_id AND ia.seq BETWEEN r.lo AND r.hi"
        " JOIN alerts a ON a.alert_id = ia.alert_id",
        [list(range(len(ranges))), [r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges]],
    ).fetchall()
    rows.sort(key=lambda row: (row[0], -row[1] if requests[row[0]][4] else row[1]))
    for rid, seq, alert_id, title, severity, first, last, events, groups, metrics, samples in rows:
        key = (groups, metrics, samples)
        parsed = _PARSED.get(key)
        if parsed is None:  # the same alerts are rendered again and again: parse each JSON text once
            raw_samples = _json(samples)
            if isinstance(raw_samples, dict):
                raw_samples = [raw_samples]
            parsed = (_mapping(_json(groups)), _mapping(_json(metrics)),
                      tuple(x for x in (raw_samples or []) if isinstance(x, dict)))
            if len(_PARSED) > 100_000:
                _PARSED.clear()
            _PARSED[key] = parsed
        out[requests[rid]].append(AlertView(
            seq=seq, alert_id=alert_id, title=title, severity=severity, first_seen=first, last_seen=last,
            event_count=events, group_values=parsed[0], metrics=parsed[1], samples=parsed[2],
        ))
    return out


_PARSED: dict[tuple[Any, Any, Any], tuple[dict[str, Any], dict[str, Any], tuple[dict[str, Any], ...]]] = {}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else ({} if value is None else {"value": value})
