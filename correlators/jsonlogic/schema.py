"""Event schemas for the SQL compiler: dotted path -> DuckDB type, the kind of JS value each type holds,
and the lint that refuses unknown `var` paths with a did-you-mean suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import duckdb

from correlators.jsonlogic.errors import JsonLogicError

Schema = Mapping[str, str]

_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT", "INT", "INT4", "INT8", "LONG"}
)
_FLOAT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL", "FLOAT8", "FLOAT4"})
_STRING_TYPES = frozenset({"VARCHAR", "TEXT", "STRING", "UUID", "CHAR", "BPCHAR"})
_TIME_TYPES = frozenset({"TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "DATE"})


def type_kind(duckdb_type: str) -> tuple[str, str | None]:
    """(kind, element kind) of a column type: kinds are str, num, float, bool, time, list, json, struct."""
    t = duckdb_type.strip().upper()
    if t.endswith("[]"):
        elem, _ = type_kind(t[:-2])
        return "list", elem
    if t in _STRING_TYPES:
        return "str", None
    if t in _INTEGER_TYPES:
        return "num", None
    if t in _FLOAT_TYPES or t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        return "float", None
    if t == "BOOLEAN" or t == "BOOL":
        return "bool", None
    if t in _TIME_TYPES:
        return "time", None
    if t == "JSON":
        return "json", None
    if t.startswith("STRUCT"):
        return "struct", None
    return "other", None


def _flatten(prefix: str, dtype: Any, out: dict[str, str]) -> None:
    out[prefix] = str(dtype)
    if getattr(dtype, "id", None) == "struct":
        for name, child in dtype.children:
            _flatten(f"{prefix}.{name}", child, out)


def relation_schema(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Dotted path -> DuckDB type for every column and STRUCT field of `table` (STRUCTs flattened)."""
    rel = con.table(table)
    out: dict[str, str] = {}
    for name, dtype in zip(rel.columns, rel.types, strict=True):
        _flatten(name, dtype, out)
    return out


def event_schema() -> dict[str, str]:
    """The event table's schema as the SQL compiler wants it, read from the migrations."""
    from breachline.store import connect

    con = connect(":memory:")
    try:
        return relation_schema(con, "events")
    finally:
        con.close()


def resolve(schema: Schema, path: str, var_path: str) -> tuple[str, str | None]:
    """Split a `var` path into (schema path, rest inside a JSON column or None), or raise the lint error.

    The longest schema prefix wins; a rest is only allowed under a JSON-typed column (e.g. raw.*).
    """
    if var_path in schema:
        return var_path, None
    parts = var_path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in schema and type_kind(schema[prefix])[0] == "json":
            return prefix, ".".join(parts[i:])
    raise JsonLogicError(path, unknown_field_message(schema, var_path))


def unknown_field_message(schema: Schema, var_path: str) -> str:
    leaves = [p for p, t in schema.items() if type_kind(t)[0] != "struct"]
    close = difflib.get_close_matches(var_path, leaves, n=1, cutoff=0.6)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    json_cols = sorted(p for p, t in schema.items() if type_kind(t)[0] == "json")
    under = f"; fields outside the schema go under {', '.join(c + '.' for c in json_cols)}" if json_cols else ""
    return f'unknown field "{var_path}"{hint}{under}'


def lint_vars(rule: Any, schema: Schema, path: str = "") -> None:
    """Raise JsonLogicError for the first literal `var` path (outside map/filter/... element logic) that the
    schema does not have, with a did-you-mean suggestion. Paths under JSON columns (raw.*) are allowed."""
    from correlators.jsonlogic.errors import child_path
    from correlators.jsonlogic.spec import SCOPED_OPERATORS, is_logic, operation

    if isinstance(rule, list):
        for i, item in enumerate(rule):
            lint_vars(item, schema, child_path(path, i))
        return
    if not is_logic(rule):
        return
    op, values = operation(rule)
    as_list = isinstance(rule[op], list)
    arg_paths = [child_path(child_path(path, op), i) if as_list else child_path(path, op) for i in range(len(values))]
    if op == "var":
        key = values[0] if values else None
        if isinstance(key, str | int) and not isinstance(key, bool) and key != "":
            resolve(schema, path or "rule", str(key))
        for v, p in zip(values[1:], arg_paths[1:], strict=True):
            lint_vars(v, schema, p)
        return
    checked = [0, 2] if op in SCOPED_OPERATORS else range(len(values))  # element logic reads elements
    for i in checked:
        if i < len(values):
            lint_vars(values[i], schema, arg_paths[i])
