"""Public SQL entry points: compile rules to DuckDB expressions, install the macros, run rules over records."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from breachline.paths import SQL_DIR
from correlators.jsonlogic import sqltree as t
from correlators.jsonlogic.errors import JsonLogicError, JsonLogicEvalError
from correlators.jsonlogic.schema import type_kind
from correlators.jsonlogic.sqlcompiler import TIME_FORMAT, SqlCompiler
from correlators.jsonlogic.sqlvalues import to_json
from correlators.jsonlogic.values import UNDEFINED

MACROS_SQL = SQL_DIR / "macros" / "jsonlogic.sql"
_EVAL_ERROR_MARKERS = ("Unrecognized operation", "Reduce of empty array", "Cannot read properties",
                       "JSONLogic SQL:")


def compile_value(rule: Any, schema: Mapping[str, str] | None, *, path: str = "", strict: bool = True,
                  json_column: str = "data") -> t.Node:
    """The rule's value as a SQL expression tree (typed where the schema allows, else JSON)."""
    compiler = SqlCompiler(schema, strict=strict, json_column=json_column)
    return compiler.value(rule, path, compiler.root()).sql


def compile_sql(rule: Any, schema: Mapping[str, str] | None, *, path: str = "", strict: bool = True,
                json_column: str = "data") -> str:
    """The rule's value as DuckDB SQL text. `schema` None: the record is one JSON column `json_column`."""
    return compile_value(rule, schema, path=path, strict=strict, json_column=json_column).render()


def compile_json_value(rule: Any, schema: Mapping[str, str] | None, *, path: str = "", strict: bool = True,
                       json_column: str = "data") -> t.Node:
    """The rule's value as a JSON expression (SQL NULL = undefined): what apply_sql selects."""
    compiler = SqlCompiler(schema, strict=strict, json_column=json_column)
    return to_json(compiler.value(rule, path, compiler.root()))


def compile_condition(rule: Any, schema: Mapping[str, str] | None, *, path: str = "", strict: bool = True,
                      json_column: str = "data") -> t.Node:
    """The rule's truthiness as a SQL boolean expression tree: TRUE or FALSE, never NULL (str() renders)."""
    compiler = SqlCompiler(schema, strict=strict, json_column=json_column)
    return compiler.cond(rule, path, compiler.root())


def compile_filter(rule: Any, schema: Mapping[str, str] | None, *, path: str = "", strict: bool = True,
                   json_column: str = "data") -> t.Node:
    """Like compile_condition, for a WHERE clause only: a NULL there rejects the row exactly like FALSE, so
    the two-valued guards (coalesce(x, FALSE)) are dropped wherever the result is not negated. That leaves
    plain column comparisons DuckDB can push into the scan. Do not negate or SELECT the result: use
    compile_condition for that."""
    return _strip_guards(compile_condition(rule, schema, path=path, strict=strict, json_column=json_column))


def _strip_guards(node: t.Node) -> t.Node:
    if isinstance(node, t.Func) and node.name == "coalesce" and len(node.args) == 2 and node.args[1] == t.FALSE:
        return _strip_guards(node.args[0])
    if isinstance(node, t.Binary) and node.op in ("AND", "OR"):
        return t.Binary(node.op, _strip_guards(node.left), _strip_guards(node.right))
    if isinstance(node, t.Case):
        return t.Case(tuple((_strip_guards(c), _strip_guards(v)) for c, v in node.whens), _strip_guards(node.otherwise))
    return node


def metric_schema(metrics: Mapping[str, str]) -> dict[str, str]:
    """A schema for `having` conditions over aggregate columns (name -> DuckDB type), checked."""
    out: dict[str, str] = {}
    for name, dtype in metrics.items():
        if not name or "\x00" in name:
            raise JsonLogicError("having", f"bad metric name {name!r}")
        if type_kind(dtype)[0] in ("other", "struct"):
            raise JsonLogicError("having", f"metric {name!r} has a type JSONLogic cannot compare: {dtype}")
        out[name] = dtype
    return out


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) the jl_* macros on `con`; compiled rules may call them. Idempotent."""
    con.execute(MACROS_SQL.read_text())


def safe_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the macros and external access disabled (locked): rules read only what they
    are given."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    install_macros(con)
    con.execute("SET lock_configuration = true")
    return con


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = safe_connection()
        _local.con = con
    return con


def _loads(text: str | None) -> Any:
    if text is None:
        return UNDEFINED
    return json.loads(text)


def apply_sql(rule: Any, records: Sequence[Any], *, strict: bool = True, path: str = "") -> list[Any]:
    """Run `rule` in DuckDB over untyped JSON records (UNDEFINED = no data) and return each record's value.

    The comparison twin of `[apply(rule, r) for r in records]`: same values, computed set-based in SQL.
    """
    node = compile_json_value(rule, None, path=path, strict=strict, json_column="data")
    texts = [None if r is UNDEFINED else json.dumps(r, allow_nan=True) for r in records]
    sql = (
        f"SELECT CAST({node.render()} AS VARCHAR) FROM "
        "(SELECT unnest(range(len($texts))) AS i, CAST(unnest($texts) AS JSON) AS data) ORDER BY i"
    )
    con = _connection()
    try:
        rows = con.execute(sql, {"texts": texts}).fetchall()
    except duckdb.Error as exc:
        message = str(exc)
        if any(m in message for m in _EVAL_ERROR_MARKERS):
            raise JsonLogicEvalError(path, message.split("\n")[0]) from exc
        raise
    return [_loads(r[0]) for r in rows]


def event_record(row: Mapping[str, Any], json_columns: Sequence[str] = ("raw",)) -> dict[str, Any]:
    """An events row (as DuckDB returns it) as the evaluator's data: timestamps as the compiler's strings,
    JSON columns parsed. With this, apply(rule, event_record(row)) == the compiled SQL on that row."""
    out = {k: _record_value(v) for k, v in row.items()}
    for name in json_columns:
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    return out


def _record_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v.strftime(TIME_FORMAT)
    if isinstance(v, dict):
        return {k: _record_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_record_value(x) for x in v]
    return v
