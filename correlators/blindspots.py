"""Blind spots: a source that has delivered nothing for longer than its `max_silence` raises an alert of the
built-in playbook `source-silent`, which becomes an incident like any other (a silent WAF feed means attacks go
unseen). One alert per silence: its id is derived from when the silence began, so later runs find it again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from breachline.config import SourceConfig

PLAYBOOK_ID = "source-silent"
RUNBOOK = "docs/runbooks/source-silent.md"


@dataclass(frozen=True)
class Silence:
    source: str
    silent_since: dt.datetime
    max_silence_seconds: float

    @property
    def alert_id(self) -> str:
        import hashlib

        key = f"{PLAYBOOK_ID}|1|{self.source}|{self.silent_since.isoformat()}"
        return hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()


def find_silent_sources(
    con: duckdb.DuckDBPyConnection, sources: Iterable[SourceConfig], now: dt.datetime
) -> list[Silence]:
    """Sources with a max_silence whose last delivery (or first run, if none ever came) is older than it."""
    silent = []
    for src in sources:
        if src.max_silence_seconds is None:
            continue
        row = con.execute(
            "SELECT coalesce(last_data_at, first_run_at) FROM source_watermarks WHERE source = ?", [src.name]
        ).fetchall()
        since = row[0][0] if row else None
        if since is not None and (now - since).total_seconds() > src.max_silence_seconds:
            silent.append(Silence(src.name, since, src.max_silence_seconds))
    return silent


def raise_silence_alerts(con: duckdb.DuckDBPyConnection, silences: Iterable[Silence], now: dt.datetime) -> int:
    """Write one alert per silence (idempotent); returns how many were new."""
    new = 0
    for s in silences:
        silent_for = now - s.silent_since
        title = (f"No events from source {s.source} for {_human(silent_for.total_seconds())} "
                 f"(max_silence {_human(s.max_silence_seconds)}): blind spot")
        inserted = con.execute(
            """
            INSERT INTO alerts (alert_id, playbook_id, playbook_version, severity, group_values, dedup_key,
                                first_seen, last_seen, window_start, event_count, metrics, event_ids, samples,
                                title, created_at)
            SELECT $id, $pb, 1, 'high', $group, md5($source), $since, $now, $since, 0, $metrics, [], '[]', $title, $now
            WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE alert_id = $id)
            """,
            {"id": s.alert_id, "pb": PLAYBOOK_ID, "group": json.dumps({"source": s.source}), "source": s.source,
             "since": s.silent_since, "now": now, "title": title,
             "metrics": json.dumps({"silent_for_seconds": round(silent_for.total_seconds()),
                                    "max_silence_seconds": s.max_silence_seconds})},
        ).fetchall()
        new += int(inserted[0][0])
    return new


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0", "")
    return f"{seconds:.0f}s"
