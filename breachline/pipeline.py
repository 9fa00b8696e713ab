"""The three steps of the main job as plain functions: ingest → correlate → notify.

The Prefect flows (flows/) and the demo call these; nothing here imports Prefect. Each step opens the store
for itself, so a step's connection settings (correlate runs with external access disabled) never leak into the
next step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from breachline.config import Config
from breachline.store import harden, open_store

if TYPE_CHECKING:
    from connectors.outbox.notify import NotifySummary
    from connectors.sources.loader import IngestStats, ProgressFn
    from correlators.correlation.runner import PlaybookRun
    from correlators.incidents import IncidentPolicy
    from correlators.playbooks import Playbook


def load_configured_playbooks(config: Config) -> list[Playbook]:
    from correlators.playbooks import configured_playbook_dirs, load_playbooks

    dirs = [d for d in configured_playbook_dirs(config.playbook_dirs, config.use_shipped_playbooks) if d.is_dir()]
    return load_playbooks(dirs)


def incident_policies(playbooks: list[Playbook]) -> Mapping[str, IncidentPolicy]:
    return {pb.id: pb.incident_policy() for pb in playbooks}


def ingest_step(config: Config, *, progress: ProgressFn | None = None) -> list[IngestStats]:
    from connectors.sources.ingest import ingest_all
    from connectors.sources.loader import LoadOptions

    with open_store(config.db_path) as con:
        return ingest_all(con, config.sources, options=LoadOptions(mask_pii=config.mask_pii), progress=progress)


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


@dataclass
class PipelineSummary:
    started_at: dt.datetime
    ingest: list[dict[str, Any]] = field(default_factory=list)
    correlate: list[dict[str, Any]] = field(default_factory=list)
    notify: dict[str, Any] = field(default_factory=dict)


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
