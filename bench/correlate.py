"""Correlation benchmark: all shipped playbooks over >= 10 M events, an incremental 5-minute run on top of the
history, and the same playbooks done the obvious way in Python (per-event JSONLogic + Python windows) on a
sample, in the same run.

    uv run python bench/correlate.py --source-db STORE.duckdb [--work DIR] [--target 10000000]

STORE.duckdb: a store with a generated week ingested (e.g. `breachline generate --out G --days 7 --seed 7
--events-per-day 300000` then `breachline ingest --db STORE.duckdb --format F G/F` per format). The bench copies
its events, replicating the week with a 7-day shift per copy (new event ids) until --target events, so the
history has the generator's distributions and attacks, only longer. Nothing in the source store is modified.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb

from breachline.paths import PLAYBOOKS_DIR
from breachline.store import connect
from correlators.correlation import correlate
from correlators.jsonlogic import compile_rule, event_record
from correlators.playbooks import Playbook, load_playbooks
from correlators.playbooks.model import FirstSeenSpec, MatchSpec, SequenceSpec, ThresholdSpec


def build_store(source: Path, work: Path, target: int) -> Path:
    """A work store with >= target events: the source week, then shifted copies of it (in time order)."""
    db = work / "bench.duckdb"
    for p in (db, work / "bench.duckdb.wal"):
        p.unlink(missing_ok=True)
    con = connect(db)
    try:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute("CREATE TEMP TABLE week AS SELECT * FROM src.events ORDER BY time")
        con.execute("DETACH src")
        n = con.execute("SELECT count(*) FROM week").fetchone()[0]  # type: ignore[index]
        span = con.execute("SELECT max(time) - min(time) FROM week").fetchone()[0]  # type: ignore[index]
        shift = dt.timedelta(days=max(1, -(-span.days // 7) * 7)) if span else dt.timedelta(days=7)
        copies = max(1, -(-target // n))
        for k in range(copies):
            # Each copy is a later week: times and ingest times move together, ids get a suffix.
            con.execute(
                "INSERT INTO events SELECT * REPLACE (event_id || '~' || $k AS event_id, time + $shift AS time, "
                "ingested_at + $shift AS ingested_at) FROM week",
                {"k": k, "shift": shift * k},
            )
        con.execute("DROP TABLE week")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return db


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---------------------------------------------------------------- the obvious way: Python over event dicts

def python_way(pb: Playbook, events: list[dict[str, Any]]) -> int:
    """Per-event JSONLogic (the reference evaluator) and per-group Python windows. Returns the alert count."""
    corr = pb.correlation
    if isinstance(corr, MatchSpec):
        where = compile_rule(corr.where.logic)
        return sum(1 for e in events if _truthy(where(e)))
    if isinstance(corr, ThresholdSpec):
        return _py_threshold(corr, events)
    if isinstance(corr, SequenceSpec):
        return _py_sequence(corr, events)
    assert isinstance(corr, FirstSeenSpec)
    return _py_first_seen(corr, events)


def _truthy(v: Any) -> bool:
    from correlators.jsonlogic import truthy

    return bool(truthy(v))


def _get(e: dict[str, Any], path: str) -> Any:
    cur: Any = e
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _py_threshold(spec: ThresholdSpec, events: Iterable[dict[str, Any]]) -> int:
    where = compile_rule(spec.where.logic)
    having = compile_rule(spec.having.logic)
    filters = {a.name: compile_rule(a.where.logic) if a.where else None for a in spec.aggregates}
    windows: dict[tuple[Any, ...], deque[dict[str, Any]]] = defaultdict(deque)
    last_alert: dict[tuple[Any, ...], dt.datetime] = {}
    alerts = 0
    for e in events:
        if not _truthy(where(e)):
            continue
        key = tuple(_get(e, f) for f in spec.group_by)
        if None in key:
            continue
        win = windows[key]
        win.append(e)
        t = e["_t"]
        while win and win[0]["_t"] < t - spec.window:
            win.popleft()
        metrics: dict[str, Any] = {"count": len(win)}
        for a in spec.aggregates:
            flt = filters[a.name]
            rows = [x for x in win if flt is None or _truthy(flt(x))]
            if a.field is None:
                metrics[a.name] = len(rows)
                continue
            vals = [v for v in (_get(x, a.field) for x in rows) if v is not None]
            if a.fn == "count":
                metrics[a.name] = len(vals)
            elif a.fn == "distinct":
                metrics[a.name] = len(set(vals))
            elif a.fn == "sum":
                metrics[a.name] = sum(vals)
            else:
                metrics[a.name] = (min if a.fn == "min" else max)(vals, default=None)
        if _truthy(having(metrics)):
            if key not in last_alert or t - last_alert[key] > spec.window:
                alerts += 1
            last_alert[key] = t
    return alerts


def _py_sequence(spec: SequenceSpec, events: Iterable[dict[str, Any]]) -> int:
    present = [s for s in spec.steps if not s.absent]
    conds = [compile_rule(s.where.logic) for s in present]
    partial: dict[tuple[Any, ...], list[tuple[int, dt.datetime]]] = defaultdict(list)  # (next step, start)
    alerts = 0
    for e in events:
        t = e["_t"]
        for i, cond in enumerate(conds):
            if not _truthy(cond(e)):
                continue
            key = tuple(_get(e, f) for f in present[i].group_by)
            if None in key:
                continue
            chains = partial[key]
            if i == 0:
                chains.append((1, t))
            advanced = []
            for nxt, start in chains:
                if t - start > spec.window:
                    continue
                if nxt == i:
                    nxt += 1
                if nxt >= len(conds):
                    alerts += 1
                    continue
                advanced.append((nxt, start))
            partial[key] = advanced
    return alerts


def _py_first_seen(spec: FirstSeenSpec, events: Iterable[dict[str, Any]]) -> int:
    where = compile_rule(spec.where.logic)
    seen: dict[tuple[Any, ...], dt.datetime] = {}
    groups: dict[tuple[Any, ...], dt.datetime] = {}
    alerts = 0
    for e in events:
        if not _truthy(where(e)):
            continue
        g = tuple(_get(e, f) for f in spec.group_by)
        v = tuple(_get(e, f) for f in spec.new.value)
        if None in g or all(x is None for x in v):
            continue
        t = e["_t"]
        last = seen.get(g + v)
        first = groups.setdefault(g, t)
        if (last is None or last < t - spec.new.baseline) and first < t and first <= t - spec.new.min_history:
            alerts += 1
        seen[g + v] = t
    return alerts


def load_sample(con: duckdb.DuckDBPyConnection, n: int) -> list[dict[str, Any]]:
    """The first n events by time, as the evaluator's records (plus the datetime in `_t`)."""
    cur = con.execute(f'SELECT * EXCLUDE (raw) FROM events ORDER BY "time" LIMIT {int(n)}')
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        rec = dict(zip(names, row, strict=True))
        ev = event_record(rec)
        ev["_t"] = rec["time"]
        out.append(ev)
    return out


