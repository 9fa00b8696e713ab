"""Cost of the PII macros (sql/macros/pii.sql) on ~200-byte log messages.

    uv run python bench/pii_scan.py [--rows N] [--threads T] [--repeat R]

For each message mix and macro, runs the macro over N and 3N synthetic rows (result materialised into a temp table
so nothing is optimised away) and reports:
- marginal CPU per row: (CPU(3N) - CPU(N)) / 2N, process CPU time summed over DuckDB's threads. The difference
  removes the fixed per-query cost (planning the macros' large expressions: ~0.1-0.4 s) and, being CPU time, is
  hardly affected by other processes on a shared machine;
- the share of ingest's budget: 80,000 events/s on 2 cores is 25 core-microseconds per event;
- wall-clock rows/s at 3N rows (best of R runs): what a query of this size sees, fixed cost included.
"""

from __future__ import annotations

import argparse
import os
import time

import duckdb

from breachline.pii import install_pii_macros

# Clean: what most web / admin log messages look like (timestamps with offsets, IPs, ids, paths, prices, a hash).
CLEAN = (
    "'2025-07-02T11:27:' || lpad((i % 60)::VARCHAR, 2, '0') || '+00:00 INFO checkout.session order_id='"
    " || (1000000000 + i)::VARCHAR || ' customer_id=' || (207119551 + i % 997)::VARCHAR"
    " || ' ip=10.' || (i % 255)::VARCHAR || '.3.' || (i % 200)::VARCHAR"
    " || ' path=/admin/api/2026-07/orders/' || (450789469 + i)::VARCHAR || '.json status=200 total=199.65 USD'"
    " || ' request_id=' || md5(i::VARCHAR)"
)
# Clean too, but with a Shopify 14-digit id: a card-shaped number the full path has to look at and reject.
IDS = f"{CLEAN} || ' variant gid://shopify/ProductVariant/' || (40123456789012 + i * 7919)::VARCHAR"
# Customer activity: a clean message that names the customer's email address.
EMAIL = f"{CLEAN} || ' by customer' || (i % 977)::VARCHAR || '@example.com'"
# A leak: every row carries an email, a phone, a card number and a password.
HEAVY = (
    "'2025-07-02T11:27:00+00:00 WARN payment failed for ' || 'customer' || (i % 977)::VARCHAR || '@example.com'"
    " || ' phone +1(502)-459-' || lpad((i % 10000)::VARCHAR, 4, '0')"
    " || ' card ' || (['4242 4242 4242 4242', '5555-5555-5555-4444', '378282246310005'])[1 + i % 3]"
    " || ' body {\"password\":\"hunter' || (i % 100)::VARCHAR || '\"} order ' || (1000000000 + i)::VARCHAR"
)
# A realistic stream: 95 % clean, 4 % with an email, 1 % leaking.
MIXED = f"CASE WHEN i % 100 = 0 THEN {HEAVY} WHEN i % 25 = 0 THEN {EMAIL} ELSE {CLEAN} END"

MIXES = {"clean": CLEAN, "ids": IDS, "email": EMAIL, "mixed": MIXED, "heavy": HEAVY}
MACROS = ("pii_scan", "pii_mask", "pii_scan_mask")
BUDGET_US = 2 * 1e6 / 80_000  # core-microseconds per event at 80k events/s on 2 cores


def run(con: duckdb.DuckDBPyConnection, macro: str, table: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one materialised run."""
    cpu, wall = time.process_time(), time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE out AS SELECT {macro}(m) AS r FROM {table}")
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {args.threads}")
    install_pii_macros(con)
    n = args.rows
    print(f"duckdb {duckdb.__version__}, threads={args.threads}, rows {n} / {3 * n}, load {os.getloadavg()[0]:.1f}")
    print(f"{'mix':6s} {'bytes':>5s} {'macro':14s} {'CPU us/row':>10s} {'budget':>7s} {'wall rows/s':>12s}")
    for name, expr in MIXES.items():
        con.execute(f"CREATE OR REPLACE TABLE small AS SELECT {expr} AS m FROM range({n}) t(i)")
        con.execute(f"CREATE OR REPLACE TABLE big AS SELECT {expr} AS m FROM range({3 * n}) t(i)")
        avg = con.execute("SELECT avg(length(m)) FROM big").fetchone()[0]  # type: ignore[index]
        for macro in MACROS:
            # Minimum over repeats: the run least disturbed by anything else on the machine.
            small = min(run(con, macro, "small")[0] for _ in range(args.repeat))
            big = [run(con, macro, "big") for _ in range(args.repeat)]
            marginal = (min(c for c, _ in big) - small) / (2 * n) * 1e6
            wall = 3 * n / min(w for _, w in big)
            print(f"{name:6s} {avg:5.0f} {macro:14s} {marginal:10.2f} {marginal / BUDGET_US:7.1%} {wall:12,.0f}")


if __name__ == "__main__":
    main()
