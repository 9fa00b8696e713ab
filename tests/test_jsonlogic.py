"""JSONLogic engine: errors with rule paths, schema lint, typed fast paths, security operators in both engines."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from breachline.errors import PlaybookError
from correlators.jsonlogic import (
    JsonLogicError,
    apply,
    apply_sql,
    compile_condition,
    compile_rule,
    compile_sql,
    event_schema,
    install_macros,
    metric_schema,
    safe_connection,
)

SCHEMA = event_schema()


def test_event_schema_flattens_structs() -> None:
    assert SCHEMA["actor.user"] == "VARCHAR"
    assert SCHEMA["http.status"] == "INTEGER"
    assert SCHEMA["pii.types"] == "VARCHAR[]"
    assert SCHEMA["raw"] == "JSON"


def test_unknown_operator_names_the_rule_path_in_both_engines() -> None:
    rule = {"and": [{"==": [1, 1]}, True, {"exist": {"var": "x"}}]}
    for compile_ in (lambda: compile_rule(rule, path="correlation.steps[1].where"),
                     lambda: compile_condition(rule, SCHEMA, path="correlation.steps[1].where")):
        with pytest.raises(JsonLogicError) as info:
            compile_()
        assert str(info.value).startswith('correlation.steps[1].where.and[2]: unknown operator "exist"')
        assert info.value.path == "correlation.steps[1].where.and[2]"
        assert isinstance(info.value, PlaybookError)


@pytest.mark.parametrize(("rule", "message"), [
    ({"==": [1]}, 'operator "==" takes exactly 2 arguments, got 1'),
    ({"!": [1, 2]}, 'operator "!" takes exactly 1 argument, got 2'),
    ({"regex": [{"var": "action"}, "(unclosed"]}, "regex: invalid RE2 pattern"),
    ({"regex": [{"var": "action"}, {"var": "message"}]}, "regex: the pattern must be a string literal"),
    ({"cidr": [{"var": "src.ip"}, "10.0.0.300/8"]}, "is not an IPv4 or IPv6 network"),
    ({"==": [{"var": "action"}, {"a": 1, "b": 2}]}, "an operation is an object with exactly one key"),
])
def test_malformed_rules_are_refused_at_compile_time(rule: Any, message: str) -> None:
    with pytest.raises(JsonLogicError, match="^where.*" + message.replace("(", r"\(").replace('"', '"')):
        compile_rule(rule, path="where")
    with pytest.raises(JsonLogicError, match=message.replace("(", r"\(")):
        compile_condition(rule, SCHEMA, path="where")


def test_log_is_refused_by_the_sql_compiler_only() -> None:
    assert apply({"log": "x"}) == "x"
    with pytest.raises(JsonLogicError, match='"log" is not supported in SQL'):
        compile_sql({"log": "x"}, SCHEMA, path="where")


def test_unknown_field_suggests_the_closest_one() -> None:
    with pytest.raises(JsonLogicError) as info:
        compile_condition({"==": [{"var": "actor.usr"}, "alice"]}, SCHEMA, path="steps[0].where")
    assert 'unknown field "actor.usr" (did you mean "actor.user"?)' in str(info.value)
    assert info.value.path == "steps[0].where.==[0]"


def test_evaluator_lints_against_a_schema_too() -> None:
    rule = {"and": [{"==": [{"var": "raw.whatever"}, 1]}, {"some": [{"var": "pii.types"}, {"var": "x"}]},
                    {"==": [{"var": "actor.usr"}, "alice"]}]}
    with pytest.raises(JsonLogicError) as info:
        compile_rule(rule, path="where", schema=SCHEMA)
    assert info.value.path == "where.and[2].==[0]"
    assert 'did you mean "actor.user"' in info.value.problem
    compile_rule(rule, path="where")  # without a schema: no lint


def test_paths_under_raw_are_not_linted() -> None:
    sql = compile_sql({"var": "raw.anything.at.all"}, SCHEMA)
    assert "jl_walk" in sql


def test_common_playbook_conditions_take_the_typed_fast_path() -> None:
    """No JSON macros for typed comparisons: these run at column speed."""
    for rule in (
        {"==": [{"var": "action"}, "export"]},
        {"in": [{"var": "action"}, ["role_change", "permission_grant"]]},
        {">=": [{"var": "resource.record_count"}, 1000]},
        {"!=": [{"var": "outcome"}, "success"]},
        {"in": ["pan", {"var": "pii.types"}]},
        {"starts_with": [{"var": "http.path"}, "/admin"]},
        {"regex": [{"var": "src.user_agent"}, "curl|python", "i"]},
    ):
        assert "jl_" not in compile_condition(rule, SCHEMA).render(), rule


@pytest.fixture()
def events_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con)
    con.execute("CREATE TABLE e (action VARCHAR, n INTEGER)")
    con.execute("INSERT INTO e VALUES ('export', 1), (NULL, NULL), ('', 0), ('0', 5)")
    return con


@pytest.mark.parametrize("rule", [
    {"==": [{"var": "action"}, "export"]},
    {"<": [{"var": "n"}, 3]},
    {"!": {"var": "action"}},
    {"==": [{"var": "action"}, {"var": "n"}]},
    {"in": [{"var": "action"}, "exports"]},
    {"missing": ["action"]},
])
def test_conditions_are_two_valued(events_con: duckdb.DuckDBPyConnection, rule: Any) -> None:
    cond = compile_condition(rule, {"action": "VARCHAR", "n": "INTEGER"}).render()
    values = [r[0] for r in events_con.execute(f"SELECT {cond} FROM e").fetchall()]
    assert all(v is True or v is False for v in values), values
    expected = [bool(apply(rule, {"action": a, "n": n}) not in (False, None, 0, "", []))
                for a, n in events_con.execute("SELECT action, n FROM e").fetchall()]
    assert values == expected


def test_having_compiles_over_a_metric_schema() -> None:
    con = duckdb.connect()
    install_macros(con)
    con.execute("CREATE TABLE m AS SELECT * FROM (VALUES (25, CAST(10 AS HUGEINT)), (3, CAST(99999 AS HUGEINT)))"
                " t(customers, \"rows\")")
    schema = metric_schema({"customers": "BIGINT", "rows": "HUGEINT"})
    cond = compile_condition({"or": [{">": [{"var": "customers"}, 20]}, {">=": [{"var": "rows"}, 50000]}]},
                             schema, path="having").render()
    assert con.execute(f"SELECT count(*) FROM m WHERE {cond}").fetchone() == (2,)
    with pytest.raises(JsonLogicError, match='unknown field "customer"'):
        compile_condition({">": [{"var": "customer"}, 20]}, schema, path="having")


SECURITY_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"regex": [{"var": "ua"}, "^(curl|python-requests)/"]}, {"ua": "curl/8.1"}, True),
    ({"regex": [{"var": "ua"}, "sqlmap", "i"]}, {"ua": "SQLMap/1.7"}, True),
    ({"regex": [{"var": "ua"}, "sqlmap"]}, {"ua": None}, False),
    ({"starts_with": [{"var": "path"}, "/admin"]}, {"path": "/admin/export"}, True),
    ({"ends_with": [{"var": "file"}, ".csv"]}, {"file": "customers.CSV"}, False),
    ({"==": [{"lower": {"var": "file"}}, "customers.csv"]}, {"file": "customers.CSV"}, True),
    ({"lower": {"var": "n"}}, {"n": 5}, None),
    ({"length": {"var": "types"}}, {"types": ["pan", "ssn"]}, 2),
    ({"length": {"var": "s"}}, {"s": "héllo"}, 5),
    ({"cidr": [{"var": "ip"}, "10.0.0.0/8"]}, {"ip": "10.20.30.40"}, True),
    ({"cidr": [{"var": "ip"}, ["10.0.0.0/8", "2001:db8::/32"]]}, {"ip": "2001:db8::1"}, True),
    ({"cidr": [{"var": "ip"}, "10.0.0.0/8"]}, {"ip": "010.0.0.1"}, False),
    ({"cidr": [{"var": "ip"}, "10.0.0.0/8"]}, {"ip": "::ffff:10.0.0.1"}, False),
    ({"cidr": [{"var": "ip"}, "::ffff:0:0/96"]}, {"ip": "::ffff:10.0.0.1"}, True),
    ({"domain_in": [{"var": "host"}, ["evil.com"]]}, {"host": "cdn.EVIL.com."}, True),
    ({"domain_in": [{"var": "host"}, ["evil.com"]]}, {"host": "notevil.com"}, False),
]


@pytest.mark.parametrize(("rule", "data", "expected"), SECURITY_EXAMPLES)
def test_security_operators_agree(rule: Any, data: Any, expected: Any) -> None:
    assert apply(rule, data) == expected
    assert apply_sql(rule, [data]) == [expected]


def test_safe_connection_has_no_external_access() -> None:
    con = safe_connection()
    with pytest.raises(duckdb.Error):
        con.execute("SELECT * FROM read_csv('/etc/hostname')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")