# ------------------------------------------------------------------------------------------------ main

def reset_store(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("alerts", "correlation_state", "correlation_first_seen", "suppressed_matches", "correlation_runs"):
        con.execute(f"DELETE FROM {table}")
    con.execute("DELETE FROM events WHERE ends_with(event_id, '~inc')")


def add_five_minutes(con: duckdb.DuckDBPyConnection) -> int:
    """New events after the end of history: the 5 minutes from 14:00 on the first day, moved 20 minutes past
    the newest event (so the run also decides the look-back gap), ingested now."""
    lo, hi = con.execute("SELECT date_trunc('day', min(time)) + INTERVAL 14 HOUR, max(time) FROM events").fetchone()  # type: ignore[misc]
    con.execute(
        "INSERT INTO events SELECT * REPLACE (event_id || '~inc' AS event_id, time + $s AS time, "
        "now() AS ingested_at) FROM events WHERE time >= $a AND time < $a + INTERVAL 5 MINUTE",
        {"s": (hi - lo) + dt.timedelta(minutes=20), "a": lo})
    return int(con.execute("SELECT count(*) FROM events WHERE ends_with(event_id, '~inc')").fetchone()[0])  # type: ignore[index]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-db", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/breachline-bench-correlate"))
    ap.add_argument("--target", type=int, default=10_000_000)
    ap.add_argument("--sample", type=int, default=100_000, help="events for the Python way")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="reuse the work store of an earlier run (it is reset)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    playbooks = load_playbooks([PLAYBOOKS_DIR])
    db = args.work / "bench.duckdb"
    build_s = 0.0
    if not (args.reuse and db.exists()):
        build_s, db = timed(lambda: build_store(args.source_db, args.work, args.target))
    con = connect(db)
    con.execute(f"SET threads = {args.threads}")
    reset_store(con)
    total = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    lo, hi = con.execute("SELECT min(time), max(time) FROM events").fetchone()  # type: ignore[misc]
    log(f"store: {total:,} events from {lo} to {hi} (built in {build_s:.1f}s)")

    # 1. Everything: each playbook's first run decides the whole history (one correlate call).
    per: dict[str, dict[str, Any]] = {}
    all_s, runs = timed(lambda: correlate(con, playbooks))
    for r in runs:
        # a playbook's own time: its query and its commit (the shared sample fetch is in all_s only)
        per[r.playbook] = {"seconds": round(r.seconds, 3), "events_per_s": round(total / r.seconds),
                           "alerts": r.alerts}
    log(f"all playbooks: {all_s:.1f}s")

    # 2. Incremental: 5 minutes of new events on top of the whole history.
    new = add_five_minutes(con)
    inc_s, inc_runs = timed(lambda: correlate(con, playbooks))
    log(f"incremental on {total:,}: {inc_s:.2f}s")

    # 3. The obvious way, on a sample.
    sample_load_s, sample = timed(lambda: load_sample(con, args.sample))
    for pb in playbooks:
        secs, py_alerts = timed(lambda pb=pb: python_way(pb, sample))
        per[pb.id]["python_events_per_s"] = round(len(sample) / secs)
        per[pb.id]["python_alerts_on_sample"] = py_alerts
        per[pb.id]["speedup"] = round(per[pb.id]["events_per_s"] / (len(sample) / secs), 1)
    con.close()
    py_total = sum(len(sample) / p["python_events_per_s"] for p in per.values())
    log("python way done")

    # 4. The same incremental run on top of one week only (the source store, copied).
    week_db = args.work / "week.duckdb"
    shutil.copy(args.source_db, week_db)
    week = connect(week_db)
    week.execute(f"SET threads = {args.threads}")
    reset_store(week)
    week_total = week.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    correlate(week, playbooks)
    add_five_minutes(week)
    inc_week_s, _ = timed(lambda: correlate(week, playbooks))
    week.close()
    week_db.unlink()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "events": total, "playbooks": len(playbooks), "threads": args.threads,
        "all_playbooks_seconds": round(all_s, 2), "all_events_per_s": round(total / all_s),
        "incremental_5min": {"new_events": new, "seconds": round(inc_s, 2), "history_events": total,
                             "alerts": sum(r.alerts for r in inc_runs)},
        "incremental_5min_on_one_week": {"seconds": round(inc_week_s, 2), "history_events": week_total},
        "python_sample": {"events": len(sample), "load_seconds": round(sample_load_s, 2),
                          "all_playbooks_events_per_s": round(len(sample) / py_total),
                          "with_load_events_per_s": round(len(sample) / (py_total + sample_load_s))},
        # evaluation only (generous to Python), and end to end (the events have to get into Python first)
        "speedup_all_playbooks": round((total / all_s) / (len(sample) / py_total), 1),
        "speedup_end_to_end": round((total / all_s) / (len(sample) / (py_total + sample_load_s)), 1),
        "peak_rss_mb": round(peak_mb),
        "per_playbook": per,
    }
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"{'playbook':38} {'seconds':>8} {'events/s':>12} {'python ev/s':>12} {'speedup':>8} {'alerts':>7}")
        for pid, p in per.items():
            print(f"{pid:38} {p['seconds']:>8.2f} {p['events_per_s']:>12,} {p['python_events_per_s']:>12,} "
                  f"{p['speedup']:>8} {p['alerts']:>7}")
        print(f"all {len(playbooks)} playbooks over {total:,} events: {all_s:.1f}s ({total / all_s:,.0f} events/s)")
        print(f"the Python way on a {len(sample):,}-event sample: {len(sample) / py_total:,.0f} events/s evaluating "
              f"({result['speedup_all_playbooks']}x slower), {len(sample) / (py_total + sample_load_s):,.0f} events/s "
              f"including reading the events into Python ({sample_load_s:.1f}s; "
              f"{result['speedup_end_to_end']}x slower)")
        print(f"incremental 5-minute run ({new:,} new events) on {total:,} events of history: {inc_s:.2f}s; "
              f"on {week_total:,}: {inc_week_s:.2f}s")
        print(f"peak RSS {peak_mb:,.0f} MB (this process: DuckDB and the Python sample)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
