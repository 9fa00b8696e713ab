"""The `pipeline` flow: ingest → correlate → notify as subflows. The deployment runs it every 5 minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from breachline.config import load_config
from breachline.pipeline import finish_run, retention_step, start_run
from flows.correlate import correlate_flow
from flows.ingest import ingest_flow
from flows.notify import notify_flow


@flow(name="pipeline")
def pipeline_flow(
    config_path: str | None = None, db: str | None = None, console_path: str | None = None
) -> dict[str, Any]:
    config = load_config(config_path, db=db)
    run_id = str(flow_run.get_id() or dt.datetime.now(dt.UTC).isoformat())
    gap = start_run(config, run_id, expected_interval=dt.timedelta(minutes=5))
    if gap is not None:
        get_run_logger().warning("previous pipeline run started %.0f minutes ago (schedule: every 5 minutes): "
                                 "catching up on everything since then", gap / 60)
    summary: dict[str, Any] = {}
    try:
        summary["ingest"] = ingest_flow(config_path, db)
        summary["correlate"] = correlate_flow(config_path, db)
        summary["notify"] = notify_flow(config_path, db, console_path)
        summary["retention"] = retention_step(config)
    except BaseException:
        finish_run(config, run_id, "failed", summary)
        raise
    finish_run(config, run_id, "completed", summary)
    return summary
