"""assign(): alerts without an incident join or open incidents; the outbox rows are written in the same transaction.

Rules (docs/delivery.md):
- an alert joins the latest incident of its playbook and dedup key if its first event lies within
  `suppress_for` of that incident's events; an open (or folded) incident absorbs it;
- a closed incident (its ticket went Done) is reopened, or a new incident linked to it is opened, per policy;
- past `suppress_for` a new incident opens, linked to the earlier one;
- past the playbook's alert budget (new incidents in the last hour) a new incident is folded into the hour's
  digest for that playbook, and only the digest talks to Jira and Slack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from connectors.outbox.queue import NewRow, enqueue
from correlators.incidents.policy import SEVERITIES, IncidentPolicy

_DEFAULT_POLICY = IncidentPolicy()


@dataclass
class AssignSummary:
    alerts: int = 0      # alerts given an incident
    opened: int = 0      # incidents opened (including linked ones and folded ones)
    joined: int = 0      # alerts that joined an incident opened earlier (repeats)
    reopened: int = 0
    folded: int = 0      # new incidents folded into a digest (over budget)
    digests: int = 0     # digests opened
    outbox_rows: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Incident:
    incident_id: str
    kind: str
    playbook_id: str
    dedup_key: str
    title: str
    severity: str
    entity: str | None
    status: str
    first_seen: datetime
    last_seen: datetime
    alert_count: int
    event_count: int
    opened_at: datetime
    closed_at: datetime | None = None
    reopen_count: int = 0
    linked_incident_id: str | None = None
    digest_id: str | None = None
    jira_project: str | None = None
    jira_issue_type: str | None = None
    slack_channel: str | None = None
    runbook: str | None = None
    is_new: bool = False
    reopened: bool = False
    added: list[tuple[int, str]] = field(default_factory=list)  # (seq, alert_id) added in this run

    def add(self, alert: _Alert, policy: IncidentPolicy) -> None:
        self.alert_count += 1
        self.event_count += alert.event_count
        self.first_seen = min(self.first_seen, alert.first_seen)
        self.last_seen = max(self.last_seen, alert.last_seen)
        self.severity = policy.severity or _max_severity(self.severity, alert.severity)
        self.added.append((self.alert_count, alert.alert_id))


@dataclass(frozen=True)
class _Alert:
    alert_id: str
    playbook_id: str
    severity: str
    group_values: str | None
    dedup_key: str
    first_seen: datetime
    last_seen: datetime
    event_count: int
    title: str


_INCIDENT_COLUMNS = (
    "incident_id", "kind", "playbook_id", "dedup_key", "title", "severity", "entity", "status", "first_seen",
    "last_seen", "alert_count", "event_count", "opened_at", "closed_at", "reopen_count", "linked_incident_id",
    "digest_id", "jira_project", "jira_issue_type", "slack_channel", "runbook",
)


def assign(
    con: duckdb.DuckDBPyConnection,
    policies: Mapping[str, IncidentPolicy],
    now: datetime | None = None,
) -> AssignSummary:
    """Give every alert with incident_id NULL an incident, and queue what must be said about it. One transaction."""
    now = now or datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        summary = _assign(con, policies, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def _assign(con: duckdb.DuckDBPyConnection, policies: Mapping[str, IncidentPolicy], now: datetime) -> AssignSummary:
    summary = AssignSummary()
    alerts = [
        _Alert(*row)
        for row in con.execute(
            "SELECT alert_id, playbook_id, severity, group_values::VARCHAR, dedup_key, first_seen, last_seen,"
            " event_count, title FROM alerts WHERE incident_id IS NULL ORDER BY first_seen, alert_id"
        ).fetchall()
    ]
    if not alerts:
        return summary
    latest = _latest_incidents(con)
    budget_used = dict(
        con.execute(
            "SELECT playbook_id, count(*) FROM incidents WHERE kind = 'incident' AND digest_id IS NULL"
            " AND opened_at > ? GROUP BY playbook_id",
            [now - timedelta(hours=1)],
        ).fetchall()
    )
    touched: dict[str, _Incident] = {}  # insertion order = the order rows are queued
    digests: dict[str, _Incident] = {}
    assignments: list[tuple[str, str]] = []

    for alert in alerts:
        policy = policies.get(alert.playbook_id, _DEFAULT_POLICY)
        key = (alert.playbook_id, alert.dedup_key)
        current = latest.get(key)
        target: _Incident
        if current is not None and _within(alert, current, policy.suppress_for):
            if current.status == "closed" and policy.repeat_after_close == "new_linked":
                target = _open(alert, policy, now, linked=current)
            else:
                if current.status == "closed":
                    current.status, current.closed_at = "open", None
                    current.reopen_count += 1
                    current.reopened = True
                    summary.reopened += 1
                target = current
                summary.joined += 1
        else:
            target = _open(alert, policy, now, linked=current)
        if target.is_new and target.alert_count == 0:
            summary.opened += 1
            used = budget_used.get(alert.playbook_id, 0)
            if policy.alert_budget_per_hour is not None and used >= policy.alert_budget_per_hour:
                digest = _digest_for(con, digests, alert, policy, now)
                if digest.is_new and digest.alert_count == 0:
                    summary.digests += 1
                target.status, target.digest_id = "folded", digest.incident_id
                summary.folded += 1
            else:
                budget_used[alert.playbook_id] = used + 1
            latest[key] = target
        target.add(alert, policy)
        touched.setdefault(target.incident_id, target)
        if target.digest_id is not None:
            digest = digests.get(target.digest_id) or _load_incident(con, target.digest_id)
            digests[digest.incident_id] = digest
            digest.add(alert, policy)
            touched.setdefault(digest.incident_id, digest)
        assignments.append((alert.alert_id, target.incident_id))
        summary.alerts += 1

    _write(con, list(touched.values()), assignments, now)
    rows = _outbox_rows(touched.values())
    summary.outbox_rows = len(enqueue(con, rows, now))
    return summary


def _within(alert: _Alert, incident: _Incident, suppress_for: timedelta) -> bool:
    # Late data can precede the incident, so the window extends both ways around its events.
    return incident.first_seen - suppress_for <= alert.first_seen <= incident.last_seen + suppress_for


def _open(alert: _Alert, policy: IncidentPolicy, now: datetime, linked: _Incident | None) -> _Incident:
    digest = hashlib.md5(f"{alert.playbook_id}\x1f{alert.dedup_key}\x1f{alert.alert_id}".encode()).hexdigest()
    return _Incident(
        incident_id=f"inc-{digest[:16]}",
        kind="incident",
        playbook_id=alert.playbook_id,
        dedup_key=alert.dedup_key,
        title=alert.title,
        severity=policy.severity or alert.severity,
        entity=alert.group_values,
        status="open",
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        alert_count=0,
        event_count=0,
        opened_at=now,
        linked_incident_id=linked.incident_id if linked else None,
        jira_project=policy.jira_project,
        jira_issue_type=policy.jira_issue_type,
        slack_channel=policy.slack_channel,
        runbook=policy.runbook,
        is_new=True,
    )


def _digest_for(
    con: duckdb.DuckDBPyConnection,
    digests: dict[str, _Incident],
    alert: _Alert,
    policy: IncidentPolicy,
    now: datetime,
) -> _Incident:
    """The digest of this playbook for the current hour (processing time: the budget protects people)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    digest_id = "dig-" + hashlib.md5(f"{alert.playbook_id}\x1f{hour.isoformat()}".encode()).hexdigest()[:16]
    if digest_id in digests:
        return digests[digest_id]
    found = con.execute("SELECT 1 FROM incidents WHERE incident_id = ?", [digest_id]).fetchone()
    if found:
        digests[digest_id] = _load_incident(con, digest_id)
        return digests[digest_id]
    budget = policy.alert_budget_per_hour
    digest = _Incident(
        incident_id=digest_id,
        kind="digest",
        playbook_id=alert.playbook_id,
        dedup_key=f"digest:{hour.isoformat()}",
        title=f"Noisy playbook {alert.playbook_id}: over its budget of {budget} new incidents per hour",
        severity=policy.severity or alert.severity,
        entity=json.dumps({"playbook": alert.playbook_id, "hour": hour.isoformat()}),
        status="open",
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        alert_count=0,
        event_count=0,
        opened_at=now,
        jira_project=policy.jira_project,
        jira_issue_type=policy.jira_issue_type,
        slack_channel=policy.slack_channel,
        runbook=policy.runbook,
        is_new=True,
    )
    digests[digest_id] = digest
    return digest


