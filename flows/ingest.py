"""The `ingest` flow: read every configured source into the event store (a thin wrapper over the engine)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from breachline.config import Config, SourceConfig, load_config
from breachline.pipeline import ingest_step
from flows.reporting import emit, publish_table

COLUMNS = ["source", "format", "records", "added", "duplicates", "quarantined"]


# Retrying a source is safe: each batch commits with the file's progress, so a retry resumes, never doubles.
@task(retries=2, retry_delay_seconds=[5, 30], task_run_name="ingest-{source.name}")
def ingest_one(config: Config, source: SourceConfig) -> dict[str, Any]:
    result = ingest_step(config, sources=[source])
    for silence in result.silent:
        emit("breachline.source.silent", f"breachline.source.{silence.source}",
             {"source": silence.source, "silent_since": silence.silent_since})
    return result.stats[0].summary()


@flow(name="ingest", log_prints=True)
def ingest_flow(config_path: str | None = None, db: str | None = None) -> list[dict[str, Any]]:
    config = load_config(config_path, db=db)
    logger = get_run_logger()
    rows = []
    for source in config.sources:
        row = ingest_one(config, source)
        logger.info("%(source)s (%(format)s): %(records)s records, %(added)s added, %(duplicates)s duplicates, "
                    "%(quarantined)s quarantined", row)
        rows.append(row)
    publish_table("ingest-summary", "Ingest: per source", rows, COLUMNS)
    return rows
