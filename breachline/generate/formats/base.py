"""What every format writer provides, and the per-day context it gets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar, cast

import numpy as np
import polars as pl
from isal import igzip

from breachline.generate.model import Store
from breachline.generate.vec import DType

Schema = Mapping[str, DType]
# What a writer's render() returns: time-ordered lines, or (for CSV formats) a table written with its header.
Rendered = pl.Series | pl.DataFrame


@dataclass(frozen=True)
class DayContext:
    """One format, one UTC day: where the day starts, how many noise events to make, and the day's RNG."""

    day: int  # 0-based index of the day in the run
    date: dt.date
    start_us: int  # the day's 00:00:00 UTC, µs since the epoch
    n: int  # noise events this format should produce today (all its streams together)
    store: Store
    rng: np.random.Generator


class FormatWriter:
    """One vendor format: makes a day of benign noise as logical frames and renders frames to file bytes.

    A format has one or more *streams* (one file per stream per day: a table, a log file, a Logpush job…), each
    with a logical schema. Scenarios add rows to a stream in that schema; the runner merges them with the noise,
    sorts by `ts` (µs) and renders. One writer instance serves one run and sees the days in order, so it can
    keep running counters (auto-increment ids) across days.
    """

    name: ClassVar[str]  # folder name == source_format
    share: ClassVar[float]  # share of --events-per-day
    schemas: ClassVar[dict[str, Schema]]
    gzip: ClassVar[bool] = False

    def path(self, stream: str, date: dt.date) -> str:
        """File path relative to the format's folder."""
        raise NotImplementedError

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        raise NotImplementedError

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        """The file's bytes, records in time order."""
        raise NotImplementedError

    def glob(self, stream: str) -> str:
        """A glob matching this stream's files, whatever the day (to clear files of an earlier run)."""
        return self.path(stream, _SENTINEL).replace(_SENTINEL.isoformat(), "*")


_SENTINEL = dt.date(1999, 12, 31)


def split(n: int, shares: Mapping[str, float], minimum: int = 1) -> dict[str, int]:
    """Split n events between streams by share, each getting at least `minimum`."""
    total = sum(shares.values())
    return {k: max(minimum, round(n * v / total)) for k, v in shares.items()}


def by_time(df: pl.DataFrame, lines: pl.Series) -> pl.Series:
    """Rendered lines put in event-time order (stable: equal times keep their row order). Sorting the one
    rendered column is cheaper than sorting the wide logical frame."""
    return lines.gather(np.argsort(df["ts"].to_numpy(), kind="stable"))


class _FixedChunks:
    """Feeds a compressor in fixed 1 MiB pieces, so the compressed bytes depend only on the content, not on
    how Polars happens to cut its writes (which could vary with its thread count)."""

    def __init__(self, sink: BinaryIO, size: int = 1 << 20) -> None:
        self.sink, self.size, self.buf = sink, size, bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) >= self.size:
            cut = len(self.buf) - len(self.buf) % self.size
            view = memoryview(self.buf)
            for i in range(0, cut, self.size):
                self.sink.write(view[i : i + self.size])
            view.release()
            del self.buf[:cut]
        return len(data)

    def flush(self) -> None:  # Polars flushes at the end of a write; the tail goes out in close()
        pass

    def close(self) -> None:
        if self.buf:
            self.sink.write(bytes(self.buf))
            self.buf.clear()


class Output:
    """One output file, written in pieces: rendered lines (a String Series, written verbatim with `\\n` after
    each line, embedded newlines kept) or tables (CSV, header before the first piece). Polars writes straight
    into the file or into an ISA-L gzip stream fed in fixed pieces, so no whole-file copy is held in Python
    memory and gzip output is byte-identical across runs (no name, mtime 0)."""

    def __init__(self, path: Path, *, gzip: bool, level: int = 1) -> None:
        self._raw: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._gz = igzip.IGzipFile(fileobj=self._raw, mode="wb", compresslevel=level, mtime=0, filename="") \
            if gzip else None
        self._sink: Any = _FixedChunks(cast(BinaryIO, self._gz)) if self._gz else self._raw
        self._pieces = 0

    def write(self, rendered: Rendered) -> None:
        if isinstance(rendered, pl.Series):
            df = rendered.to_frame("line")
            opts: dict[str, Any] = {"include_header": False, "quote_style": "never"}
        else:
            df, opts = rendered, {"include_header": self._pieces == 0}
        self._pieces += 1
        if df.height or opts["include_header"]:
            df.write_csv(cast(IO[bytes], self._sink), line_terminator="\n", **opts)

    def close(self) -> None:
        if isinstance(self._sink, _FixedChunks):
            self._sink.close()
        if self._gz is not None:
            self._gz.close()
        self._raw.close()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

