"""JSONLogic benchmark: realistic playbook conditions compiled to DuckDB SQL over the typed event schema,
next to the same conditions written by hand in SQL, the reference evaluator and the best PyPI package
(panzi-json-logic) on a sample, all in one run.

    uv run python bench/jsonlogic.py                      # fast: 1 M events, 20 k-event Python sample
    uv run python bench/jsonlogic.py --events 10000000 --sample 200000

Events are synthesised directly in DuckDB (hash-based, deterministic) in the events table's own types.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from breachline.store import connect
from correlators.jsonlogic import (
    compile_filter,
    compile_rule,
    event_record,
    event_schema,
    install_macros,
    security,
    truthy,
)

# (name, JSONLogic condition, the same condition written by hand in SQL)
CONDITIONS: list[tuple[str, Any, str]] = [
    ("bulk_export",
     {"and": [{"==": [{"var": "action"}, "export"]}, {">=": [{"var": "resource.record_count"}, 1000]},
              {"in": [{"var": "outcome"}, ["success", "allowed"]]}]},
     "action = 'export' AND resource.record_count >= 1000 AND outcome IN ('success', 'allowed')"),
    ("admin_escalation",
     {"and": [{"in": [{"var": "action"}, ["role_change", "permission_grant"]]},
              {"!": {"in": [{"var": "actor.user"}, ["etl-service", "admin-bot"]]}},
              {"==": [{"var": "actor.role"}, "admin"]}]},
     "action IN ('role_change', 'permission_grant') AND actor.user NOT IN ('etl-service', 'admin-bot')"
     " AND actor.role = 'admin'"),
    ("pii_to_unknown_host",
     {"and": [{"in": ["pan", {"var": "pii.types"}]}, {">": [{"var": "pii.count"}, 10]},
              {"!": {"domain_in": [{"var": "dst.host"}, ["example-shop.com", "stripe.com", "slack.com"]]}},
              {"==": [{"var": "dst.scheme"}, "https"]}]},
     "list_contains(pii.types, 'pan') AND pii.count > 10 AND NOT regexp_full_match(lower(dst.host),"
     " '(.*\\.)?(example-shop\\.com|stripe\\.com|slack\\.com)\\.?') AND dst.scheme = 'https'"),
    ("scanner_or_admin_probe",
     {"or": [{"regex": [{"var": "src.user_agent"}, "sqlmap|nikto|curl|python-requests", "i"]},
             {"and": [{">=": [{"var": "http.status"}, 400]}, {"<": [{"var": "http.status"}, 500]},
                      {"starts_with": [{"var": "http.path"}, "/admin"]}]}]},
     "regexp_matches(src.user_agent, '(?i)sqlmap|nikto|curl|python-requests')"
     " OR (http.status >= 400 AND http.status < 500 AND starts_with(http.path, '/admin'))"),
    ("external_admin_login",
     {"and": [{"==": [{"var": "action"}, "login"]}, {"==": [{"var": "outcome"}, "success"]},
              {"==": [{"var": "actor.role"}, "admin"]},
              {"!": {"cidr": [{"var": "src.ip"}, ["10.0.0.0/8", "192.168.0.0/16"]]}},
              {"in": [{"var": "src.country"}, ["RU", "KP", "IR", "BY"]]}]},
     "action = 'login' AND outcome = 'success' AND actor.role = 'admin'"
     " AND NOT (src.ip LIKE '10.%' OR src.ip LIKE '192.168.%') AND src.country IN ('RU', 'KP', 'IR', 'BY')"),
    ("waf_sqli_block",
     {"and": [{"==": [{"var": "waf.action"}, "block"]}, {"in": ["sqli", {"var": "waf.labels"}]},
              {"!=": [{"var": "http.method"}, "GET"]},
              {"if": [{"==": [{"var": "category"}, "waf"]}, True, {">=": [{"var": "http.status"}, 400]}]}]},
     "waf.action = 'block' AND list_contains(waf.labels, 'sqli') AND http.method <> 'GET'"
     " AND (category = 'waf' OR http.status >= 400)"),
]


def operator_count(rule: Any) -> int:
    if isinstance(rule, list):
        return sum(operator_count(x) for x in rule)
    if isinstance(rule, dict) and len(rule) == 1:
        ((_, args),) = rule.items()
        return 1 + operator_count(args)
    return 0


SYNTH = """
INSERT INTO ev
WITH g AS (SELECT i, (i * 2654435761 + 12345) % 1000003 AS h, (i * 40503 + 977) % 999983 AS k FROM range({n}) t(i))
SELECT
  'e' || i, to_timestamp(1767225600 + i // 100), to_timestamp(1767225600 + i // 100),
  ['aws_waf', 'app_json', 'magento_action_log', 'shopify_events'][h % 4 + 1], 'synthetic',
  ['waf', 'app', 'admin'][k % 3 + 1],
  ['login', 'logout', 'view', 'api_request', 'export', 'role_change', 'permission_grant', 'update', 'delete',
   'search', 'webhook_delivery', 'view'][h % 12 + 1],
  CASE WHEN k % 50 = 0 THEN NULL ELSE ['success', 'success', 'failure', 'blocked', 'allowed'][k % 5 + 1] END,
  'shop' || (h % 20),
  {'user': CASE WHEN h % 33 = 0 THEN NULL WHEN h % 97 = 0 THEN 'etl-service' ELSE 'user' || (k % 5000) END,
   'user_id': CAST(k % 5000 AS VARCHAR), 'role': ['customer', 'admin', 'support', 'api'][k % 4 + 1],
   'session_id': NULL, 'customer_id': 'c' || (h % 100000), 'api_client': NULL, 'app': NULL},
  {'ip': CASE WHEN h % 50 = 0 THEN '2001:db8::' || printf('%x', k % 65536)
              WHEN h % 7 = 0 THEN '10.' || (k % 256) || '.' || (h % 256) || '.' || (i % 256)
              ELSE (k % 223 + 1) || '.' || (h % 256) || '.' || (i % 256) || '.' || (k % 254 + 1) END,
   'country': ['US', 'DE', 'FR', 'RU', 'KP', 'IR', 'GB', 'BR', 'BY', 'US'][k % 10 + 1], 'asn': NULL,
   'user_agent': ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.4.0', 'python-requests/2.31', 'sqlmap/1.7',
                  'Mozilla/5.0 (iPhone)', 'Mozilla/5.0 (Windows NT 10.0)'][h % 6 + 1]},
  {'method': ['GET', 'GET', 'POST', 'PUT', 'DELETE'][k % 5 + 1], 'host': 'shop.example.com',
   'path': ['/admin/export', '/api/orders', '/checkout', '/admin/users', '/login', '/static/app.js'][k % 6 + 1],
   'query': NULL, 'status': [200, 200, 200, 302, 401, 403, 404, 500][h % 8 + 1],
   'request_bytes': k % 4096, 'response_bytes': h % 100000},
  {'type': 'customer', 'id': 'r' || i, 'owner_id': 'c' || (k % 100000),
   'record_count': CASE WHEN h % 40 = 0 THEN NULL WHEN h % 12 = 4 THEN k % 5000 ELSE k % 10 END},
  {'url': NULL, 'host': CASE WHEN k % 3 = 0 THEN ['hooks.slack.com', 'api.stripe.com', 'evil-exfil.ru',
                                              'cdn.example-shop.com', 'x.pastebin.com'][h % 5 + 1] END,
   'scheme': 'https'},
  {'rule_id': NULL, 'rule_group': NULL, 'action': ['allow', 'block', 'count'][h % 3 + 1], 'attack': NULL,
   'labels': CASE WHEN h % 10 = 0 THEN ['sqli'] WHEN h % 10 = 1 THEN ['xss', 'bot'] ELSE [] END},
  {'types': CASE WHEN h % 20 = 0 THEN ['pan'] WHEN h % 20 = 1 THEN ['email', 'phone'] WHEN h % 20 = 2
                 THEN ['pan', 'ssn'] ELSE [] END, 'count': k % 30},
  'event ' || i, NULL
