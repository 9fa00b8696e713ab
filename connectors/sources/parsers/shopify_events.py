"""Shopify Admin REST `events` (GET /admin/api/<version>/events.json): event objects as JSON lines, whole API
responses `{"events": [...]}` (one per line, or a file holding one pretty-printed response), `{"event": {...}}`
and arrays of events. Each event becomes a framed record of its own, so the loader's accounting (records in =
events + duplicates + quarantined) stays exact; unwrapping is one DuckDB query per batch, no Python loop per event.

Record numbers (`rec_no`) count events, not lines; `byte_offset` is where the line or document holding the event
starts. Field mapping: docs/formats/shopify_events.md.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import BinaryIO

import duckdb
import pyarrow as pa

from connectors.sources import framing
from connectors.sources.framing import FramedBatch, Reject, TruncatedStream
from connectors.sources.sqlparser import SqlFileParser

# A file holding one pretty-printed document is parsed whole; above this it must be written as JSON lines.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024

_SCHEMA = pa.schema([("rec_no", pa.int64()), ("byte_offset", pa.int64()), ("text", pa.large_string())])


class _ChainStream(io.RawIOBase):
    """A read-only stream over bytes already read followed by an iterator of further chunks."""

    def __init__(self, head: bytes, rest: Iterator[bytes]) -> None:
        self._buf = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            nxt = next(self._rest, None)  # TruncatedStream propagates to the line framer, which reports it
            if nxt is None:
                return 0
            self._buf = nxt
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _unwrap_sql(wrappers: tuple[str, ...], singles: tuple[str, ...]) -> str:
    """SQL over `units(unit_no, byte_offset, text)`: each unit → its records, in order.

    A JSON array → its elements; an object with one of `wrappers` as an array → that array's elements (an empty
    array → no records); an object with one of `singles` as an object → that object; anything else (including
    invalid JSON) → the unit itself, for the parser to accept or quarantine."""
    # Only units that could be wrappers are looked into: a plain record is not parsed here at all.
    hints = " OR ".join(f"contains(text, '\"{k}\"')" for k in (*wrappers, *singles)) or "FALSE"
    cases = "\n".join(
        [f"WHEN json_type(text, '$.{k}') = 'ARRAY' THEN CAST(json_extract(text, '$.{k}[*]') AS VARCHAR[])"
         for k in wrappers]
        + [f"WHEN json_type(text, '$.{k}') = 'OBJECT' THEN [CAST(json_extract(text, '$.{k}') AS VARCHAR)]"
           for k in singles]
    )
    return f"""
    WITH u AS (
        SELECT unit_no, byte_offset, text,
               CASE WHEN NOT (starts_with(ltrim(text, ' ' || chr(9) || chr(10) || chr(13)), '[') OR {hints}) OR NOT json_valid(text) THEN [text]
                    WHEN json_type(text) = 'ARRAY' THEN CAST(json_extract(text, '$[*]') AS VARCHAR[])
                    WHEN json_type(text) <> 'OBJECT' THEN [text]
                    {cases}
                    ELSE [text] END AS items
        FROM units
    ), x AS (
        SELECT unit_no, byte_offset, unnest(items) AS text, unnest(range(len(items))) AS ord FROM u
    )
    SELECT CAST($start + row_number() OVER (ORDER BY unit_no, ord) - 1 AS BIGINT) AS rec_no,
           CAST(byte_offset AS BIGINT) AS byte_offset, CAST(text AS VARCHAR) AS text
    FROM x ORDER BY rec_no"""


def _starts_document(head: bytes) -> bool:
    """Whether the stream looks like one pretty-printed document: its first line opens a bracket without being a
    complete JSON value (`{`, `[`, `{"events": [`). A JSON-lines file whose first record is broken does not."""
    line = head.split(b"\n", 1)[0].strip()
    if not line.endswith((b"{", b"[")):
        return False
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


def frame_json_units(
    stream: BinaryIO,
    *,
    wrappers: tuple[str, ...],
    singles: tuple[str, ...] = (),
    start_rec_no: int = 1,
    start_offset: int = 0,
) -> Iterator[FramedBatch]:
    """Frame JSON lines or one JSON document, unwrapping `{"<wrapper>": [records]}` and arrays into records."""
    con = duckdb.connect()
    sql = _unwrap_sql(wrappers, singles)
    rec_no = start_rec_no

    def expand(units: pa.Table) -> pa.Table:
        nonlocal rec_no
        con.register("units", units)
        out = con.sql(sql, params={"start": rec_no}).to_arrow_table()
        con.unregister("units")
        rec_no += out.num_rows
        return out.cast(_SCHEMA)

    def renumber(rejects: list[Reject]) -> list[Reject]:
        nonlocal rec_no
        out = [Reject(rec_no + i, r.byte_offset, r.reason, r.raw) for i, r in enumerate(rejects)]
        rec_no += len(out)
        return out

    chunks = framing.decompressed_chunks(stream, framing.CHUNK_BYTES)
    try:
        head = next(chunks, b"")
    except TruncatedStream as exc:
        yield FramedBatch(framing._empty(), renumber([Reject(None, start_offset, str(exc), b"")]),
                          start_offset, rec_no)
        return
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start_offset == 0 and _starts_document(body):
        # Pretty-printed: the file is one document. Read it whole (bounded) and parse it once.
        parts, size, truncated = [head], len(head), None
        try:
            for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    break
        except TruncatedStream as exc:
            truncated = str(exc)
        doc = b"".join(parts)
        if size > MAX_DOCUMENT_BYTES:
            reason = (f"JSON document larger than {MAX_DOCUMENT_BYTES // 2**20} MiB: write one record per line"
                      " (JSON lines) instead")
            yield FramedBatch(framing._empty(), renumber([Reject(None, 0, reason, doc[:65536])]), size, rec_no)
            return
        try:
            text = doc.decode("utf-8").lstrip("\ufeff")
        except UnicodeDecodeError:
            text = None
        if text is not None and truncated is None and con.execute("SELECT json_valid(?)", [text]).fetchall()[0][0]:
            units = pa.table({"unit_no": pa.array([1], pa.int64()), "byte_offset": pa.array([0], pa.int64()),
                              "text": pa.array([text], pa.large_string())})
            yield FramedBatch(expand(units), [], end_offset=len(doc), next_rec_no=rec_no)
            return
        # Not one valid document after all (e.g. JSON lines whose first line is broken): frame it line by line.
        head, chunks = doc, iter(())
        if truncated is not None:
            chunks = _raise_after(truncated)
    for batch in framing.frame_lines(_ChainStream(head, chunks), start_rec_no=1, start_offset=start_offset):  # type: ignore[arg-type]
        units = batch.records.rename_columns(["unit_no", "byte_offset", "text"])
        records = expand(units)
        yield FramedBatch(records, renumber(batch.rejects), end_offset=batch.end_offset, next_rec_no=rec_no)


def _raise_after(reason: str) -> Iterator[bytes]:
    raise TruncatedStream(reason)
    yield b""  # pragma: no cover - makes this a generator


class ShopifyEventsParser(SqlFileParser):
    format = "shopify_events"
    description = "Shopify Admin REST events (JSON lines of events, or API responses {\"events\": [...]})"
    # A file holding one response document is rewritten, not appended to: re-read it whole (duplicates are
    # recognised by the Shopify event id) instead of resuming from a byte offset inside the document.
    resumable = False

    def frame(self, stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0) -> Iterator[FramedBatch]:
        return frame_json_units(stream, wrappers=("events",), singles=("event",),
                                start_rec_no=start_rec_no, start_offset=start_offset)
