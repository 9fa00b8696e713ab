"""Helpers shared by the delivery tests and the benchmark: test alerts, settings pointing at the emulators."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from connectors.sinks import DeliverySettings

JIRA_ENV = {"BREACHLINE_JIRA_TOKEN": "jira-test-token", "BREACHLINE_SLACK_TOKEN": "xoxb-test-token"}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def add_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    *,
    playbook: str = "admin-export",
    user: str = "alice",
    at: datetime = T0,
    severity: str = "high",
    title: str | None = None,
    samples: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    group_values: dict[str, Any] | None = None,
    events: int = 3,
) -> None:
    """One row in the correlation engine's `alerts` table, as that engine would write it."""
    groups = group_values if group_values is not None else {"actor.user": user}
    con.execute(
        "INSERT INTO alerts (alert_id, playbook_id, playbook_version, severity, group_values, dedup_key, first_seen,"
        " last_seen, window_start, event_count, metrics, event_ids, samples, title, created_at)"
        " VALUES (?, ?, 1, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
        [alert_id, playbook, severity, json.dumps(groups), f"{playbook}:{user}", at, at, events,
         json.dumps(metrics or {"rows": 1200}), [f"{alert_id}-e{i}" for i in range(events)],
         json.dumps(samples if samples is not None else
                    [{"time": at.isoformat(), "action": "export", "actor": {"user": user}}]),
         title or f"Bulk customer export by {user}", at],
    )


def add_alerts(con: duckdb.DuckDBPyConnection, alerts: list[dict[str, Any]]) -> None:
    """Many alerts in one statement (add_alert's keyword arguments, each dict with at least alert_id)."""
    rows = []
    for a in alerts:
        user, at, events, playbook = a.get("user", "alice"), a.get("at", T0), a.get("events", 3), a.get("playbook",
                                                                                                         "admin-export")
        rows.append((
            a["alert_id"], playbook, a.get("severity", "high"),
            json.dumps(a.get("group_values") or {"actor.user": user}), f"{playbook}:{user}", at, at, events,
            json.dumps(a.get("metrics") or {"rows": 1200}), [f"{a['alert_id']}-e{i}" for i in range(events)],
            json.dumps(a.get("samples") or [{"time": at.isoformat(), "action": "export", "actor": {"user": user}}]),
            a.get("title") or f"Bulk customer export by {user}", at,
        ))
    cols = list(zip(*rows, strict=True))
    types = ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "TIMESTAMPTZ", "BIGINT",
             "VARCHAR", "VARCHAR[]", "VARCHAR", "VARCHAR", "TIMESTAMPTZ"]
    con.execute(
        "INSERT INTO alerts (alert_id, playbook_id, severity, group_values, dedup_key, first_seen, last_seen,"
        " event_count, metrics, event_ids, samples, title, created_at, playbook_version)"
        f" SELECT {', '.join(f'unnest(?::{t}[])' for t in types)}, 1",
        [list(c) for c in cols],
    )


def settings_for(jira_url: str | None, slack_url: str | None, *, timeout: str = "2s", **delivery: Any
                 ) -> DeliverySettings:
    """Settings against the emulators, with test-sized timeouts and backoff."""
    tables: dict[str, Any] = {"delivery": {"backoff": "10ms", "max_backoff": "200ms", "linger": "0s",
                                           "comment_interval": "0s", **delivery}}
    if jira_url:
        tables["jira"] = {"url": jira_url, "user": "breachline@example.com", "project": "SEC", "timeout": timeout}
    if slack_url:
        tables["slack"] = {"base_url": slack_url + "/api/", "channel": "#sec-alerts", "timeout": timeout,
                           "client_retries": 1}
    return DeliverySettings.from_mapping(tables)
