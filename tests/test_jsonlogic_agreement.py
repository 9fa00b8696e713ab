"""Property tests: the evaluator and the compiled SQL select exactly the same events, typed and JSON mode."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from breachline.store import connect
from correlators.jsonlogic import (
    JsonLogicError,
    apply_sql,
    compile_condition,
    compile_rule,
    event_record,
    event_schema,
    install_macros,
    metric_schema,
    truthy,
)
from tests.jsonlogic_conformance import same_value
from tests.jsonlogic_strategies import METRIC_SCHEMA, events, metric_rows, rules

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = event_schema()

_STRUCT_FIELDS = {
    "actor": ["user", "user_id", "role", "session_id", "customer_id", "api_client", "app"],
    "src": ["ip", "country", "asn", "user_agent"],
    "http": ["method", "host", "path", "query", "status", "request_bytes", "response_bytes"],
    "resource": ["type", "id", "owner_id", "record_count"],
    "dst": ["url", "host", "scheme"],
    "waf": ["rule_id", "rule_group", "action", "attack", "labels"],
    "pii": ["types", "count"],
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = connect(":memory:")
    install_macros(c)
    # Same columns and types as events, without the NOT NULL / key constraints (edge rows need NULLs).
    c.execute("CREATE TABLE ev AS SELECT * FROM events WHERE false")
    return c


def _full_struct(name: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {f: value.get(f) for f in _STRUCT_FIELDS[name]}


def _load(con: duckdb.DuckDBPyConnection, evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    con.execute("DELETE FROM ev")
    for i, e in enumerate(evs):
        con.execute(
            "INSERT INTO ev (event_id, time, ingested_at, source, source_format, category, action, message, actor, src,"
            " http, resource, dst, waf, pii, raw) VALUES (?, TIMESTAMPTZ '2026-01-02 03:04:05.123456+00', now(),"
            " 'test', 'test', 'app', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"e{i:03d}", e["action"], e["message"], *(_full_struct(k, e[k]) for k in
             ("actor", "src", "http", "resource", "dst", "waf", "pii")),
             None if e["raw"] is None else json.dumps(e["raw"])],
        )
    cur = con.execute("SELECT * FROM ev ORDER BY event_id")
    names = [d[0] for d in cur.description]
    return [event_record(dict(zip(names, row, strict=True))) for row in cur.fetchall()]


def _compiles(rule: Any) -> bool:
    try:
        compile_rule(rule)
        compile_condition(rule, SCHEMA)
    except JsonLogicError:
        return False
    return True


_EMPTY_EVENT = {"action": None, "message": None, "actor": None, "src": None, "dst": None, "http": None,
                "resource": {"record_count": 2**53 + 1}, "pii": None, "waf": None, "raw": None}


@SETTINGS
@given(rule=rules(), evs=st.lists(events(), min_size=1, max_size=8))
@example(rule={"<": [{"var": "http.status"}, 500]}, evs=[_EMPTY_EVENT])  # null < 500 is true in JS
@example(rule={"!": {"in": [{"var": "actor.user"}, ["a"]]}}, evs=[_EMPTY_EVENT])  # NOT over NULL
@example(rule={"==": [{"var": "resource.record_count"}, 2**53]}, evs=[_EMPTY_EVENT])  # 2^53+1 is 2^53 in JS
@example(rule={"==": [{"var": "action"}, {"var": "message"}]}, evs=[_EMPTY_EVENT])  # null == null
def test_typed_sql_selects_the_same_events(con: duckdb.DuckDBPyConnection, rule: Any,
                                           evs: list[dict[str, Any]]) -> None:
    if not _compiles(rule):
        return
    records = _load(con, evs)
    fn = compile_rule(rule)
    expected = [r["event_id"] for r in records if truthy(fn(r))]
    where = compile_condition(rule, SCHEMA).render()
    got = [row[0] for row in con.execute(f"SELECT event_id FROM ev WHERE {where} ORDER BY event_id").fetchall()]
    assert got == expected, where
    # two-valued: the negation selects exactly the others (a NULL would drop rows from both)
    rest = [row[0] for row in con.execute(f"SELECT event_id FROM ev WHERE NOT ({where}) ORDER BY event_id").fetchall()]
    assert sorted(got + rest) == [r["event_id"] for r in records]


@SETTINGS
@given(rule=rules(), evs=st.lists(events(), min_size=1, max_size=6))
def test_json_mode_returns_the_same_values(con: duckdb.DuckDBPyConnection, rule: Any,
                                           evs: list[dict[str, Any]]) -> None:
    """Untyped records (apply_sql): every value, not only truthiness, matches the evaluator."""
    if not _compiles(rule):
        return
    records = _load(con, evs)
    fn = compile_rule(rule)
    expected = [fn(r) for r in records]
    got = apply_sql(rule, records)
    for e, g in zip(expected, got, strict=True):
        assert same_value(json.loads(json.dumps(_plain(e), allow_nan=True)), g), (rule, e, g)


def _plain(v: Any) -> Any:
    from correlators.jsonlogic.values import to_json_compatible

    return to_json_compatible(v)


_NAN_ROW = {"count": 1, "customers": None, "rows": 2**100, "amount": float("nan"), "flag": None}


@SETTINGS
@given(rule=rules(typed_paths=list(METRIC_SCHEMA), raw_paths=[], list_paths=[]),
       rows=st.lists(metric_rows(), min_size=1, max_size=8))
@example(rule={"==": [{"var": "amount"}, {"var": "amount"}]}, rows=[_NAN_ROW])  # NaN equals nothing
@example(rule={">": [{"var": "amount"}, 1]}, rows=[_NAN_ROW])  # DuckDB sorts NaN above everything
@example(rule={"<": [{"var": "customers"}, 5]}, rows=[_NAN_ROW])  # null reads as 0
@example(rule={"==": [{"var": "rows"}, 2**100 + 1]}, rows=[_NAN_ROW])  # doubles, as in JS
def test_having_over_metrics_selects_the_same_rows(con: duckdb.DuckDBPyConnection, rule: Any,
                                                   rows: list[dict[str, Any]]) -> None:
    """`having` conditions: BIGINT / HUGEINT / DOUBLE (NaN, ±Infinity) / BOOLEAN columns."""
    schema = metric_schema(METRIC_SCHEMA)
    try:
        fn = compile_rule(rule)
        where = compile_condition(rule, schema).render()
    except JsonLogicError:
        return
    con.execute('CREATE OR REPLACE TABLE m (i INTEGER, "count" BIGINT, customers BIGINT, "rows" HUGEINT,'
                ' amount DOUBLE, flag BOOLEAN)')
    con.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?)",
                    [[i, r["count"], r["customers"], r["rows"], r["amount"], r["flag"]] for i, r in enumerate(rows)])
    stored = con.execute('SELECT i, "count", customers, "rows", amount, flag FROM m ORDER BY i').fetchall()
    records = [dict(zip(["i", *METRIC_SCHEMA], row, strict=True)) for row in stored]
    expected = [r["i"] for r in records if truthy(fn(r))]
    got = [row[0] for row in con.execute(f"SELECT i FROM m WHERE {where} ORDER BY i").fetchall()]
    assert got == expected, where
