"""Load one source's files into the event store: frame → normalise (parser SQL) → quarantine → PII scan and mask →
deduplicate → insert, with exact accounting:

    records = added + duplicates + quarantined        (for every flush, every run)

Parsed records of many files are staged first and flushed together (one transaction per flush, which also
records each file's progress): the PII scan's fixed cost per statement is then paid once per flush instead of
once per file, which matters when object storage delivers many small files.

Re-reading a file adds nothing: `ingest_files` remembers how far each file was read (bytes, and a fingerprint of
its head so a rotated file is told from a grown one), and events are deduplicated on `event_id`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import duckdb
import pyarrow as pa

from breachline.paths import SQL_DIR
from connectors.sources.base import NORMALISED_COLUMNS, Parser
from connectors.sources.framing import Reject
from connectors.sources.locations import FINGERPRINT_BYTES, SourceObject

QUARANTINE_TEXT_LIMIT = 64 * 1024
# Staged records per flush: bounds memory (~ rows x record size), amortises the fixed cost per statement, and
# spans several DuckDB row groups (122,880 rows each) so that both cores work on the PII scan.
FLUSH_ROWS = 250_000
# DuckDB keeps written pages cached up to its memory limit (80% of RAM by default): ingest caps it so a large
# backfill stays within a small machine's memory; DuckDB spills and evicts instead.
INGEST_MEMORY_LIMIT = "1GB"
LOADER_SQL = (SQL_DIR / "ingest" / "load_batch.sql").read_text()
STRUCT_COLUMNS = ("actor", "src", "http", "resource", "dst", "waf")


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
    mask_pii: bool = True  # forensic deployments may turn masking off; see docs/event-schema.md


ProgressFn = Callable[[int], None]  # called with the number of records just processed


class AccountingError(AssertionError):
    """A parser dropped or duplicated records: refusing to commit keeps the promise that nothing is lost."""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The PII macros and the parsers' shared macros (sql/macros/ingest.sql), once per connection."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name IN ('pii_scan_mask', 'json_record_error')"
    ).fetchall()
    if present[0][0] < 2:
        from breachline.pii import install_pii_macros

        install_pii_macros(con)
        con.execute((SQL_DIR / "macros" / "ingest.sql").read_text())


def render_loader_sql(con: duckdb.DuckDBPyConnection, parser_sql: str, mask: bool) -> dict[str, str]:
    """sql/ingest/load_batch.sql split into its named statements, with the parser's SELECT and types filled in."""
    types = {r[0]: r[1] for r in con.execute("DESCRIBE events").fetchall()}
    text = LOADER_SQL.replace("{{parser_sql}}", parser_sql).replace("{{mask}}", "TRUE" if mask else "FALSE")
    for column in STRUCT_COLUMNS:
        text = text.replace(f"{{{{type:{column}}}}}", types[column])
    statements: dict[str, str] = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        statements[name.strip()] = body.strip().rstrip(";")
    return statements


@dataclass
class _FileProgress:
    obj: SourceObject
    consumed: int
    records: int


