"""JS comparisons in SQL: `==`, `===`, `<`, `<=` and `in` between compiled values of any kinds.

Typed kinds get direct SQL (plain column comparisons where JS semantics allow); a JSON value against a literal
gets the literal's conversions done at compile time; anything else goes to the jl_* macros. Every function
returns a non-null BOOLEAN expression.
"""

from __future__ import annotations

from typing import Any

from correlators.jsonlogic import sqltree as t
from correlators.jsonlogic.sqlvalues import (
    MAX_SAFE_INT,
    SCALAR_KINDS,
    Val,
    as_double,
    f,
    let,
    to_json,
    to_number_sql,
    to_string_sql,
)
from correlators.jsonlogic.values import UNDEFINED, is_number, to_number


def equals(a: Val, b: Val, *, strict: bool) -> t.Node:
    """a == b (or ===) as a non-null BOOLEAN."""
    same_ref = a.ref is not None and a.ref == b.ref
    nullish = ("null", "undef")
    if a.kind in nullish or b.kind in nullish:
        x, y = (a, b) if a.kind in nullish else (b, a)
        return _equals_nullish(x, y, strict=strict)
    if a.kind in SCALAR_KINDS and b.kind in SCALAR_KINDS:
        if a.kind == b.kind:
            return _same_kind_equals(a, b)
        if strict:
            return t.and_(t.IsNull(a.sql), t.IsNull(b.sql)) if a.nullable and b.nullable else t.FALSE
        num_eq = f("jl_num_eq", to_number_sql(a), to_number_sql(b))
        if not a.nullable and not b.nullable:
            return num_eq
        either_null = t.or_(*(t.IsNull(v.sql) for v in (a, b) if v.nullable))
        both_null = t.and_(*(t.IsNull(v.sql) for v in (a, b))) if a.nullable and b.nullable else t.FALSE
        return t.Case(((either_null, both_null),), num_eq)
    if a.kind == "list" and b.kind == "list" and same_ref:
        return t.TRUE  # the same array (or both null)
    if a.kind == "json" and b.is_const and not isinstance(b.const, list | dict):
        return json_equals_const(a.sql, b.const, strict=strict)
    if b.kind == "json" and a.is_const and not isinstance(a.const, list | dict):
        return json_equals_const(b.sql, a.const, strict=strict)
    macro = "jl_seq" if strict else "jl_eq"
    ja, jb = to_json(a), to_json(b)
    return let([ja, jb], lambda x, y: f(macro, x, y, t.Literal(same_ref)))

def json_equals_const(j: t.Node, c: Any, *, strict: bool) -> t.Node:
    """A JSON value against a scalar literal: the literal's conversions are done here, not per row."""
    def build(x: t.Node) -> t.Node:
        jt = f("json_type", x)
        if isinstance(c, str):
            same = t.and_(t.Binary("=", jt, t.Literal("VARCHAR")), t.Binary("=", f("jl_sval", x), t.Literal(c)))
            if strict:
                return t.coalesce_false(same)
            n = to_number(c)
            branches: list[tuple[t.Node, t.Node]] = [
                (t.IsNull(x), t.FALSE),
                (t.Binary("=", jt, t.Literal("VARCHAR")), t.Binary("=", f("jl_sval", x), t.Literal(c))),
                (t.Binary("=", jt, t.Literal("NULL")), t.FALSE),
                (t.Binary("=", jt, t.Literal("ARRAY")), t.Binary("=", f("jl_str", x), t.Literal(c))),
                (t.Binary("=", jt, t.Literal("OBJECT")), t.Literal(c == "[object Object]")),
            ]
            return t.Case(tuple(branches), _num_equals_literal(f("jl_num", x), n))
        if c is None or c is UNDEFINED:
            if strict and c is None:
                return t.coalesce_false(t.Binary("=", jt, t.Literal("NULL")))
            if strict:
                return t.IsNull(x)
            return t.or_(t.IsNull(x), t.Binary("=", jt, t.Literal("NULL")))
        if isinstance(c, bool):
            if strict:
                return t.coalesce_false(t.and_(t.Binary("=", jt, t.Literal("BOOLEAN")),
                                               t.Binary("=", t.Cast(x, "BOOLEAN"), t.Literal(c))))
            return t.and_(t.IsNull(x, negate=True), t.Binary("<>", jt, t.Literal("NULL")),
                          _num_equals_literal(f("jl_num", x), 1.0 if c else 0.0))
        n = float(c)
        if strict:
            return t.coalesce_false(t.and_(t.Not(t.InList(jt, tuple(t.Literal(k) for k in _NON_NUMBER_TYPES))),
                                           _num_equals_literal(t.Cast(x, "DOUBLE"), n)))
        return t.and_(t.IsNull(x, negate=True), t.Binary("<>", jt, t.Literal("NULL")),
                      _num_equals_literal(f("jl_num", x), n))

    return let([j], build)

