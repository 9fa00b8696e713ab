"""Load one source's files into the event store: frame → normalise (parser SQL) → quarantine → PII scan and mask →
deduplicate → insert, one DuckDB transaction per batch, with exact accounting:

    records = added + duplicates + quarantined        (for every file, every run)

Re-reading a file adds nothing: `ingest_files` remembers how far each file was read (bytes, and a fingerprint of
its head so a rotated file is told from a grown one), and events are deduplicated on `event_id`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import duckdb
import pyarrow as pa

from breachline.paths import SQL_DIR
from connectors.sources.base import NORMALISED_COLUMNS, Parser
from connectors.sources.framing import FramedBatch, Reject
from connectors.sources.locations import FINGERPRINT_BYTES, SourceObject

QUARANTINE_TEXT_LIMIT = 64 * 1024
LOADER_SQL = (SQL_DIR / "ingest" / "load_batch.sql").read_text()


@dataclass
class IngestStats:
    source: str
    format: str
    records: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    files_read: int = 0
    files_skipped: int = 0

    def add(self, other: IngestStats) -> None:
        for name in ("records", "added", "duplicates", "quarantined", "files_read", "files_skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, object]:
        d = asdict(self)
        return {k: d[k] for k in ("source", "format", "records", "added", "duplicates", "quarantined")}


@dataclass(frozen=True)
class LoadOptions:
    mask_pii: bool = True  # forensic deployments may turn masking off; see docs/configuration.md


ProgressFn = Callable[[int], None]  # called with the number of records just processed


def _install_macros(con: duckdb.DuckDBPyConnection) -> None:
    from breachline.pii import install_pii_macros

    install_pii_macros(con)


def _event_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute("DESCRIBE events").fetchall()]


def _render_loader_sql(con: duckdb.DuckDBPyConnection, parser_sql: str, mask: bool) -> dict[str, str]:
    """Split sql/ingest/load_batch.sql into its named statements, with the parser's SELECT and types filled in."""
    types = dict(_event_columns(con))
    casts = ",\n       ".join(
        f"CAST(s.{c} AS {types[c]}) AS {c}" for c in ("actor", "src", "http", "resource", "dst", "waf")
    )
    text = (
        LOADER_SQL.replace("{{parser_sql}}", parser_sql)
        .replace("{{struct_casts}}", casts)
        .replace("{{mask}}", "TRUE" if mask else "FALSE")
    )
    statements: dict[str, str] = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        statements[name.strip()] = body.strip().rstrip(";")
    return statements


def load_object(
    con: duckdb.DuckDBPyConnection,
    parser: Parser,
    obj: SourceObject,
    *,
    source: str,
    options: LoadOptions = LoadOptions(),
    progress: ProgressFn | None = None,
) -> IngestStats:
    """Read one file or object into the store (or skip it if it was read already). Idempotent."""
    stats = IngestStats(source, parser.format)
    state = con.execute(
        "SELECT size, fingerprint, records FROM ingest_files WHERE source = ? AND location = ?",
        [source, obj.location],
    ).fetchone()
    start_offset, start_rec_no = 0, 1
    gz = obj.is_gzip() if obj.size else False
    if state is not None:
        done_size, done_fp, done_records = state
        same_head = obj.fingerprint(done_size if not obj.is_s3 else 0) == done_fp
        if same_head and obj.size == done_size:
            stats.files_skipped = 1
            return stats
        if same_head and obj.size > done_size and parser.resumable and not gz and not obj.is_s3:
            start_offset, start_rec_no = done_size, done_records + 1  # a grown log: read only the new bytes
    _install_macros(con)
    sql = _render_loader_sql(con, parser.normalise_sql("bl_records"), options.mask_pii)
    consumed, next_rec_no = start_offset, start_rec_no
    with obj.open(start_offset) as stream:
        for batch in parser.frame(stream, start_rec_no=start_rec_no, start_offset=start_offset):
            batch_stats = _load_batch(con, sql, batch, parser.format, source, obj.location)
            consumed, next_rec_no = batch.end_offset, batch.next_rec_no
            _record_progress(con, source, obj, consumed, next_rec_no - 1)
            stats.add(batch_stats)
            if progress:
                progress(batch_stats.records)
    _record_progress(con, source, obj, consumed if not obj.is_s3 else obj.size, next_rec_no - 1)
    stats.files_read = 1
    return stats


