"""The `pipeline` flow: ingest → correlate → notify as subflows. The deployment runs it every 5 minutes."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.correlate import correlate_flow
from flows.ingest import ingest_flow
from flows.notify import notify_flow


@flow(name="pipeline")
def pipeline_flow(
    config_path: str | None = None, db: str | None = None, console_path: str | None = None
) -> dict[str, Any]:
    ingested = ingest_flow(config_path, db)
    correlated = correlate_flow(config_path, db)
    notified = notify_flow(config_path, db, console_path)
    return {"ingest": ingested, "correlate": correlated, "notify": notified}