def _equals_nullish(x: Val, y: Val, *, strict: bool) -> t.Node:
    """x is the null or undefined constant."""
    if y.kind in ("null", "undef"):
        return t.Literal(x.kind == y.kind or not strict)
    if y.kind == "json":
        if not strict:
            return let([y.sql], lambda j: t.InList(f("jl_type", j), (t.Literal("null"), t.Literal("undefined"))))
        return t.IsNull(y.sql) if x.kind == "undef" else \
            let([y.sql], lambda j: t.Binary("=", f("jl_type", j), t.Literal("null")))
    if x.kind == "undef" and strict:
        return t.FALSE  # typed values are never undefined
    return t.IsNull(y.sql) if y.nullable else t.FALSE

def _same_kind_equals(a: Val, b: Val) -> t.Node:
    x, y = a.sql, b.sql
    if a.kind == "num":
        x, y = _num_pair(a, b)
    eq: t.Node
    if a.nullable and b.nullable:
        eq = t.Binary("IS NOT DISTINCT FROM", x, y)
    elif a.nullable or b.nullable:
        eq = t.coalesce_false(t.Binary("=", x, y))
    else:
        eq = t.Binary("=", x, y)
    if a.kind == "num" and (a.may_nan or b.may_nan):
        # DuckDB's NaN = NaN is TRUE; in JS NaN equals nothing
        nan_side = x if a.may_nan else y
        eq = t.and_(eq, t.Not(t.coalesce_false(f("isnan", nan_side))))
    return eq

def _num_pair(a: Val, b: Val) -> tuple[t.Node, t.Node]:
    """Operands for an exact comparison with JS double semantics.

    Integers wider than 2^53 compare as doubles in JS; an integer column against a safe-integer literal
    compares the same either way, so that common case keeps the column's own type (faster).
    """
    def safe_literal(v: Val) -> bool:
        return v.is_const and isinstance(v.const, int) and abs(v.const) < MAX_SAFE_INT

    if a.numtype == "int" and b.numtype == "int":
        return a.sql, b.sql
    if (a.numtype == "wide" and safe_literal(b)) or (b.numtype == "wide" and safe_literal(a)):
        return a.sql, b.sql
    return as_double(a), as_double(b)

def less(a: Val, b: Val, strict_less: bool) -> t.Node:
    """JS a < b (or a <= b) as a non-null BOOLEAN."""
    op = "<" if strict_less else "<="
    numeric = ("num", "bool", "null")
    if a.kind == "undef" or b.kind == "undef":
        # ToNumber(undefined) is NaN and undefined is not a string; an operand that throws still throws
        raising = [v for v in (a, b) if v.raises]
        if raising:
            return t.Case(((t.and_(*(t.IsNull(to_json(v)) for v in raising)), t.FALSE),), t.FALSE)
        return t.FALSE
    if a.kind == "str" and b.kind == "str":
        direct = t.Binary(op, a.sql, b.sql)
        if not a.nullable and not b.nullable:
            return direct
        # null is not a string: it compares as the number 0 against ToNumber(the other side)
        fallback = f("jl_num_lt" if strict_less else "jl_num_le", to_number_sql(a), to_number_sql(b))
        either_null = t.or_(*(t.IsNull(v.sql) for v in (a, b) if v.nullable))
        return t.Case(((either_null, fallback),), direct)
    if a.kind in numeric and b.kind in numeric:
        if a.kind == "num" and b.kind == "num" and not a.may_nan and not b.may_nan:
            x, y = _num_pair(a, b)
            literal = b.const if b.is_const else a.const if a.is_const else None
            if (a.nullable != b.nullable) and literal is not None:
                # null reads as 0: when 0 fails the comparison anyway, a NULL may simply stay NULL->FALSE,
                # which keeps the plain column comparison (pushed into the scan) in filters
                zero_passes = (literal > 0 if strict_less else literal >= 0) if a.nullable else \
                    (literal < 0 if strict_less else literal <= 0)
                if not zero_passes:
                    return t.coalesce_false(t.Binary(op, x, y))
            x = f("coalesce", x, t.Literal(0)) if a.nullable else x
            y = f("coalesce", y, t.Literal(0)) if b.nullable else y
            return t.Binary(op, x, y)
        return f("jl_num_lt" if strict_less else "jl_num_le", to_number_sql(a), to_number_sql(b))
    if a.kind in (*numeric, "str") and b.kind in (*numeric, "str"):
        return f("jl_num_lt" if strict_less else "jl_num_le", to_number_sql(a), to_number_sql(b))
    if a.kind == "json" and b.is_const and not isinstance(b.const, list | dict):
        return json_less_const(a.sql, b.const, strict_less, json_first=True)
    if b.kind == "json" and a.is_const and not isinstance(a.const, list | dict):
        return json_less_const(b.sql, a.const, strict_less, json_first=False)
    ja, jb = to_json(a), to_json(b)
    return let([ja, jb], lambda x, y: f("jl_lt" if strict_less else "jl_le", x, y))