def _record_progress(con: duckdb.DuckDBPyConnection, source: str, obj: SourceObject, size: int, records: int) -> None:
    fp = obj.fingerprint(size if not obj.is_s3 else FINGERPRINT_BYTES)
    con.execute(
        "INSERT OR REPLACE INTO ingest_files VALUES (?, ?, ?, ?, ?, now())",
        [source, obj.location, size, fp, records],
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    sql: dict[str, str],
    batch: FramedBatch,
    fmt: str,
    source: str,
    location: str,
) -> IngestStats:
    stats = IngestStats(source, fmt)
    newest = None
    params = {"source": source, "fmt": fmt, "location": location, "limit": QUARANTINE_TEXT_LIMIT}
    con.execute("BEGIN TRANSACTION")
    try:
        stats.quarantined += _quarantine_rejects(con, batch.rejects, params)
        if batch.records.num_rows:
            con.register("bl_records", batch.records)
            con.execute(sql["stage"])
            stats.quarantined += _scalar(con, sql["quarantine"], params)
            con.execute(sql["prepare"], {"fmt": fmt})
            good = _scalar(con, "SELECT count(*) FROM bl_staged WHERE error IS NULL AND time IS NOT NULL", {})
            if good:
                t_min, t_max = con.execute("SELECT min(time), max(time) FROM bl_good").fetchone()  # type: ignore[misc]
                stats.added = _scalar(con, sql["insert"], {**params, "t_min": t_min, "t_max": t_max})
                stats.duplicates = good - stats.added
                newest = t_max if stats.added else None
            con.unregister("bl_records")
        stats.records = batch.records.num_rows + len(batch.rejects)
        _update_watermark(con, source, stats.added, newest)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    produced = stats.added + stats.duplicates + stats.quarantined
    if produced != stats.records:
        # A parser that drops or duplicates rows would break the promise that nothing is lost: refuse loudly.
        raise AssertionError(
            f"{fmt} parser accounting broken in {location}: {stats.records} records in, {produced} out"
        )
    return stats


def _scalar(con: duckdb.DuckDBPyConnection, statement: str, params: dict[str, object]) -> int:
    used = {k: v for k, v in params.items() if f"${k}" in statement}
    # fetchall, not fetchone: a half-read result blocks the connection's next unregister (ResourceInUse).
    rows = con.execute(statement, used).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _quarantine_rejects(con: duckdb.DuckDBPyConnection, rejects: Iterable[Reject], params: dict[str, object]) -> int:
    rows = [
        (r.rec_no, r.byte_offset, r.reason, r.raw[: int(params["limit"])].decode("utf-8", "replace"))  # type: ignore[call-overload]
        for r in rejects
    ]
    if not rows:
        return 0
    con.register("bl_rejects", pa.table({
        "rec_no": pa.array([r[0] for r in rows], pa.int64()),
        "byte_offset": pa.array([r[1] for r in rows], pa.int64()),
        "reason": pa.array([r[2] for r in rows], pa.large_string()),
        "text": pa.array([r[3] for r in rows], pa.large_string()),
    }))
    con.execute(
        "INSERT INTO quarantine SELECT $source, $fmt, $location, rec_no, byte_offset, reason, pii_mask(text), now()"
        " FROM bl_rejects",
        {k: params[k] for k in ("source", "fmt", "location")},
    )
    con.unregister("bl_rejects")
    return len(rows)


def _update_watermark(
    con: duckdb.DuckDBPyConnection, source: str, added: int, newest: dt.datetime | None
) -> None:
    con.execute(
        """
        INSERT INTO source_watermarks AS w (source, max_event_time, last_data_at, last_run_at)
        SELECT $source, CAST($newest AS TIMESTAMPTZ), CASE WHEN $added > 0 THEN now() END, now()
        ON CONFLICT (source) DO UPDATE SET
            max_event_time = greatest(w.max_event_time, excluded.max_event_time),
            last_data_at = coalesce(excluded.last_data_at, w.last_data_at),
            last_run_at = excluded.last_run_at
        """,
        {"source": source, "added": added, "newest": newest},
    )


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


__all__ = ["NORMALISED_COLUMNS", "IngestStats", "LoadOptions", "load_object"]
