"""The contract between the ingest loader and a vendor-format parser.

A parser never sees files: the loader frames raw bytes into *records* (one per line by default) and registers
them in DuckDB as a relation with columns `rec_no BIGINT` (1-based record number in the file), `byte_offset
BIGINT` and `text VARCHAR`. The parser's `normalise_sql(records)` is one set-based SELECT over that relation that
returns the columns in NORMALISED_COLUMNS. The loader does everything else: quarantine, PII scan and masking,
event ids, deduplication, insert, accounting. So a parser is data-shaped SQL plus, at most, a custom framer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from connectors.sources.framing import FramedBatch, frame_lines

# What normalise_sql must return, in any order (the loader selects by name). STRUCT columns must have the
# field names of the events table; the loader casts them to the exact types.
#   rec_no     the record number it came from (to report quarantine lines)
#   error      NULL, or why this record must go to quarantine ("invalid JSON", "missing time", ...)
#   event_id   the source's own unique id if it has one, else NULL (the loader hashes the record text)
#   time       TIMESTAMPTZ event time; NULL sends the record to quarantine ("missing or unparseable time")
#   category   waf | app | admin
#   scan_text  extra text to scan for PII besides `message` (a response/payload body), or NULL
#   raw        JSON: the original record (the loader masks PII in it)
NORMALISED_COLUMNS = (
    "rec_no", "error", "event_id", "time", "category", "action", "outcome", "tenant",
    "actor", "src", "http", "resource", "dst", "waf", "message", "scan_text", "raw",
)


class Parser(ABC):
    """One vendor format. Subclasses set `format` and implement `normalise_sql`."""

    format: ClassVar[str]
    description: ClassVar[str] = ""
    # Plain files of a growing log can be resumed from the byte where the last run stopped.
    resumable: ClassVar[bool] = True

    def frame(self, stream: BinaryIO, *, start_rec_no: int = 1, start_offset: int = 0) -> Iterator[FramedBatch]:
        """Split a byte stream into records. Default: one record per line."""
        return frame_lines(stream, start_rec_no=start_rec_no, start_offset=start_offset)

    @abstractmethod
    def normalise_sql(self, records: str) -> str:
        """A DuckDB SELECT over the relation named `records` returning NORMALISED_COLUMNS."""
