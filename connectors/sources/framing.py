"""Turning a byte stream into records without a Python loop per record.

Bytes arrive in large chunks; gzip (single or multi-member, detected by magic bytes, not by file name) is
decompressed incrementally so a truncated archive still yields every complete line before the damage. Lines are
split and UTF-8-validated by Arrow compute kernels; only a chunk that contains invalid UTF-8 is looked at line by
line, to send exactly the bad lines to quarantine.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

CHUNK_BYTES = 8 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Reject:
    """A record the framer could not turn into text (it goes to quarantine as it is)."""

    rec_no: int | None
    byte_offset: int | None
    reason: str
    raw: bytes


@dataclass
class FramedBatch:
    records: pa.Table  # rec_no int64, byte_offset int64, text large_string
    rejects: list[Reject] = field(default_factory=list)
    # Bytes of the *uncompressed* stream fully consumed after this batch (for resuming grown plain files).
    end_offset: int = 0
    next_rec_no: int = 1


class TruncatedStream(Exception):
    """The compressed stream ended before its end-of-stream marker."""


def decompressed_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield the stream's bytes, gunzipping if it starts with the gzip magic. Raises TruncatedStream at the end
    of a damaged archive, after yielding everything that could be recovered."""
    first = stream.read(chunk_bytes)
    if not first.startswith(GZIP_MAGIC):
        while first:
            yield first
            first = stream.read(chunk_bytes)
        return
    decomp = zlib.decompressobj(wbits=47)  # 32 + 15: gzip header, auto-detected
    pending = first
    while True:
        if not pending:
            pending = stream.read(chunk_bytes)
            if not pending:
                break
        try:
            out = decomp.decompress(pending)
        except zlib.error as exc:
            raise TruncatedStream(f"corrupt gzip data: {exc}") from exc
        if out:
            yield out
        pending = b""
        if decomp.eof:
            rest = decomp.unused_data
            if rest.startswith(GZIP_MAGIC):  # concatenated gzip members (appended archives)
                decomp = zlib.decompressobj(wbits=47)
                pending = rest
            elif rest.strip(b"\x00"):
                raise TruncatedStream("trailing garbage after the gzip stream")
    tail = decomp.flush()
    if tail:
        yield tail
    if not decomp.eof:
        raise TruncatedStream("truncated gzip: the archive ends before its end-of-stream marker")


def _split_lines(body: bytes, rec_no: int, offset: int) -> FramedBatch:
    """`body` ends with a newline. Returns the non-blank lines with their numbers and byte offsets."""
    parts = pc.split_pattern(pa.array([body], pa.large_binary()), b"\n").flatten()
    parts = parts.slice(0, len(parts) - 1)  # the empty string after the final newline
    n = len(parts)
    lengths = pc.binary_length(parts).cast(pa.int64())
    ends = pc.cumulative_sum(pc.add(lengths, 1))
    offsets = pc.add(pc.subtract(ends, pc.add(lengths, 1)), offset)
    numbers = pa.array(range(rec_no, rec_no + n), pa.int64())
    rejects: list[Reject] = []
    try:
        text = parts.cast(pa.large_string())
    except pa.ArrowInvalid:
        text, rejects = _decode_slowly(parts, numbers, offsets)
    text = pc.utf8_rtrim(text, characters="\r")
    keep = pc.and_(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), pc.is_valid(text))
    table = pa.table({"rec_no": numbers, "byte_offset": offsets, "text": text}).filter(keep)
    return FramedBatch(table, rejects, end_offset=offset + len(body), next_rec_no=rec_no + n)


def _decode_slowly(parts: pa.Array, numbers: pa.Array, offsets: pa.Array) -> tuple[pa.Array, list[Reject]]:
    # Rare path: only for a chunk that holds invalid UTF-8, to quarantine exactly the bad lines.
    values: list[str | None] = []
    rejects: list[Reject] = []
    for raw, no, off in zip(parts.to_pylist(), numbers.to_pylist(), offsets.to_pylist(), strict=True):
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            values.append(None)
            rejects.append(Reject(no, off, f"invalid UTF-8 at byte {exc.start} of the line", raw))
    return pa.array(values, pa.large_string()), rejects


def frame_lines(stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0) -> Iterator[FramedBatch]:
    """One record per line (LF or CRLF). Blank lines are not records. A last line without a newline is a record."""
    rec_no, offset, carry = start_rec_no, start_offset, b""
    chunks = decompressed_chunks(stream)
    while True:
        try:
            chunk = next(chunks, None)
        except TruncatedStream as exc:
            if carry.strip():
                yield FramedBatch(_empty(), [Reject(rec_no, offset, str(exc), carry)], offset + len(carry), rec_no + 1)
            else:
                yield FramedBatch(_empty(), [Reject(None, offset, str(exc), b"")], offset, rec_no)
            return
        if chunk is None:
            if carry:
                batch = _split_lines(carry + b"\n", rec_no, offset)
                batch.end_offset -= 1  # the newline we added is not in the file
                yield batch
            return
        buf = carry + chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            continue
        body, carry = buf[: cut + 1], buf[cut + 1 :]
        batch = _split_lines(body, rec_no, offset)
        rec_no, offset = batch.next_rec_no, batch.end_offset
        yield batch


def _empty() -> pa.Table:
    return pa.table(
        {
            "rec_no": pa.array([], pa.int64()),
            "byte_offset": pa.array([], pa.int64()),
            "text": pa.array([], pa.large_string()),
        }
    )
