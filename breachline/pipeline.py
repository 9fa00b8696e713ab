"""The three steps of the main job as plain functions: ingest → correlate → notify.

The Prefect flows (flows/) and the demo call these; nothing here imports Prefect. Each step opens the store
for itself, so a step's connection settings (correlate runs with external access disabled) never leak into the
next step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from breachline.config import Config, SourceConfig
from breachline.store import harden, open_store

if TYPE_CHECKING:
    from connectors.outbox.notify import NotifySummary
    from connectors.sources.loader import IngestStats, ProgressFn
    from correlators.blindspots import Silence
    from correlators.correlation.runner import PlaybookRun
    from correlators.incidents import IncidentPolicy
    from correlators.playbooks import Playbook


def load_configured_playbooks(config: Config) -> list[Playbook]:
    from correlators.playbooks import configured_playbook_dirs, load_playbooks

    dirs = [d for d in configured_playbook_dirs(config.playbook_dirs, config.use_shipped_playbooks) if d.is_dir()]
    return load_playbooks(dirs)


def incident_policies(playbooks: list[Playbook]) -> Mapping[str, IncidentPolicy]:
    """Each playbook's policy, plus the built-in blind-spot one (`source-silent`)."""
    from correlators import blindspots
    from correlators.incidents import IncidentPolicy

    policies = {blindspots.PLAYBOOK_ID: IncidentPolicy(severity="high", runbook=blindspots.RUNBOOK)}
    policies.update({pb.id: pb.incident_policy() for pb in playbooks})
    return policies


@dataclass
class IngestResult:
    stats: list[IngestStats]
    silent: list[Silence]  # sources past their max_silence (each raised a `source-silent` alert)


def ingest_step(
    config: Config, *, sources: Sequence[SourceConfig] | None = None, progress: ProgressFn | None = None
) -> IngestResult:
    """Read the sources, then check every configured source for silence (blind spots)."""
    from connectors.sources.ingest import ingest_all
    from connectors.sources.loader import LoadOptions
    from correlators.blindspots import find_silent_sources, raise_silence_alerts

    chosen = config.sources if sources is None else sources
    with open_store(config.db_path) as con:
        stats = ingest_all(con, chosen, options=LoadOptions(mask_pii=config.mask_pii), progress=progress)
        now = dt.datetime.now(dt.UTC)
        silent = find_silent_sources(con, chosen, now)
        raise_silence_alerts(con, silent, now)
    return IngestResult(stats, silent)


def retention_step(config: Config) -> dict[str, int]:
    from breachline.retention import apply_retention

    with open_store(config.db_path) as con:
        return apply_retention(con, config.retention_days, dt.datetime.now(dt.UTC))


def correlate_step(config: Config, playbooks: list[Playbook] | None = None) -> list[PlaybookRun]:
    from correlators.correlation import correlate

    with open_store(config.db_path) as con:
        harden(con)
        return correlate(con, playbooks if playbooks is not None else load_configured_playbooks(config))


def notify_step(
    config: Config, playbooks: list[Playbook] | None = None, *, console: TextIO | None = None
) -> NotifySummary:
    from connectors.outbox import notify
    from connectors.sinks import DeliverySettings, build_sinks

    sinks = build_sinks(DeliverySettings.from_config(config), console=console)
    # The console sink writes to `console`; the caller owns (and closes) it.
    pbs = playbooks if playbooks is not None else load_configured_playbooks(config)
    try:
        with open_store(config.db_path) as con:
            return notify(con, incident_policies(pbs), sinks)
    finally:
        sinks.close()


def start_run(config: Config, run_id: str, expected_interval: dt.timedelta) -> float | None:
    """Record a pipeline run; returns the gap in seconds since the previous run started, if it was longer than
    twice the expected interval (missed or failed scheduled runs). Nothing needs replaying after a gap: ingest
    reads every file not yet read and correlate continues from its own watermark; the gap is recorded."""
    now = dt.datetime.now(dt.UTC)
    with open_store(config.db_path) as con:
        prev = con.execute("SELECT max(started_at) FROM pipeline_runs").fetchall()[0][0]
        gap = (now - prev).total_seconds() if prev is not None else None
        late = gap if gap is not None and gap > 2 * expected_interval.total_seconds() else None
        con.execute("INSERT INTO pipeline_runs VALUES (?, ?, NULL, 'running', ?, NULL)", [run_id, now, late])
    return late


def finish_run(config: Config, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
    import json

    with open_store(config.db_path) as con:
        con.execute(
            "UPDATE pipeline_runs SET finished_at = now(), status = ?, summary = ? WHERE run_id = ?",
            [status, json.dumps(summary, default=str), run_id],
        )


def incidents_opened_since(config: Config, since: dt.datetime) -> list[dict[str, Any]]:
    """Incidents opened at or after `since` (processing time), for run reports and events."""
    with open_store(config.db_path) as con:
        cur = con.execute(
            "SELECT incident_id, kind, playbook_id, severity, title, CAST(entity AS VARCHAR) AS entity,"
            " first_seen FROM incidents WHERE opened_at >= ? ORDER BY opened_at, incident_id",
            [since],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
