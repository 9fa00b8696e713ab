"""Magento var/log/*.log (system.log, exception.log, debug.log, cron.log): Monolog LineFormatter entries.

An entry starts with `[<timestamp>] channel.LEVEL: ` and runs until the next such line, so a stringified exception
with its `Stack trace:` / `#0 ...` lines is one record. Framing is vectorised: lines are split by Arrow (reusing the
default line framer), header lines found with one regex kernel, lines grouped into entries by a cumulative sum in
Polars. The entry still open at the end of a chunk is carried into the next one, so an entry is never cut by a
chunk boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from connectors.sources import framing
from connectors.sources.framing import FramedBatch, Reject, TruncatedStream
from connectors.sources.sqlparser import SqlFileParser

# `[2018-01-11 09:29:22]` (Monolog 1, Magento 2.2/2.3) or `[2023-03-15T16:50:14.913747+00:00]` (Monolog 2, 2.4).
ENTRY_HEADER = r"^\[\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"
# An entry that is still open after this many bytes is cut (a runaway or binary "line" must not hold the whole
# file in memory); the rest becomes a header-less record, which the SQL sends to quarantine with the reason.
MAX_ENTRY_BYTES = 32 * 1024 * 1024


def group_entries(lines: pa.Table) -> tuple[pa.Table, pa.Array]:
    """Lines (rec_no, byte_offset, text) → one row per entry: the first line's rec_no and byte_offset, the lines
    joined by LF. Lines before the first header form an entry of their own (quarantined by the SQL).
    Also returns, per input line, whether it is a header."""
    is_header = pc.fill_null(pc.match_substring_regex(lines["text"], ENTRY_HEADER), False)
    if lines.num_rows == 0:
        return lines, is_header
    df = pl.from_arrow(lines.append_column("is_header", is_header))
    assert isinstance(df, pl.DataFrame)
    entries = (
        df.with_columns(pl.col("is_header").cast(pl.Int64).cum_sum().alias("entry"))
        .group_by("entry", maintain_order=True)
        .agg(pl.col("rec_no").first(), pl.col("byte_offset").first(), pl.col("text").str.join("\n"))
        .select("rec_no", "byte_offset", "text")
    )
    table = entries.to_arrow()
    return table.cast(pa.schema([("rec_no", pa.int64()), ("byte_offset", pa.int64()),
                                 ("text", pa.large_string())])), is_header


def frame_entries(
    stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0, max_entry_bytes: int = MAX_ENTRY_BYTES
) -> Iterator[FramedBatch]:
    """One record per log entry; rec_no is the entry's first line number, byte_offset its first byte."""
    rec_no, offset, carry = start_rec_no, start_offset, b""
    chunks = framing.decompressed_chunks(stream, framing.CHUNK_BYTES)
    truncated: str | None = None
    while True:
        try:
            chunk = next(chunks, None)
        except TruncatedStream as exc:
            chunk, truncated = None, str(exc)
        if chunk is None:
            if carry:
                lines = framing._split_lines(carry if carry.endswith(b"\n") else carry + b"\n", rec_no, offset)
                entries, _ = group_entries(lines.records)
                end = offset + len(carry)
                rejects = lines.rejects
                if truncated:  # what could be recovered is in; the damage itself is one quarantined record
                    rejects = [*rejects, Reject(None, end, truncated, b"")]
                yield FramedBatch(entries, rejects, end_offset=end, next_rec_no=lines.next_rec_no)
            elif truncated:
                yield FramedBatch(framing._empty(), [Reject(None, offset, truncated, b"")], offset, rec_no)
            return
        buf = carry + chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            continue
        body, tail = buf[: cut + 1], buf[cut + 1 :]
        lines = framing._split_lines(body, rec_no, offset)
        records = lines.records
        entries, is_header = group_entries(records)
        # Keep back the last entry: its continuation lines may still be in the next chunk.
        header_rows = pc.indices_nonzero(is_header)
        last = header_rows[-1].as_py() if len(header_rows) else None
        if not last:
            # No entry is complete yet: the body is the open entry's lines (or lines before any header).
            if len(buf) <= max_entry_bytes:
                carry = buf
                continue
            yield FramedBatch(entries, lines.rejects, end_offset=lines.end_offset, next_rec_no=lines.next_rec_no)
            rec_no, offset, carry = lines.next_rec_no, lines.end_offset, tail
            continue
        keep_rec_no = records["rec_no"][last].as_py()
        keep_offset = records["byte_offset"][last].as_py()
        done = pc.less(entries["rec_no"], keep_rec_no)
        rejects = [r for r in lines.rejects if r.rec_no is None or r.rec_no < keep_rec_no]
        yield FramedBatch(entries.filter(done), rejects, end_offset=keep_offset, next_rec_no=keep_rec_no)
        carry = buf[keep_offset - offset :]
        rec_no, offset = keep_rec_no, keep_offset


class MagentoLogParser(SqlFileParser):
    format = "magento_log"
    description = "Magento 2 var/log/*.log (Monolog LineFormatter; multi-line stack traces kept with their entry)"

    def frame(self, stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0) -> Iterator[FramedBatch]:
        return frame_entries(stream, start_rec_no=start_rec_no, start_offset=start_offset)
