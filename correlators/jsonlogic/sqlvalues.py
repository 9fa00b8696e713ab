"""Compiled SQL values: an expression plus what the compiler knows statically about the JS value it holds.

Kinds:
- typed: `bool`, `num`, `str`, `list` (a SQL list, element kind in `elem`); SQL NULL means JS null.
- `json`: a DuckDB JSON value; SQL NULL means JS undefined, the JSON null is JS null (sql/macros/jsonlogic.sql).
- `null`, `undef`: the constants.
Conversions between kinds follow the JS abstract operations (ToNumber, ToString, parseFloat, truthiness).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from correlators.jsonlogic import sqltree as t
from correlators.jsonlogic.values import UNDEFINED, is_number, parse_float, to_number, to_string, truthy

NOCONST: Any = object()  # "value not known at compile time"
MAX_SAFE_INT = 2**53
SCALAR_KINDS = frozenset({"bool", "num", "str"})


@dataclass(frozen=True)
class Val:
    sql: t.Node
    kind: str
    nullable: bool = False
    numtype: str = "double"  # for num: int (exact in a double), wide (BIGINT/HUGEINT), double (may be NaN)
    elem: str | None = None  # for list
    ref: tuple[Any, ...] | None = None  # same ref => same JS object (identity equality of arrays/objects)
    const: Any = field(default=NOCONST, compare=False)
    raises: bool = False  # contains an error() that must only run when reached

    @property
    def is_const(self) -> bool:
        return self.const is not NOCONST

    @property
    def may_nan(self) -> bool:
        if self.is_const:
            return isinstance(self.const, float) and not math.isfinite(self.const)
        return self.kind == "num" and self.numtype == "double"


JSON_NULL = t.JsonLiteral(None)
UNDEF_SQL = t.Cast(t.NULL, "JSON")
NAN_SQL = t.Literal(math.nan)


def const_val(value: Any) -> Val:
    """A literal from the rule."""
    if value is UNDEFINED:
        return Val(UNDEF_SQL, "undef", const=UNDEFINED)
    if value is None:
        return Val(t.NULL, "null", nullable=True, const=None)
    if isinstance(value, bool):
        return Val(t.Literal(value), "bool", const=value)
    if is_number(value):
        if isinstance(value, int) and abs(value) < MAX_SAFE_INT:
            return Val(t.Literal(value), "num", numtype="int", const=value)
        return Val(t.Literal(float(value)), "num", numtype="double", const=float(value))
    if isinstance(value, str):
        return Val(t.Literal(value), "str", const=value)
    return Val(t.JsonLiteral(value), "json", const=value)


def f(name: str, *args: t.Node) -> t.Node:
    return t.func(name, *args)


def simple(node: t.Node) -> bool:
    """Cheap to repeat: the macros may use an argument several times."""
    if isinstance(node, t.Column | t.Param | t.Literal | t.JsonLiteral):
        return True
    return isinstance(node, t.Cast) and simple(node.operand)


_let_names = itertools.count(1)


def let(nodes: list[t.Node], build: Callable[..., t.Node]) -> t.Node:
    """Evaluate costly expressions once and name them (macros are inlined: a parameter used n times would
    copy its argument n times). Cheap ones are passed as they are."""
    names: list[t.Node] = []
    lets: list[tuple[t.Param, t.Node]] = []
    for node in nodes:
        if simple(node):
            names.append(node)
        else:
            p = t.Param(f"jlv{next(_let_names)}")
            lets.append((p, node))
            names.append(p)
    out = build(*names)
    for p, node in reversed(lets):
        out = t.func("list_extract", t.func("list_transform", t.ListValue((node,)), t.Lambda((p,), out)),
                     t.Literal(1))
    return out


def macro(name: str, *args: t.Node) -> t.Node:
    """A jl_* macro call with its arguments bound once."""
    return let(list(args), lambda *xs: t.func(name, *xs))


def to_json(v: Val) -> t.Node:
    """The JSON representation (SQL NULL = undefined)."""
    if v.is_const and v.const is not UNDEFINED:
        return t.JsonLiteral(v.const)
    if v.kind == "json":
        return v.sql
    if v.kind == "null":
        return JSON_NULL
    if v.kind == "undef":
        return UNDEF_SQL
    inner = v.sql
    if v.kind == "num" and v.numtype != "int":
        inner = t.Cast(inner, "DOUBLE")  # JS numbers are doubles: wide integers round like JSON.parse
    out = f("to_json", inner)
    return f("coalesce", out, JSON_NULL) if v.nullable else out


def as_double(v: Val) -> t.Node:
    """A num kind's SQL as DOUBLE (nullable stays nullable)."""
    return v.sql if v.numtype == "double" and not isinstance(v.sql, t.Literal) else t.Cast(v.sql, "DOUBLE")