def json_less_const(j: t.Node, c: Any, strict_less: bool, *, json_first: bool) -> t.Node:
    """j < c (json_first) or c < j, for a scalar literal c."""
    def numeric(x: t.Node) -> t.Node:
        return _num_less_literal(f("jl_num", x), to_number(c), strict_less, value_first=json_first)

    def build(x: t.Node) -> t.Node:
        if not isinstance(c, str):
            return t.and_(t.IsNull(x, negate=True), numeric(x))
        jt = f("json_type", x)
        op = "<" if strict_less else "<="

        def text_cmp(text: t.Node) -> t.Node:
            return t.Binary(op, text, t.Literal(c)) if json_first else t.Binary(op, t.Literal(c), text)

        obj = "[object Object]"
        obj_result = (obj < c if strict_less else obj <= c) if json_first else (c < obj if strict_less else c <= obj)
        return t.Case((
            (t.IsNull(x), t.FALSE),
            (t.Binary("=", jt, t.Literal("VARCHAR")), text_cmp(f("jl_sval", x))),
            (t.Binary("=", jt, t.Literal("ARRAY")), text_cmp(f("jl_str", x))),
            (t.Binary("=", jt, t.Literal("OBJECT")), t.Literal(obj_result)),
        ), numeric(x))

    return let([j], build)

def contains(a: Val, b: Val) -> t.Node:
    if b.kind in ("null", "undef"):
        return t.FALSE
    if b.is_const and isinstance(b.const, list) and a.kind in SCALAR_KINDS | {"null"}:
        return _in_literal_list(a, b.const)
    if b.kind == "str":
        needle = to_string_sql(a)
        test = t.and_(t.Binary("<>", b.sql, t.Literal("")), f("contains", b.sql, needle))
        return t.coalesce_false(test) if b.nullable else test
    if b.kind == "list" and a.kind in SCALAR_KINDS and a.kind == b.elem and not a.nullable:
        return t.coalesce_false(f("list_contains", b.sql, a.sql))
    ja, jb = to_json(a), to_json(b)
    return let([ja, jb], lambda x, y: f("jl_in", x, y))

def _in_literal_list(a: Val, items: list[Any]) -> t.Node:
    """indexOf (===) in a literal array: only elements of a's own type can match."""
    has_null = any(x is None for x in items)
    if a.kind == "null":
        return t.Literal(has_null)
    lits: list[Any]
    if a.kind == "str":
        lits = [x for x in items if isinstance(x, str)]
    elif a.kind == "bool":
        lits = [x for x in items if isinstance(x, bool)]
    else:
        lits = [x for x in items if is_number(x) and x == x]
    tests: list[t.Node] = []
    if lits:
        operand = a.sql
        if a.kind == "num" and (a.numtype != "int" or not all(isinstance(x, int) and abs(x) < MAX_SAFE_INT
                                                             for x in lits)):
            operand = as_double(a)
            lits = [float(x) for x in lits]
        test: t.Node = t.InList(operand, tuple(t.Literal(x) for x in lits))
        tests.append(t.coalesce_false(test) if a.nullable else test)
    if has_null and a.nullable:
        tests.append(t.IsNull(a.sql))
    return t.or_(*tests)


_NON_NUMBER_TYPES = ("NULL", "BOOLEAN", "VARCHAR", "ARRAY", "OBJECT")


def _num_equals_literal(x: t.Node, n: float) -> t.Node:
    """x = n with JS NaN semantics; n is a literal so NaN is decided here."""
    if n != n:
        return t.FALSE
    return t.Binary("=", x, t.Literal(n))


def _num_less_literal(x: t.Node, n: float, strict_less: bool, *, value_first: bool) -> t.Node:
    """x < n (value_first) or n < x, false when x is NaN. DuckDB orders NaN above everything, so the
    comparison is arranged with x on the left of < / <= (negating both sides when needed)."""
    if n != n:
        return t.FALSE
    op = "<" if strict_less else "<="
    if value_first:
        return t.Binary(op, x, t.Literal(n))
    return t.Binary(op, t.Binary("-", t.Literal(0.0), x), t.Literal(-n))
