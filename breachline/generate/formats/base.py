"""What every format writer provides, and the per-day context it gets."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl

from breachline.generate.model import Store
from breachline.generate.vec import DType

Schema = Mapping[str, DType]


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

    def render(self, stream: str, df: pl.DataFrame) -> bytes:
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


def jsonl(lines: pl.Series) -> bytes:
    """Lines as one `\\n`-terminated blob. Polars' CSV writer with quoting off is the fastest way out of a
    String column (str.join is 3x slower); it writes values verbatim, embedded newlines included."""
    if len(lines) == 0:
        return b""
    buf = io.BytesIO()
    lines.to_frame("line").write_csv(buf, include_header=False, quote_style="never", line_terminator="\n")
    return buf.getvalue()