@dataclass
class Loader:
    """Stages one source's files and flushes them into the store. Use `load(obj)` per file, then `close()`."""

    con: duckdb.DuckDBPyConnection
    parser: Parser
    source: str
    options: LoadOptions = field(default_factory=LoadOptions)
    tenant: str | None = None  # the source's tenant, for records that do not name one
    progress: ProgressFn | None = None
    flush_rows: int = FLUSH_ROWS
    stats: IngestStats = field(init=False)
    _sql: dict[str, str] = field(init=False)
    _stage_params: dict[str, object] = field(init=False)
    _memory_limit: str = field(init=False)
    _staged: int = field(init=False, default=0)
    _rejects: list[tuple[str, Reject]] = field(init=False, default_factory=list)
    _files: dict[str, _FileProgress] = field(init=False, default_factory=dict)
    _records: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.stats = IngestStats(self.source, self.parser.format)
        install_macros(self.con)
        self._memory_limit = self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        self.con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        self._sql = render_loader_sql(self.con, self.parser.normalise_sql("bl_records"), self.options.mask_pii)
        self._stage_params = {"tenant": self.tenant}
        self.con.execute(self._sql["create_stage"])

    def load(self, obj: SourceObject) -> None:
        """Stage one file or object (or skip it if it was read already); flushes when enough is staged."""
        start_offset, start_rec_no = self._resume_point(obj)
        if start_offset is None:
            self.stats.files_skipped += 1
            return
        progress = _FileProgress(obj, start_offset, start_rec_no - 1)
        with obj.open(start_offset) as stream:
            for batch in self.parser.frame(stream, start_rec_no=start_rec_no, start_offset=start_offset):
                if batch.records.num_rows:
                    self.con.register("bl_records", batch.records)
                    try:
                        self.con.execute(self._sql["stage"], {**self._stage_params, "location": obj.location}).fetchall()
                    finally:
                        self.con.unregister("bl_records")
                self._rejects += [(obj.location, r) for r in batch.rejects]
                n = batch.records.num_rows + len(batch.rejects)
                self._staged += n
                self._records += n
                progress.consumed, progress.records = batch.end_offset, batch.next_rec_no - 1
                self._files[obj.location] = progress
                if self.progress:
                    self.progress(n)
                if self._staged >= self.flush_rows:
                    self.flush()
        if obj.is_s3 or (obj.size and obj.is_gzip()):
            # Read whole: identified by its size on disk (and ETag), not by the decompressed bytes consumed.
            progress.consumed = obj.size
        self._files[obj.location] = progress
        self.stats.files_read += 1

    def close(self) -> IngestStats:
        self.flush()
        self.con.execute("DROP TABLE IF EXISTS bl_stage")
        self.con.execute("DROP TABLE IF EXISTS bl_good")
        self.con.execute(f"SET memory_limit = '{self._memory_limit}'")
        return self.stats

    def _resume_point(self, obj: SourceObject) -> tuple[int | None, int]:
        """(byte offset, record number) to start from; offset None when the file was read already."""
        state = self.con.execute(
            "SELECT size, fingerprint, records FROM ingest_files WHERE source = ? AND location = ?",
            [self.source, obj.location],
        ).fetchall()
        if not state:
            return 0, 1
        done_size, done_fp, done_records = state[0]
        same_head = obj.fingerprint(done_size if not obj.is_s3 else 0) == done_fp
        if same_head and obj.size == done_size:
            return None, 0
        gz = obj.is_gzip() if obj.size else False
        if same_head and obj.size > done_size and self.parser.resumable and not gz and not obj.is_s3:
            return done_size, done_records + 1  # a grown log: read only the new bytes
        return 0, 1  # rotated, replaced, or a new ETag: read again; what was stored counts as duplicates

    def flush(self) -> None:
        if not self._files and not self._staged:
            return
        con, fmt = self.con, self.parser.format
        params = {"source": self.source, "fmt": fmt, "limit": QUARANTINE_TEXT_LIMIT}
        added = duplicates = quarantined = 0
        newest: dt.datetime | None = None
        con.execute("BEGIN TRANSACTION")
        try:
            quarantined = self._quarantine_rejects()
            bad, good, t_min, t_max = con.execute(
                "SELECT count(*) FILTER (WHERE error IS NOT NULL OR time IS NULL),"
                " count(*) FILTER (WHERE error IS NULL AND time IS NOT NULL),"
                " min(time) FILTER (WHERE error IS NULL), max(time) FILTER (WHERE error IS NULL) FROM bl_stage"
            ).fetchall()[0]
            if bad:
                quarantined += _count(con, self._sql["quarantine"], params)
            if good:
                con.execute(self._sql["prepare"], {"fmt": fmt})
                added = _count(con, self._sql["insert"], {"source": self.source, "t_min": t_min, "t_max": t_max})
                duplicates = good - added
                newest = t_max if added else None
            for p in self._files.values():
                _record_progress(con, self.source, p)
            _update_watermark(con, self.source, added, newest)
            out = added + duplicates + quarantined
            if out != self._records:
                raise AccountingError(
                    f"{fmt} parser accounting broken for source {self.source}: {self._records} records in, {out} out"
                )
            con.execute("DELETE FROM bl_stage")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.stats.records += self._records
        self.stats.added += added
        self.stats.duplicates += duplicates
        self.stats.quarantined += quarantined
        self._staged = self._records = 0
        self._rejects.clear()
        self._files.clear()

    def _quarantine_rejects(self) -> int:
        if not self._rejects:
            return 0
        limit = QUARANTINE_TEXT_LIMIT
        table = pa.table({
            "location": pa.array([loc for loc, _ in self._rejects], pa.large_string()),
            "rec_no": pa.array([r.rec_no for _, r in self._rejects], pa.int64()),
            "byte_offset": pa.array([r.byte_offset for _, r in self._rejects], pa.int64()),
            "reason": pa.array([r.reason for _, r in self._rejects], pa.large_string()),
            "text": pa.array([r.raw[:limit].decode("utf-8", "replace") for _, r in self._rejects], pa.large_string()),
        })
        self.con.register("bl_rejects", table)
        try:
            self.con.execute(
                "INSERT INTO quarantine SELECT $source, $fmt, location, rec_no, byte_offset, reason, pii_mask(text),"
                " now() FROM bl_rejects",
                {"source": self.source, "fmt": self.parser.format},
            ).fetchall()
        finally:
            self.con.unregister("bl_rejects")
        return len(self._rejects)


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
    loader = Loader(con, parser, source, options, progress=progress)
    loader.load(obj)
    return loader.close()


def _count(con: duckdb.DuckDBPyConnection, statement: str, params: dict[str, object]) -> int:
    """Run an INSERT (DuckDB answers with the number of rows inserted)."""
    used = {k: v for k, v in params.items() if f"${k}" in statement}
    rows = con.execute(statement, used).fetchall()  # read fully: a half-read result keeps the connection busy
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _record_progress(con: duckdb.DuckDBPyConnection, source: str, p: _FileProgress) -> None:
    fp = p.obj.fingerprint(p.consumed if not p.obj.is_s3 else FINGERPRINT_BYTES)
    con.execute(
        "INSERT OR REPLACE INTO ingest_files VALUES (?, ?, ?, ?, ?, now())",
        [source, p.obj.location, p.consumed, fp, p.records],
    )


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


__all__ = ["NORMALISED_COLUMNS", "IngestStats", "LoadOptions", "Loader", "load_object"]