def to_number_sql(v: Val) -> t.Node:
    """JS ToNumber as a non-null DOUBLE."""
    if v.is_const:
        return t.Literal(to_number(v.const))
    if v.kind == "num":
        d = as_double(v)
        return f("coalesce", d, t.Literal(0.0)) if v.nullable else d
    if v.kind == "bool":
        return t.Case(((t.func("coalesce", v.sql, t.FALSE), t.Literal(1.0)),), t.Literal(0.0))
    if v.kind == "str":
        return f("coalesce", f("jl_str_num", v.sql), t.Literal(0.0))
    if v.kind == "null":
        return t.Literal(0.0)
    if v.kind == "undef":
        return NAN_SQL
    return macro("jl_num", to_json(v))


def parse_float_sql(v: Val) -> t.Node:
    """JS parseFloat as a non-null DOUBLE (null -> "null" -> NaN)."""
    if v.is_const:
        return t.Literal(parse_float(v.const))
    if v.kind == "num":
        d = as_double(v)
        return f("coalesce", d, NAN_SQL) if v.nullable else d
    if v.kind == "str":
        return f("coalesce", f("jl_pf_text", v.sql), NAN_SQL)
    if v.kind in ("null", "undef", "bool"):
        return NAN_SQL
    return macro("jl_pf", to_json(v))


def to_string_sql(v: Val, nullish: str | None = None) -> t.Node:
    """JS String(v) as non-null VARCHAR; `nullish` replaces null/undefined (cat and join use "")."""
    if v.is_const:
        if nullish is not None and (v.const is None or v.const is UNDEFINED):
            return t.Literal(nullish)
        return t.Literal(to_string(v.const))
    null_text = "null" if nullish is None else nullish
    if v.kind == "null":
        return t.Literal(null_text)
    if v.kind == "undef":
        return t.Literal("undefined" if nullish is None else nullish)
    if v.kind == "str":
        return f("coalesce", v.sql, t.Literal(null_text)) if v.nullable else v.sql
    if v.kind == "num":
        if v.numtype == "int":
            text: t.Node = t.Cast(v.sql, "VARCHAR")
        else:
            text = f("jl_numstr", as_double(v))
        return f("coalesce", text, t.Literal(null_text)) if v.nullable else text
    if v.kind == "bool":
        return t.Case(((t.Binary("=", v.sql, t.TRUE), t.Literal("true")),
                       (t.Binary("=", v.sql, t.FALSE), t.Literal("false"))), t.Literal(null_text))
    if nullish is None:
        return macro("jl_str", to_json(v))
    return let([to_json(v)], lambda j: t.Case(
        ((t.InList(f("jl_type", j), (t.Literal("null"), t.Literal("undefined"))), t.Literal(nullish)),),
        f("jl_str", j)))


def truthy_sql(v: Val) -> t.Node:
    """jsonLogic.truthy as a non-null BOOLEAN."""
    if v.is_const:
        return t.Literal(truthy(v.const))
    if v.kind in ("null", "undef"):
        return t.FALSE
    if v.kind == "bool":
        out: t.Node = v.sql
    elif v.kind == "num":
        out = t.Binary("<>", v.sql, t.Literal(0))
        if v.may_nan:
            out = t.and_(out, t.Not(f("isnan", v.sql)))
    elif v.kind == "str":
        out = t.Binary("<>", v.sql, t.Literal(""))
    elif v.kind == "list":
        out = t.Binary(">", f("len", v.sql), t.Literal(0))
    else:
        return macro("jl_truthy", v.sql)
    return t.coalesce_false(out) if v.nullable else out


def with_sql(v: Val, sql: t.Node, **changes: Any) -> Val:
    return replace(v, sql=sql, const=NOCONST, **changes)