def _latest_incidents(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], _Incident]:
    cols = ", ".join(f"i.{c}" for c in _INCIDENT_COLUMNS)
    rows = con.execute(
        f"SELECT {cols} FROM incidents i"
        " JOIN (SELECT DISTINCT playbook_id, dedup_key FROM alerts WHERE incident_id IS NULL) a"
        " USING (playbook_id, dedup_key) WHERE i.kind = 'incident'"
        " QUALIFY row_number() OVER (PARTITION BY i.playbook_id, i.dedup_key"
        "   ORDER BY i.opened_at DESC, i.last_seen DESC, i.incident_id DESC) = 1"
    ).fetchall()
    found = {}
    for row in rows:
        inc = _Incident(*row)
        inc.entity = _json_text(inc.entity)
        found[(inc.playbook_id, inc.dedup_key)] = inc
    return found


def _load_incident(con: duckdb.DuckDBPyConnection, incident_id: str) -> _Incident:
    row = con.execute(
        f"SELECT {', '.join(_INCIDENT_COLUMNS)} FROM incidents WHERE incident_id = ?", [incident_id]
    ).fetchone()
    assert row is not None, incident_id
    inc = _Incident(*row)
    inc.entity = _json_text(inc.entity)
    return inc


def _json_text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _write(
    con: duckdb.DuckDBPyConnection,
    incidents: list[_Incident],
    assignments: list[tuple[str, str]],
    now: datetime,
) -> None:
    new = [i for i in incidents if i.is_new]
    if new:
        placeholders = ", ".join(f"unnest(?::{t}[])" for t in _INSERT_TYPES)
        con.execute(
            f"INSERT INTO incidents ({', '.join(_INCIDENT_COLUMNS)}, updated_at)"
            f" SELECT {placeholders}, ?",
            [[getattr(i, c) for i in new] for c in _INCIDENT_COLUMNS] + [now],
        )
    for inc in incidents:
        if inc.is_new:
            continue
        con.execute(
            "UPDATE incidents SET status = ?, severity = ?, first_seen = ?, last_seen = ?, alert_count = ?,"
            " event_count = ?, closed_at = ?, reopen_count = ?, updated_at = ? WHERE incident_id = ?",
            [inc.status, inc.severity, inc.first_seen, inc.last_seen, inc.alert_count, inc.event_count,
             inc.closed_at, inc.reopen_count, now, inc.incident_id],
        )
    members = [(inc.incident_id, seq, alert_id) for inc in incidents for seq, alert_id in inc.added]
    con.execute(
        "INSERT INTO incident_alerts (incident_id, seq, alert_id, joined_at)"
        " SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), ?",
        [[m[0] for m in members], [m[1] for m in members], [m[2] for m in members], now],
    )
    con.execute(
        "UPDATE alerts SET incident_id = m.incident_id"
        " FROM (SELECT unnest(?::VARCHAR[]) AS alert_id, unnest(?::VARCHAR[]) AS incident_id) m"
        " WHERE alerts.alert_id = m.alert_id",
        [[a for a, _ in assignments], [i for _, i in assignments]],
    )


