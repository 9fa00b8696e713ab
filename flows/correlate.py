"""The `correlate` flow: run the playbooks over what arrived since the last run."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from breachline.config import load_config
from breachline.pipeline import correlate_step
from flows.reporting import publish_table


# No retries: correlation is idempotent anyway (alert ids are deterministic), but a failure here is a bug or a
# bad playbook, and retrying would only hide it.
@flow(name="correlate")
def correlate_flow(config_path: str | None = None, db: str | None = None) -> list[dict[str, Any]]:
    config = load_config(config_path, db=db)
    runs = correlate_step(config)
    rows = [r.summary() for r in runs]
    logger = get_run_logger()
    for r in runs:
        if r.alerts or r.suppressed:
            logger.info("%s: %d alert(s), %d suppressed by exceptions", r.playbook, r.alerts, r.suppressed)
    publish_table("correlate-summary", "Correlate: per playbook", rows, ["playbook", "alerts", "suppressed"])
    return rows