FROM g
"""


def build(n: int) -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    install_macros(con)
    con.execute("CREATE TABLE ev AS SELECT * FROM events WHERE false")  # the events types, no key index
    con.execute(SYNTH.replace("{n}", str(int(n))))
    return con


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def panzi_operations() -> dict[str, Any]:
    """panzi-json-logic's builtins plus the security operators (same Python semantics as the evaluator)."""
    from json_logic.builtins import BUILTINS

    ops: dict[str, Any] = dict(BUILTINS)
    regex_cache: dict[tuple[str, str], Any] = {}

    def regex(_data: Any, value: Any, pattern: str, flags: str = "") -> bool:
        key = (pattern, flags)
        if key not in regex_cache:
            regex_cache[key] = security.compile_regex(security.regex_pattern(pattern, flags, ""))
        return isinstance(value, str) and regex_cache[key].search(value) is not None

    ops["regex"] = regex
    ops["starts_with"] = lambda _d, s, a: isinstance(s, str) and s.startswith(a)
    ops["cidr"] = lambda _d, ip, nets: security.in_networks(ip, security.networks(nets, ""))
    ops["domain_in"] = lambda _d, host, ds: security.domain_matches(host, security.domains(ds, ""))
    return ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events synthesised in DuckDB")
    parser.add_argument("--sample", type=int, default=20_000, help="events given to the Python engines")
    parser.add_argument("--repeat", type=int, default=3, help="SQL timings: best of this many runs")
    args = parser.parse_args(argv)

    from json_logic import jsonLogic

    t0 = time.perf_counter()
    con = build(args.events)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"synthesised {args.events:,} events in {time.perf_counter() - t0:.1f}s "
          f"(DuckDB {duckdb.__version__}, {threads} threads)")
    cur = con.execute(f"SELECT * FROM ev LIMIT {args.sample}")
    names = [d[0] for d in cur.description]
    sample = [event_record(dict(zip(names, row, strict=True))) for row in cur.fetchall()]
    schema = event_schema()
    ops = panzi_operations()

    header = (f"{'condition':24} {'ops':>3} {'matches':>9} {'compiled SQL':>14} {'hand SQL':>14} {'ratio':>6} "
              f"{'evaluator':>11} {'panzi':>11} {'SQL/panzi':>9}")
    print(header)
    print("-" * len(header))
    ratios_hand, ratios_panzi = [], []
    for name, rule, hand in CONDITIONS:
        where = compile_filter(rule, schema).render()
        t_sql, (matches,) = best_of(lambda w=where: con.execute(f"SELECT count(*) FROM ev WHERE {w}").fetchone(),
                                     args.repeat)
        t_hand, (hand_matches,) = best_of(
            lambda h=hand: con.execute(f"SELECT count(*) FROM ev WHERE {h}").fetchone(), args.repeat)
        fn = compile_rule(rule)
        t_eval, eval_hits = best_of(lambda f=fn: sum(1 for r in sample if truthy(f(r))), 1)
        t_panzi, panzi_hits = best_of(lambda r=rule: sum(1 for e in sample if jsonLogic(r, e, ops)), 1)
        sql_rate, hand_rate = args.events / t_sql, args.events / t_hand
        eval_rate, panzi_rate = len(sample) / t_eval, len(sample) / t_panzi
        ratios_hand.append(t_sql / t_hand)
        ratios_panzi.append(sql_rate / panzi_rate)
        note = "" if matches == hand_matches else f"  (hand SQL: {hand_matches:,} - NULL semantics differ)"
        sample_sql = con.execute(f"SELECT count(*) FROM (SELECT * FROM ev LIMIT {args.sample}) WHERE {where}")\
            .fetchone()[0]
        if sample_sql != eval_hits or eval_hits != panzi_hits:
            note += f"  (sample hits: SQL {sample_sql}, evaluator {eval_hits}, panzi {panzi_hits})"
        print(f"{name:24} {operator_count(rule):>3} {matches:>9,} {sql_rate / 1e6:>10.1f} M/s "
              f"{hand_rate / 1e6:>10.1f} M/s {t_sql / t_hand:>6.2f} {eval_rate / 1e3:>7.0f} k/s "
              f"{panzi_rate / 1e3:>7.0f} k/s {sql_rate / panzi_rate:>8.0f}x{note}")
    print(f"\ncompiled SQL time / hand-written SQL time: median {statistics.median(ratios_hand):.2f}, "
          f"worst {max(ratios_hand):.2f} (target <= 2)")
    print(f"compiled SQL rows/s / panzi-json-logic rows/s: median {statistics.median(ratios_panzi):.0f}x, "
          f"lowest {min(ratios_panzi):.0f}x (target >= 100x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
