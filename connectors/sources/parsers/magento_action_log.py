"""Adobe Commerce (Magento EE) admin Action Log, in the shapes it leaves a store in:

* the admin's CSV export of System > Action Logs > Report (columns Time, Action Group, Action, IP Address,
  Username, Result, Full Action Name, Details), or any CSV whose header names the table's columns;
* JSON lines of `magento_logging_event`, `magento_login_as_customer_log` or `admin_user_session` rows (a database
  dump, e.g. `mysqlsh --result-format=json/raw` or a SELECT ... JSON_OBJECT export).

The file's shape (CSV or JSON lines) is detected from its first bytes; the row's shape (which table) per record,
in the SQL. Mapping: docs/formats/magento_action_log.md.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa

from connectors.sources import framing
from connectors.sources.framing import FramedBatch, Reject, TruncatedStream
from connectors.sources.jsonshape import sql_string
from connectors.sources.parsers.shopify_events import _ChainStream
from connectors.sources.sqlparser import SqlFileParser

CSV_BATCH_ROWS = 100_000

_SCHEMA = pa.schema([("rec_no", pa.int64()), ("byte_offset", pa.int64()), ("text", pa.large_string())])


def _looks_like_json_lines(head: bytes) -> bool:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"


def _header(path: str) -> list[str]:
    """The CSV header's column names (made unique: DuckDB needs distinct names, and so does a JSON object)."""
    with open(path, "rb") as f:
        first = f.readline(1 << 20).removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    names = next(csv.reader([first]), [])
    if not names:
        raise ValueError("no header row")
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name.lower(), 0)
        seen[name.lower()] = n + 1
        out.append(name if n == 0 else f"{name}_{n + 1}")
    return out


def frame_csv(path: str, *, batch_rows: int = CSV_BATCH_ROWS) -> Iterator[FramedBatch]:
    """One record per CSV row (quoted fields may span lines), text = the row as a JSON object keyed by the header.

    DuckDB's CSV reader does the parsing; rows it cannot read (wrong number of fields, unterminated quotes, ...)
    are collected with `store_rejects` and quarantined with its reason. rec_no is the CSV record number counting
    the header as 1 (DuckDB's numbering: it equals the line number unless a quoted field spans lines).
    byte_offset is known only for rejected rows."""
    con = duckdb.connect()
    try:
        # The header is read here, not sniffed: DuckDB's sniffer gives up on a file with one unterminated quote,
        # while with the columns given it rejects just the broken rows.
        columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in _header(path))
        con.execute(
            "CREATE TEMP TABLE bl_csv AS SELECT CAST(to_json(t) AS VARCHAR) AS text FROM read_csv(?, header = true,"
            f" auto_detect = false, columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"',"
            " store_rejects = true) AS t",
            [path],
        )
    except (duckdb.Error, ValueError) as exc:
        with open(path, "rb") as f:
            head = f.read(65536)
        yield FramedBatch(framing._empty(), [Reject(1, 0, f"not a readable CSV file: {exc}".splitlines()[0], head)],
                          os.path.getsize(path), 2)
        return
    rejected = con.execute(
        # One row per rejected record (DuckDB reports a short row once per missing column: keep the first).
        """SELECT line, min(line_byte_position), arg_min(error_type || ': ' || error_message, column_idx),
                  arg_min(csv_line, column_idx)
           FROM reject_errors GROUP BY line ORDER BY line"""
    ).fetchall()
    rejects = [Reject(int(line), int(pos), f"unreadable CSV row ({why.lower()})", (raw or "").strip("\r\n").encode())
               for line, pos, why, raw in rejected]
    # Good rows take the record numbers the rejected rows leave free: the j-th rejected record (0-based j, number
    # r_j) has r_j - 2 - j good rows before it, so good row i is shifted by #{j : r_j - 2 - j <= i}.
    thresholds = np.array([r.rec_no for r in rejects], dtype=np.int64) - 2 - np.arange(len(rejects), dtype=np.int64)
    total = con.execute("SELECT count(*) FROM bl_csv").fetchall()[0][0]
    reader = con.sql("SELECT text FROM bl_csv ORDER BY rowid").to_arrow_reader(batch_rows)
    done = 0
    last_rec = 1 + total + len(rejects)
    size = os.path.getsize(path)
    for rb in reader:
        n = rb.num_rows
        idx = np.arange(done, done + n, dtype=np.int64)
        rec_no = idx + 2 + np.searchsorted(thresholds, idx, side="right")
        table = pa.table({"rec_no": pa.array(rec_no, pa.int64()), "byte_offset": pa.nulls(n, pa.int64()),
                          "text": rb.column(0)}).cast(_SCHEMA)
        done += n
        last = done == total
        yield FramedBatch(table, rejects if last else [], end_offset=size if last else 0, next_rec_no=last_rec + 1)
    if total == 0:
        yield FramedBatch(framing._empty(), rejects, end_offset=size, next_rec_no=last_rec + 1)


class MagentoActionLogParser(SqlFileParser):
    format = "magento_action_log"
    description = "Adobe Commerce Action Log: admin CSV export, or JSON lines of magento_logging_event / " \
                  "magento_login_as_customer_log / admin_user_session rows"
    # A CSV export is read whole (its header is needed, and a row can span lines); re-reads are deduplicated.
    resumable = False

    def frame(self, stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0) -> Iterator[FramedBatch]:
        chunks = framing.decompressed_chunks(stream, framing.CHUNK_BYTES)
        try:
            head = next(chunks, b"")
        except TruncatedStream as exc:
            yield FramedBatch(framing._empty(), [Reject(None, start_offset, str(exc), b"")], start_offset,
                              start_rec_no)
            return
        if not head.strip():
            yield from framing.frame_lines(_ChainStream(head, chunks),  # type: ignore[arg-type]
                                           start_rec_no=start_rec_no, start_offset=start_offset)
            return
        if _looks_like_json_lines(head):
            yield from framing.frame_lines(_ChainStream(head, chunks),  # type: ignore[arg-type]
                                           start_rec_no=start_rec_no, start_offset=start_offset)
            return
        yield from self._frame_csv_stream(head, chunks)

    @staticmethod
    def _frame_csv_stream(head: bytes, chunks: Iterator[bytes]) -> Iterator[FramedBatch]:
        # DuckDB reads files, and a CSV cannot be cut at arbitrary newlines: spool the (decompressed) stream.
        fd, path = tempfile.mkstemp(prefix="bl-magento-", suffix=".csv")
        truncated = None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                try:
                    for chunk in chunks:
                        out.write(chunk)
                except TruncatedStream as exc:
                    truncated = str(exc)
            last: FramedBatch | None = None
            for batch in frame_csv(path):
                if last is not None:
                    yield last
                last = batch
            if last is not None:
                if truncated:  # the rows before the damage are in; the damage itself is one quarantined record
                    last.rejects = [*last.rejects, Reject(None, last.end_offset, truncated, b"")]
                    last.next_rec_no += 1
                yield last
        finally:
            os.unlink(path)
