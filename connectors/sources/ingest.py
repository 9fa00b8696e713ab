"""Ingest configured sources (or ad-hoc paths) into the event store. The CLI and the Prefect flow both call this."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from breachline.config import SourceConfig
from connectors.sources.loader import IngestStats, Loader, LoadOptions, ProgressFn
from connectors.sources.locations import S3Settings, resolve
from connectors.sources.registry import get_parser


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    *,
    options: LoadOptions = LoadOptions(),
    progress: ProgressFn | None = None,
) -> IngestStats:
    parser = get_parser(source.format)
    s3 = S3Settings(source.s3_endpoint_url, source.s3_region, source.access_key_env, source.secret_key_env)
    objects = resolve(source.location, s3)
    loader = Loader(con, parser, source.name, options, source.tenant, progress)
    for obj in objects:
        loader.load(obj)
    total = loader.close()
    # A run that found nothing new still counts as a run (blind-spot detection reads last_run_at).
    con.execute(
        "INSERT INTO source_watermarks (source, last_run_at, first_run_at) VALUES (?, now(), now())"
        " ON CONFLICT (source) DO UPDATE SET last_run_at = excluded.last_run_at,"
        " first_run_at = coalesce(source_watermarks.first_run_at, excluded.first_run_at)",
        [source.name],
    )
    return total


def ingest_all(
    con: duckdb.DuckDBPyConnection,
    sources: Iterable[SourceConfig],
    *,
    options: LoadOptions = LoadOptions(),
    progress: ProgressFn | None = None,
) -> list[IngestStats]:
    return [ingest_source(con, s, options=options, progress=progress) for s in sources]
