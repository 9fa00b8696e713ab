"""generate_store: the runner that turns the store model, the noise writers and the scenarios into files."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from breachline.errors import BreachlineError
from breachline.generate.formats import WRITERS, FormatWriter
from breachline.generate.formats.base import DayContext, Output
from breachline.generate.model import Store, build_store
from breachline.generate.scenarios import GroundTruth, Plan, plan_scenarios
from breachline.generate.vec import DAY_US, US, rows_frame

DEFAULT_START = dt.date(2026, 11, 1)  # fixed, so that output never depends on the wall clock
DEFAULT_EVENTS_PER_DAY = 20_000
GROUND_TRUTH = "ground_truth.jsonl"
# isal level 1 is ~6x faster than zlib's default and still ~10x smaller than the text; output is deterministic
GZIP_LEVEL = 1
RENDER_SLICE = 32_768  # rows rendered and written at a time

Progress = Callable[[int, int, str], None]  # (done, total, what)


class GenerateError(BreachlineError):
    """The generator was asked for something it cannot make (bad arguments, unwritable output)."""


@dataclass
class GenerateSummary:
    """What a run wrote: events per format, the injected scenarios and every file."""

    out: Path
    start: dt.date
    days: int
    seed: int
    events_per_day: int
    events: dict[str, int] = field(default_factory=dict)  # format -> records written (noise + scenarios)
    scenarios: list[GroundTruth] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def scenario_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for g in self.scenarios:
            counts[g.playbook] = counts.get(g.playbook, 0) + 1
        return counts

    @property
    def events_per_second(self) -> float:
        return self.total_events / self.seconds if self.seconds else 0.0


def _start_date(start: dt.datetime | dt.date | None) -> dt.date:
    if start is None:
        return DEFAULT_START
    if isinstance(start, dt.datetime):
        return (start.astimezone(dt.UTC) if start.tzinfo else start).date()
    return start


def generate_store(
    out: Path,
    *,
    days: int,
    seed: int,
    events_per_day: int = DEFAULT_EVENTS_PER_DAY,
    start: dt.datetime | dt.date | None = None,
    progress: Progress | None = None,
    workers: int = 2,
) -> GenerateSummary:
    """Write `days` days of a synthetic store's logs in every format under `out`, plus ground_truth.jsonl.

    The same arguments give byte-identical files. `start` is the first day (its date, UTC); None means
    2026-11-01. `events_per_day` is the benign traffic per day over all formats; injected scenarios come on top.
    """
    if days < 1:
        raise GenerateError(f"--days must be at least 1 (got {days})")
    if events_per_day < 100:
        raise GenerateError(f"--events-per-day must be at least 100 (got {events_per_day})")
    if seed < 0:
        raise GenerateError(f"--seed must be a non-negative integer (got {seed})")
    first_day = _start_date(start)
    t_begin = time.perf_counter()
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenerateError(f"cannot create output directory {out}: {exc.strerror}") from exc

    start_us = int(dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp()) * US
    store = build_store(seed)
    plan = plan_scenarios(store, seed, start_us, days)
    summary = GenerateSummary(out=out, start=first_day, days=days, seed=seed, events_per_day=events_per_day,
                              scenarios=list(plan.truths))
    writers = [w() for w in WRITERS]
    total_steps = len(writers) * days
    lock = threading.Lock()
    done = [0]

    def step(what: str) -> None:
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], total_steps, what)

    def run(index: int, writer: FormatWriter) -> tuple[str, int, list[Path]]:
        return _run_format(out, index, writer, store, plan, seed, start_us, first_day, days, events_per_day, step)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda iw: run(*iw), enumerate(writers)))
    for name, count, paths in results:
        summary.events[name] = count
        summary.paths.extend(paths)
    gt = out / GROUND_TRUTH
    gt.write_text("".join(g.to_json() + "\n" for g in plan.truths), encoding="utf-8")
    summary.paths.append(gt)
    summary.paths.sort()
    summary.seconds = time.perf_counter() - t_begin
    return summary


def _run_format(
    out: Path, index: int, writer: FormatWriter, store: Store, plan: Plan, seed: int, start_us: int,
    first_day: dt.date, days: int, events_per_day: int, step: Callable[[str], None],
) -> tuple[str, int, list[Path]]:
    """All days of one format, in order (writers keep running ids across days)."""
    folder = out / writer.name
    folder.mkdir(parents=True, exist_ok=True)
    for stream in writer.schemas:  # files of an earlier, longer run would otherwise be ingested too
        for stale in folder.glob(writer.glob(stream)):
            stale.unlink()
    scenario_frames = {
        stream: rows_frame(schema, plan.rows.get((writer.name, stream), []))
        for stream, schema in writer.schemas.items()
    }
    end_us = start_us + days * DAY_US
    for stream, frame in scenario_frames.items():  # a scenario row outside the period would be silently lost
        if frame.filter((pl.col("ts") < start_us) | (pl.col("ts") >= end_us)).height:
            raise GenerateError(f"internal: a {writer.name}/{stream} scenario event falls outside the period")
    count, paths = 0, []
    n = max(1, round(events_per_day * writer.share))
    for day in range(days):
        date = first_day + dt.timedelta(days=day)
        day_start = start_us + day * DAY_US
        rng = np.random.default_rng([seed, index + 1, day])
        frames = writer.noise(DayContext(day, date, day_start, n, store, rng))
        for stream, schema in writer.schemas.items():
            df = frames[stream].select(list(schema))
            extra = scenario_frames[stream].filter((pl.col("ts") >= day_start) & (pl.col("ts") < day_start + DAY_US))
            if extra.height:
                df = pl.concat([df, extra], how="vertical")
            path = folder / writer.path(stream, date)
            # Render in time-ordered slices: the same bytes as one piece, but a tenth of the memory, and
            # Polars' buffers are reused instead of faulting in a fresh gigabyte per day.
            df = df.sort("ts", maintain_order=True)
            with Output(path, gzip=writer.gzip, level=GZIP_LEVEL) as sink:
                for offset in range(0, max(df.height, 1), RENDER_SLICE):
                    sink.write(writer.render(stream, df.slice(offset, RENDER_SLICE)))
            paths.append(path)
            count += df.height
        step(f"{writer.name} {date.isoformat()}")
    return writer.name, count, paths
