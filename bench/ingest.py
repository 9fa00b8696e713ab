"""Ingest benchmark: events/s per format end to end into DuckDB, next to DuckDB's bare read_json (the floor) and a
naive per-record Python loader (the baseline), with peak memory, all in one run.

    uv run python bench/ingest.py                      # 2,000,000 events over 7 days (takes a few minutes)
    uv run python bench/ingest.py --events 200000      # quick look

Each measurement runs in its own process, so its peak RSS is its own. Generated data is cached under --work.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

JSON_LINES_FORMATS = ("aws_waf", "cloudflare_firewall", "modsecurity", "app_json", "shopify_events")
ALL_FORMATS = ("aws_waf", "cloudflare_firewall", "modsecurity", "app_json", "shopify_events", "magento_log",
               "magento_action_log")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def files_of(logs: Path, fmt: str) -> list[str]:
    return sorted(str(p) for p in (logs / fmt).rglob("*") if p.is_file())


# ---- the three contenders, each run in a child process -------------------------------------------------------

def run_breachline(logs: Path, fmt: str, db: Path) -> dict[str, Any]:
    from breachline.config import SourceConfig
    from breachline.store import connect
    from connectors.sources.ingest import ingest_source

    con = connect(db)
    t0 = time.perf_counter()
    stats = ingest_source(con, SourceConfig(fmt, fmt, str(logs / fmt)))
    seconds = time.perf_counter() - t0
    con.close()
    return {"records": stats.records, "added": stats.added, "seconds": seconds, "peak_mb": peak_mb()}


def run_floor(logs: Path, fmt: str, db: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    # DuckDB's own reader into an untyped table: no normalisation, no PII scan, no dedup. The floor.
    con.execute("CREATE TABLE floor AS SELECT * FROM read_json(?, format = 'newline_delimited', union_by_name = true,"
                " maximum_object_size = 33554432)", [files_of(logs, fmt)])
    seconds = time.perf_counter() - t0
    n = con.execute("SELECT count(*) FROM floor").fetchone()[0]  # type: ignore[index]
    con.close()
    return {"records": n, "seconds": seconds, "peak_mb": peak_mb()}


def run_naive(logs: Path, fmt: str, db: Path, limit: int) -> dict[str, Any]:
    """What one writes first: json.loads per line, a dict per event, batched executemany inserts."""
    import gzip

    import duckdb

    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE events (event_id VARCHAR, time TIMESTAMPTZ, action VARCHAR, outcome VARCHAR,"
                " src_ip VARCHAR, country VARCHAR, method VARCHAR, host VARCHAR, path VARCHAR, query VARCHAR,"
                " rule_id VARCHAR, labels VARCHAR[], raw VARCHAR)")
    rows: list[tuple[Any, ...]] = []
    n = 0
    t0 = time.perf_counter()
    for path in files_of(logs, fmt):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if n >= limit:
                    break
                rec = json.loads(line)
                req = rec.get("httpRequest", {})
                headers = {h["name"].lower(): h["value"] for h in req.get("headers", [])}
                event = {
                    "event_id": f"{req.get('requestId')}@{rec['timestamp']}",
                    "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(rec["timestamp"] / 1000)) + "+00",
                    "action": rec.get("action", "").lower(),
                    "outcome": "blocked" if rec.get("action") in ("BLOCK", "CAPTCHA") else "allowed",
                    "src_ip": req.get("clientIp"), "country": req.get("country"), "method": req.get("httpMethod"),
                    "host": headers.get("host"), "path": req.get("uri"), "query": req.get("args"),
                    "rule_id": rec.get("terminatingRuleId"),
                    "labels": [lab["name"] for lab in rec.get("labels") or []],
                    "raw": line,
                }
                rows.append(tuple(event.values()))
                n += 1
                if len(rows) == 1000:
                    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    rows.clear()
    if rows:
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    seconds = time.perf_counter() - t0
    con.close()
    return {"records": n, "seconds": seconds, "peak_mb": peak_mb()}


# ---- driver ----------------------------------------------------------------------------------------------------

def child(kind: str, logs: Path, fmt: str, work: Path, limit: int) -> dict[str, Any]:
    db = work / f"{kind}-{fmt}.duckdb"
    db.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", kind, "--logs", str(logs), "--format", fmt, "--db", str(db),
           "--limit", str(limit)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    db.unlink(missing_ok=True)
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000, help="events to generate in total (all formats)")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-sample", type=int, default=50_000, help="records the naive baseline loads")
    ap.add_argument("--formats", default=",".join(ALL_FORMATS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/breachline-bench"))
    ap.add_argument("--child", choices=["breachline", "floor", "naive"], help=argparse.SUPPRESS)
    ap.add_argument("--logs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--format", help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        fn = {"breachline": run_breachline, "floor": run_floor}.get(args.child)
        result = fn(args.logs, args.format, args.db) if fn else run_naive(args.logs, args.format, args.db, args.limit)
        print(json.dumps(result))
        return

    from breachline.generate import generate_store

    logs = args.work / f"logs-{args.events}-{args.days}-{args.seed}"
    args.work.mkdir(parents=True, exist_ok=True)
    if not (logs / "ground_truth.jsonl").exists():
        t0 = time.perf_counter()
        summary = generate_store(logs, days=args.days, seed=args.seed, events_per_day=args.events // args.days)
        print(f"generated {summary.total_events:,} events in {time.perf_counter() - t0:.1f} s → {logs}")
    total_bytes = sum(p.stat().st_size for p in logs.rglob("*") if p.is_file())
    print(f"input: {logs} ({total_bytes / 1e6:,.0f} MB on disk)")
    print()
    header = (f"{'format':20} {'records':>10} {'breachline ev/s':>16} {'peak MB':>8} │ {'floor rec/s':>12} "
              f"{'× floor':>8} │ {'naive ev/s':>11} {'× naive':>8}")
    print(header)
    print("─" * len(header))
    totals = {"records": 0, "seconds": 0.0}
    for fmt in args.formats.split(","):
        ours = child("breachline", logs, fmt, args.work, 0)
        totals["records"] += ours["records"]
        totals["seconds"] += ours["seconds"]
        rate = ours["records"] / ours["seconds"]
        floor_s = naive_s = ratio_f = ratio_n = "-"
        if fmt in JSON_LINES_FORMATS:
            floor = child("floor", logs, fmt, args.work, 0)
            f_rate = floor["records"] / floor["seconds"]
            floor_s, ratio_f = f"{f_rate:,.0f}", f"{rate / f_rate:.2f}"
        if fmt == "aws_waf":
            naive = child("naive", logs, fmt, args.work, args.naive_sample)
            n_rate = naive["records"] / naive["seconds"]
            naive_s, ratio_n = f"{n_rate:,.0f}", f"{rate / n_rate:.1f}"
        print(f"{fmt:20} {ours['records']:>10,} {rate:>16,.0f} {ours['peak_mb']:>8,.0f} │ {floor_s:>12} "
              f"{ratio_f:>8} │ {naive_s:>11} {ratio_n:>8}", flush=True)
    print("─" * len(header))
    print(f"{'all formats':20} {totals['records']:>10,} {totals['records'] / totals['seconds']:>16,.0f}")
    print()
    print("breachline: parse + normalise + PII scan/mask + dedup + insert into the typed events table.")
    print("floor: DuckDB read_json of the same files into an untyped table. naive: json.loads per record, a dict per")
    print(f"event, executemany in batches of 1,000 (first {args.naive_sample:,} records).")


if __name__ == "__main__":
    main()