_INSERT_TYPES = (
    "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "JSON", "VARCHAR", "TIMESTAMPTZ",
    "TIMESTAMPTZ", "BIGINT", "BIGINT", "TIMESTAMPTZ", "TIMESTAMPTZ", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR",
    "VARCHAR", "VARCHAR", "VARCHAR",
)


def _outbox_rows(incidents: Any) -> list[NewRow]:
    """What to say, per incident, in order. Content is rendered at delivery time from the incident's state, so
    these rows only say *what* changed (which alerts are new), never a stale copy of the counts."""
    rows: list[NewRow] = []
    for inc in incidents:
        if inc.status == "folded" or not inc.added:
            continue  # a folded incident speaks through its digest
        iid = inc.incident_id
        first_new, last_new = inc.added[0][0], inc.added[-1][0]
        if inc.is_new:
            rows.append(NewRow(iid, "slack", "post_root"))
            rows.append(NewRow(iid, "jira", "create_ticket"))
            if last_new > 1:  # every repeat is announced in the thread, also those that came with the first
                rows.append(NewRow(iid, "slack", "thread_reply", {"from_seq": 2, "to_seq": last_new}))
            continue
        if inc.reopened:
            rows.append(NewRow(iid, "jira", "transition", {"to": "new", "reason": "reopened"}))
        rows.append(
            NewRow(iid, "slack", "thread_reply",
                   {"from_seq": first_new, "to_seq": last_new, "reopened": inc.reopened})
        )
        rows.append(NewRow(iid, "slack", "update_root"))
        rows.append(NewRow(iid, "jira", "comment", {"to_seq": last_new, "reopened": inc.reopened}))
    return rows


def _max_severity(a: str, b: str) -> str:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return a if rank.get(a, -1) >= rank.get(b, -1) else b
