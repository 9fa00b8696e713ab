"""The JSONLogic -> DuckDB SQL compiler: the same semantics as the evaluator, set-based.

Each rule node compiles to a `Val` (sqlvalues.py): an expression tree plus its static kind. `var` paths that
are columns or STRUCT fields of the schema give typed values and type-specialised SQL (the fast path); paths
under a JSON column (raw.*) and untyped records (schema None) give JSON values handled by the JS-faithful
macros in sql/macros/jsonlogic.sql. Where a typed fast path does not cover a combination of kinds, the
operands are converted to JSON and the macro decides, so every rule compiles to exact json-logic-js semantics.

Conditions (`compile_condition`) are two-valued: TRUE or FALSE, never NULL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from correlators.jsonlogic import security
from correlators.jsonlogic import sqltree as t
from correlators.jsonlogic.errors import JsonLogicError, child_path
from correlators.jsonlogic.schema import resolve, type_kind
from correlators.jsonlogic.spec import (
    OPERATORS,
    check_arity,
    check_strict_shape,
    is_logic,
    operation,
    unknown_operator_message,
)
from correlators.jsonlogic.sqlcompare import contains, equals, less
from correlators.jsonlogic.sqlvalues import (
    JSON_NULL,
    NAN_SQL,
    SCALAR_KINDS,
    Val,
    as_double,
    const_val,
    f,
    let,
    parse_float_sql,
    to_json,
    to_number_sql,
    to_string_sql,
    truthy_sql,
)
from correlators.jsonlogic.values import UNDEFINED, is_number, to_string

_RESERVED = re.compile(r"jl[a-z_]*[0-9]+", re.IGNORECASE)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # how TIMESTAMP columns read as strings (event_record does the same)


@dataclass(frozen=True)
class Scope:
    """What `var` reads: the typed root (schema), a JSON value, an element, or reduce's {current, accumulator}."""

    kind: str  # typed | value | reduce
    sid: int
    data: Val | None = None
    current: Val | None = None
    accumulator: Val | None = None


class SqlCompiler:
    def __init__(self, schema: Mapping[str, str] | None, *, strict: bool = True, json_column: str = "data") -> None:
        self.schema = schema
        self.strict = strict
        self.json_column = json_column
        self._names = itertools.count(1)
        self._scopes = itertools.count(1)

    # -- entry points ---------------------------------------------------------------------------

    def root(self) -> Scope:
        if self.schema is None:
            return Scope("value", 0, data=Val(t.Column((self.json_column,)), "json", nullable=True))
        return Scope("typed", 0)

    def fresh(self, stem: str = "x") -> t.Param:
        return t.Param(f"jl{stem}{next(self._names)}")

    # -- let-binding: macros are inlined, so a costly argument is evaluated once and named ------------

    def bind(self, nodes: list[t.Node], build: Callable[..., t.Node]) -> t.Node:
        return let(nodes, build)

    # -- compile --------------------------------------------------------------------------------

    def value(self, rule: Any, path: str, scope: Scope) -> Val:
        if isinstance(rule, list):
            items = [self.value(x, child_path(path, i), scope) for i, x in enumerate(rule)]
            if all(v.is_const for v in items):
                return const_val([v.const for v in items])
            node = f("to_json", t.ListValue(tuple(to_json(v) for v in items)))
            return Val(node, "json", raises=any(v.raises for v in items))
        if not is_logic(rule):
            if self.strict:
                check_strict_shape(rule, path)
            return const_val(rule)
        op, values = operation(rule)
        op_path = child_path(path, op)
        if op not in OPERATORS:
            if self.strict:
                raise JsonLogicError(path or "rule", unknown_operator_message(op))
            return self.error(f"Unrecognized operation {op}" + (f" (failed at {op.split('.')[0]})" if op.find(".") > 0 else ""))
        if self.strict:
            check_arity(op, len(values), path or "rule")
        paths = [child_path(op_path, i) if isinstance(rule[op], list) else op_path for i in range(len(values))]
        method: Callable[[list[Any], list[str], str, Scope], Val] = getattr(self, "op_" + _METHOD_NAMES.get(op, op))
        result = method(values, paths, op_path, scope)
        used = _USED_ARGS.get(op)
        if used is not None and len(values) > used:
            # json-logic-js evaluates every argument before calling the operator: an extra one that throws
            # still throws. Make SQL evaluate those (they cannot change the value).
            extras = [self.value(v, p, scope) for v, p in zip(values[used:], paths[used:], strict=True)]
            raising = [x for x in extras if x.raises]
            if raising:
                force = t.and_(*(t.IsNull(to_json(x)) for x in raising))
                result = replace(result, sql=t.Case(((force, result.sql),), result.sql), raises=True)
        return result

    def cond(self, rule: Any, path: str, scope: Scope) -> t.Node:
        """Truthiness of `rule` as a non-null BOOLEAN, with and/or/!/if kept boolean all the way."""
        if is_logic(rule):
            op, values = operation(rule)
            if op in ("and", "or", "!", "!!") and op in OPERATORS:
                op_path = child_path(path, op)
                if self.strict:
                    check_arity(op, len(values), path or "rule")
                paths = [child_path(op_path, i) if isinstance(rule[op], list) else op_path
                         for i in range(len(values))]
                if op in ("!", "!!"):
                    return self._negation(op, values, paths, scope)
                conds = [self.cond(v, p, scope) for v, p in zip(values, paths, strict=True)]
                if not conds:
                    return t.FALSE
                if any(_has_error(c) for c in conds):
                    return _lazy_bool(op, conds)
                return t.and_(*conds) if op == "and" else t.or_(*conds)
        return truthy_sql(self.value(rule, path, scope))

    def error(self, message: str) -> Val:
        return Val(t.Cast(f("error", t.Literal(message)), "JSON"), "json", nullable=True, raises=True)

    def args(self, values: list[Any], paths: list[str], scope: Scope, n: int) -> list[Val]:
        """The first n arguments (absent ones are undefined); extra ones are compiled (checked) and dropped."""
        vals = [self.value(v, p, scope) for v, p in zip(values, paths, strict=True)]
        while len(vals) < n:
            vals.append(const_val(UNDEFINED))
        return vals

    # -- var / missing --------------------------------------------------------------------------

    def op_var(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        key_val, default = self.args(values, paths, scope, 2)[:2]
        has_default = len(values) > 1 and not (default.is_const and default.const is UNDEFINED)
        if not key_val.is_const or isinstance(key_val.const, list | dict):
            if self.strict and key_val.is_const:
                raise JsonLogicError(paths[0], "var: the path must be a string, a number or null")
            return self.var_dynamic(key_val, default if has_default else None, scope)
        key = key_val.const
        if self.strict and not (key is None or isinstance(key, str) or is_number(key)):
            raise JsonLogicError(paths[0], "var: the path must be a string, a number or null")
        if key is None or key is UNDEFINED or key == "":
            return self.whole(scope)
        parts = to_string(key).split(".")
        node_path = op_path[: -len(".var")] if op_path.endswith(".var") else op_path
        return self.var_path(parts, default if has_default else None, scope, node_path or "rule")

    def whole(self, scope: Scope) -> Val:
        if scope.kind == "typed":
            return Val(self.record_json(), "json")
        if scope.kind == "reduce":
            assert scope.current is not None and scope.accumulator is not None
            node = f("json_object", t.Literal("current"), to_json(scope.current),
                     t.Literal("accumulator"), to_json(scope.accumulator))
            return Val(node, "json")
        assert scope.data is not None
        return replace(scope.data, ref=(scope.sid, ""))

    def record_json(self) -> t.Node:
        """The typed root as a JSON object (for `var ""` and computed paths): top-level columns only."""
        assert self.schema is not None
        pairs: list[t.Node] = []
        for name, dtype in self.schema.items():
            if "." in name:
                continue
            pairs += [t.Literal(name), to_json(self.column_val((name,), dtype))]
        return f("json_object", *pairs)

    def column_val(self, parts: tuple[str, ...], dtype: str) -> Val:
        if _RESERVED.fullmatch(parts[0]):
            # the compiler names its lambda parameters like this; a column of that name would be shadowed
            raise JsonLogicError("schema", f"column name {parts[0]!r} is reserved for compiled SQL (jl<letters><digits>)")
        kind, elem = type_kind(dtype)
        col = t.Column(parts)
        ref = ("col", *parts)
        if kind == "str":
            return Val(col, "str", nullable=True)
        if kind == "num":
            wide = dtype.strip().upper() not in ("TINYINT", "SMALLINT", "INTEGER", "INT", "INT4", "UTINYINT",
                                                 "USMALLINT")
            return Val(col, "num", nullable=True, numtype="wide" if wide else "int")
        if kind == "float":
            return Val(t.Cast(col, "DOUBLE"), "num", nullable=True, numtype="double")
        if kind == "bool":
            return Val(col, "bool", nullable=True)
        if kind == "time":
            text = f("strftime", f("timezone", t.Literal("UTC"), col), t.Literal(TIME_FORMAT)) \
                if "TZ" in dtype.upper() or "TIME ZONE" in dtype.upper() \
                else f("strftime", col, t.Literal(TIME_FORMAT))
            return Val(text, "str", nullable=True)
        if kind == "list" and elem in ("str", "num", "bool"):
            return Val(col, "list", nullable=True, elem=elem, ref=ref)
        if kind == "json":
            return Val(f("coalesce", col, JSON_NULL), "json", ref=ref)
        return Val(f("coalesce", f("to_json", col), JSON_NULL), "json", ref=ref)

    def var_path(self, parts: list[str], default: Val | None, scope: Scope, path: str) -> Val:
        dotted = ".".join(parts)
        if scope.kind == "typed":
            assert self.schema is not None
            column, rest = resolve(self.schema, path, dotted)
            col_parts = tuple(column.split("."))
            base = self.column_val(col_parts, self.schema[column])
            if rest is None:
                return self.struct_default(col_parts, base, default)
            return self.walk_json(to_json(base), rest.split("."), default, ref=(scope.sid, dotted))
        if scope.kind == "reduce":
            assert scope.current is not None and scope.accumulator is not None
            head = {"current": scope.current, "accumulator": scope.accumulator}.get(parts[0])
            if head is None:
                return default if default is not None else const_val(None)
            if len(parts) == 1:
                return self.nullish_default(head, default)
            return self.walk_json(to_json(head), parts[1:], default, ref=None)
        assert scope.data is not None
        return self.walk_json(to_json(scope.data), parts, default, ref=(scope.sid, dotted))

    def struct_default(self, parts: tuple[str, ...], base: Val, default: Val | None) -> Val:
        """A STRUCT field read with a default: the default applies when an enclosing STRUCT is NULL."""
        if default is None or len(parts) == 1:
            return base
        parent_null = t.or_(*(t.IsNull(t.Column(parts[:i])) for i in range(1, len(parts))))
        return self.choose([(parent_null, default)], base)

    def nullish_default(self, v: Val, default: Val | None) -> Val:
        """reduce's current/accumulator: undefined (SQL NULL in JSON kind) reads as the default or null."""
        if v.kind == "json":
            fallback = to_json(default) if default is not None else JSON_NULL
            return Val(f("coalesce", v.sql, fallback), "json")
        if v.kind == "undef":
            return default if default is not None else const_val(None)
        return v

    def walk_json(self, data: t.Node, parts: list[str], default: Val | None, ref: Any) -> Val:
        if len(parts) == 1:
            node = self.bind([data], lambda d: f("jl_get", d, t.Literal(parts[0])))
        else:
            node = f("jl_walk", data, t.ListValue(tuple(t.Literal(p) for p in parts), "VARCHAR"))
        fallback = to_json(default) if default is not None else JSON_NULL
        return Val(f("coalesce", node, fallback), "json", ref=ref if default is None else None)

    def var_dynamic(self, key: Val, default: Val | None, scope: Scope) -> Val:
        data = self.whole(scope)
        key_json = to_json(key)
        fallback = to_json(default) if default is not None else JSON_NULL

        def build(k: t.Node, d: t.Node) -> t.Node:
            whole_data = t.InList(f("jl_type", k), (t.Literal("undefined"), t.Literal("null")))
            empty = t.and_(t.Binary("=", f("jl_type", k), t.Literal("string")),
                           t.Binary("=", f("jl_sval", k), t.Literal("")))
            parts = f("string_split", f("jl_str", k), t.Literal("."))
            return t.Case(((t.or_(whole_data, empty), d),), f("coalesce", f("jl_walk", d, parts), fallback))

        return Val(self.bind([key_json, to_json(data)], build), "json", raises=key.raises)

    def is_missing(self, v: Val) -> t.Node:
        """var's result counts as missing: null or ""."""
        if v.kind == "str":
            return t.or_(t.IsNull(v.sql), t.Binary("=", v.sql, t.Literal(""))) if v.nullable else \
                t.Binary("=", v.sql, t.Literal(""))
        if v.kind in ("null", "undef"):
            return t.TRUE
        if v.kind in ("num", "bool", "list"):
            return t.IsNull(v.sql) if v.nullable else t.FALSE
        return self.bind([v.sql], lambda j: t.or_(
            t.InList(f("jl_type", j), (t.Literal("null"), t.Literal("undefined"))),
            t.and_(t.Binary("=", f("jl_type", j), t.Literal("string")), t.Binary("=", f("jl_sval", j), t.Literal("")))))

    def missing_list(self, keys: list[Val], scope: Scope, path: str) -> t.Node:
        """JSON array of the keys whose var is missing."""
        if all(k.is_const and (k.const is None or isinstance(k.const, str) or is_number(k.const)) for k in keys):
            pieces: list[t.Node] = []
            for k in keys:
                if k.const is None or k.const == "":
                    v = self.whole(scope)
                else:
                    v = self.var_path(to_string(k.const).split("."), None, scope, path)
                pieces.append(t.Case(((self.is_missing(v), t.ListValue((t.JsonLiteral(k.const),))),),
                                     t.ListValue(())))
            if not pieces:
                return t.JsonLiteral([])
            return f("to_json", f("list_concat", *pieces) if len(pieces) > 1 else pieces[0])
        elems = t.ListValue(tuple(to_json(k) for k in keys))
        return self.missing_dynamic(elems, scope)

    def missing_dynamic(self, elems: t.Node, scope: Scope) -> t.Node:
        p = self.fresh("k")
        test = self.is_missing(self.var_dynamic(Val(p, "json", nullable=True), None, scope))
        return f("to_json", f("list_filter", elems, t.Lambda((p,), test)))

    def op_missing(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        vals = self.args(values, paths, scope, 0)
        if vals and vals[0].is_const and isinstance(vals[0].const, list):
            return Val(self.missing_list([const_val(k) for k in vals[0].const], scope, op_path), "json")
        if vals and vals[0].kind in ("json", "list"):
            first = to_json(vals[0])
            rest = t.ListValue(tuple(to_json(v) for v in vals))

            def build(a: t.Node) -> t.Node:
                keys = t.Case(((t.Binary("=", f("jl_type", a), t.Literal("array")), f("jl_elems", a)),), rest)
                return self.missing_dynamic(keys, scope)

            return Val(self.bind([first], build), "json")
        return Val(self.missing_list(vals, scope, op_path), "json")

    def op_missing_some(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        need, options = self.args(values, paths, scope, 2)[:2]
        need_num = to_number_sql(need)
        if options.is_const and isinstance(options.const, list):
            are_missing = self.missing_list([const_val(k) for k in options.const], scope, op_path)
            size: t.Node = t.Literal(len(options.const))
        else:
            opts = to_json(options)

            def keys_of(o: t.Node) -> t.Node:
                return t.Case(((t.Binary("=", f("jl_type", o), t.Literal("array")), f("jl_elems", o)),),
                              t.ListValue((o,)))

            are_missing = self.bind([opts], lambda o: self.missing_dynamic(keys_of(o), scope))
            size = self.bind([opts], lambda o: t.Case((
                (t.Binary("=", f("jl_type", o), t.Literal("array")), t.Cast(f("json_array_length", o), "DOUBLE")),
                (t.Binary("=", f("jl_type", o), t.Literal("string")), t.Cast(f("length", f("jl_sval", o)), "DOUBLE")),
                (t.InList(f("jl_type", o), (t.Literal("null"), t.Literal("undefined"))),
                 t.Cast(f("error", t.Literal("Cannot read properties of null (reading 'length')")), "DOUBLE"))),
                NAN_SQL))

        def build(am: t.Node, n: t.Node) -> t.Node:
            enough = f("jl_num_le", need_num, t.Binary("-", n, t.Cast(f("json_array_length", am), "DOUBLE")))
            return t.Case(((enough, t.JsonLiteral([])),), am)

        return Val(self.bind([are_missing, size], build), "json")

    # -- control --------------------------------------------------------------------------------

    def choose(self, whens: list[tuple[t.Node, Val]], otherwise: Val) -> Val:
        """CASE over values of possibly different kinds (unified to one SQL type)."""
        vals = [v for _, v in whens] + [otherwise]
        kinds = {v.kind for v in vals if v.kind != "null"}
        raises = any(v.raises for v in vals) or any(_has_error(c) for c, _ in whens)
        if not whens:
            return otherwise
        if len(kinds) == 1 and kinds <= SCALAR_KINDS:
            (kind,) = kinds
            numtypes = {v.numtype for v in vals if v.kind == "num"}
            numtype = numtypes.pop() if len(numtypes) == 1 else "double"

            def sql_of(v: Val) -> t.Node:
                if v.kind == "null":
                    return t.NULL
                if kind == "num" and numtype == "double":
                    return as_double(v)
                return v.sql

            node = t.Case(tuple((c, sql_of(v)) for c, v in whens), sql_of(otherwise))
            return Val(node, kind, nullable=any(v.nullable for v in vals), numtype=numtype, raises=raises)
        if len(kinds) == 1 and kinds == {"list"} and len({v.elem for v in vals if v.kind == "list"}) == 1:
            node = t.Case(tuple((c, v.sql if v.kind != "null" else t.NULL) for c, v in whens),
                          otherwise.sql if otherwise.kind != "null" else t.NULL)
            return Val(node, "list", nullable=True, elem=vals[0].elem, raises=raises)
        node = t.Case(tuple((c, to_json(v)) for c, v in whens), to_json(otherwise))
        return Val(node, "json", nullable=True, raises=raises)

    def op_if(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        whens: list[tuple[t.Node, Val]] = []
        i = 0
        while i < len(values) - 1:
            whens.append((self.cond(values[i], paths[i], scope), self.value(values[i + 1], paths[i + 1], scope)))
            i += 2
        otherwise = self.value(values[i], paths[i], scope) if len(values) == i + 1 else const_val(None)
        if not whens:
            return otherwise
        return self.choose(whens, otherwise)

    op_ternary = op_if

    def _and_or(self, op: str, values: list[Any], paths: list[str], scope: Scope) -> Val:
        vals = [self.value(v, p, scope) for v, p in zip(values, paths, strict=True)]
        if not vals:
            return const_val(UNDEFINED)
        if all(v.kind == "bool" and not v.nullable for v in vals) and not any(v.raises for v in vals):
            nodes = [v.sql for v in vals]
            return Val(t.and_(*nodes) if op == "and" else t.or_(*nodes), "bool")
        whens = []
        for v in vals[:-1]:
            test = truthy_sql(v)
            whens.append((t.not_(test) if op == "and" else test, v))
        return self.choose(whens, vals[-1])

    def op_and(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._and_or("and", values, paths, scope)

    def op_or(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._and_or("or", values, paths, scope)

    def _negation(self, op: str, values: list[Any], paths: list[str], scope: Scope) -> t.Node:
        inner = self.cond(values[0], paths[0], scope) if values else t.FALSE
        for v, p in zip(values[1:], paths[1:], strict=True):
            self.value(v, p, scope)  # extra arguments are still checked
        return t.not_(inner) if op == "!" else inner

    def op_not(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(self._negation("!", values, paths, scope), "bool")

    def op_notnot(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(self._negation("!!", values, paths, scope), "bool")

    # -- comparison -----------------------------------------------------------------------------

    def _binary_args(self, values: list[Any], paths: list[str], scope: Scope) -> tuple[Val, Val]:
        a, b = self.args(values, paths, scope, 2)[:2]
        return a, b

    def op_eq(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(equals(*self._binary_args(values, paths, scope), strict=False), "bool")

    def op_seq(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(equals(*self._binary_args(values, paths, scope), strict=True), "bool")

    def op_ne(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(t.not_(equals(*self._binary_args(values, paths, scope), strict=False)), "bool")

    def op_sne(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return Val(t.not_(equals(*self._binary_args(values, paths, scope), strict=True)), "bool")

    def _between(self, values: list[Any], paths: list[str], scope: Scope, strict_less: bool) -> Val:
        vals = self.args(values, paths, scope, 3)
        a, b, c = vals[0], vals[1], vals[2]
        first = less(a, b, strict_less)
        if c.kind == "undef":
            return Val(first, "bool")
        both = t.and_(first, less(b, c, strict_less))
        if c.kind == "json":  # undefined at run time means the two-argument form
            return Val(t.Case(((t.IsNull(c.sql), first),), both), "bool")
        return Val(both, "bool")

    def op_lt(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._between(values, paths, scope, True)

    def op_le(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._between(values, paths, scope, False)

    def op_gt(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self._binary_args(values, paths, scope)
        return Val(less(b, a, True), "bool")

    def op_ge(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self._binary_args(values, paths, scope)
        return Val(less(b, a, False), "bool")

    # -- arithmetic -----------------------------------------------------------------------------

    def _num(self, node: t.Node, raises: bool = False) -> Val:
        return Val(node, "num", numtype="double", raises=raises)

    def op_plus(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        vals = self.args(values, paths, scope, 0)
        node: t.Node = t.Literal(0.0)
        for v in vals:
            node = t.Binary("+", node, parse_float_sql(v))
        return self._num(node, any(v.raises for v in vals))

    def op_times(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        vals = self.args(values, paths, scope, 0)
        if not vals:
            return self.error("Reduce of empty array with no initial value")
        if len(vals) == 1:
            return vals[0]  # Array.reduce without an initial value returns the lone element unconverted
        node = parse_float_sql(vals[0])
        for v in vals[1:]:
            node = t.Binary("*", node, parse_float_sql(v))
        return self._num(node, any(v.raises for v in vals))

    def op_minus(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self.args(values, paths, scope, 2)[:2]
        if b.kind == "undef":
            return self._num(t.Binary("-", t.Literal(0.0), to_number_sql(a)), a.raises)
        node: t.Node = t.Binary("-", to_number_sql(a), to_number_sql(b))
        if b.kind == "json":  # undefined at run time: unary minus
            node = t.Case(((t.IsNull(b.sql), t.Binary("-", t.Literal(0.0), to_number_sql(a))),), node)
        return self._num(node, a.raises or b.raises)

    def op_div(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self._binary_args(values, paths, scope)
        return self._num(t.Binary("/", to_number_sql(a), to_number_sql(b)), a.raises or b.raises)

    def op_mod(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self._binary_args(values, paths, scope)
        return self._num(t.Binary("%", to_number_sql(a), to_number_sql(b)), a.raises or b.raises)

    def _extreme(self, values: list[Any], paths: list[str], scope: Scope, name: str, empty: float) -> Val:
        vals = self.args(values, paths, scope, 0)
        if not vals:
            return self._num(t.Literal(empty))
        nums = [to_number_sql(v) for v in vals]

        def build(*xs: t.Node) -> t.Node:
            any_nan = t.or_(*(f("isnan", x) for x in xs))
            return t.Case(((any_nan, NAN_SQL),), f(name, *xs) if len(xs) > 1 else xs[0])

        return self._num(self.bind(nums, build), any(v.raises for v in vals))

    def op_max(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._extreme(values, paths, scope, "greatest", float("-inf"))

    def op_min(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._extreme(values, paths, scope, "least", float("inf"))

    # -- arrays ---------------------------------------------------------------------------------

    def elements(self, source: Val) -> tuple[t.Node, str] | None:
        """(SQL list, element kind) of an array value, or None when the value is statically not an array."""
        if source.kind == "list":
            assert source.elem is not None
            return source.sql, source.elem
        if source.kind == "json":
            return f("jl_elems", source.sql), "json"
        return None

    def element_scope(self, p: t.Param, kind: str) -> Scope:
        if kind == "json":
            data = Val(p, "json", nullable=True)
        elif kind == "num":
            data = Val(p, "num", nullable=True, numtype="double")
        else:
            data = Val(p, kind, nullable=True)
        return Scope("value", next(self._scopes), data=data)

    def _scoped(self, values: list[Any], paths: list[str], scope: Scope) -> tuple[Val, Any, str]:
        source = self.value(values[0], paths[0], scope) if values else const_val(UNDEFINED)
        logic = values[1] if len(values) > 1 else None
        logic_path = paths[1] if len(paths) > 1 else ""
        return source, logic, logic_path

    def _logic_value(self, logic: Any, path: str, scope: Scope) -> Val:
        return const_val(UNDEFINED) if logic is None else self.value(logic, path, scope)

    def _logic_cond(self, logic: Any, path: str, scope: Scope) -> t.Node:
        return t.FALSE if logic is None else self.cond(logic, path, scope)

    def op_map(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        source, logic, lpath = self._scoped(values, paths, scope)
        els = self.elements(source)
        if els is None:
            return const_val([])
        lst, kind = els
        p = self.fresh()
        body = to_json(self._logic_value(logic, lpath, self.element_scope(p, kind)))
        node = f("to_json", f("list_transform", lst, t.Lambda((p,), body)))
        return Val(f("coalesce", node, t.JsonLiteral([])), "json")

    def op_filter(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        source, logic, lpath = self._scoped(values, paths, scope)
        els = self.elements(source)
        if els is None:
            return const_val([])
        lst, kind = els
        p = self.fresh()
        test = self._logic_cond(logic, lpath, self.element_scope(p, kind))
        node = f("to_json", f("list_filter", lst, t.Lambda((p,), test)))
        return Val(f("coalesce", node, t.JsonLiteral([])), "json")

    def _quantifier(self, values: list[Any], paths: list[str], scope: Scope) -> tuple[t.Node, t.Node] | None:
        """(element count, list of element truthiness) or None when the source is not an array."""
        source, logic, lpath = self._scoped(values, paths, scope)
        els = self.elements(source)
        if els is None:
            return None
        lst, kind = els
        p = self.fresh()
        test = self._logic_cond(logic, lpath, self.element_scope(p, kind))
        return f("coalesce", f("len", lst), t.Literal(0)), f("list_transform", lst, t.Lambda((p,), test))

    def op_all(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        q = self._quantifier(values, paths, scope)
        if q is None:
            return const_val(False)
        n, tests = q
        node = t.and_(t.Binary(">", n, t.Literal(0)), t.coalesce_false(f("list_bool_and", tests)))
        return Val(node, "bool")

    def op_some(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        q = self._quantifier(values, paths, scope)
        if q is None:
            return const_val(False)
        return Val(t.coalesce_false(f("list_bool_or", q[1])), "bool")

    def op_none(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        q = self._quantifier(values, paths, scope)
        if q is None:
            return const_val(True)
        return Val(t.not_(t.coalesce_false(f("list_bool_or", q[1]))), "bool")

    def op_reduce(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        source, logic, lpath = self._scoped(values, paths, scope)
        initial = self.value(values[2], paths[2], scope) if len(values) > 2 else const_val(None)
        els = self.elements(source)
        if els is None:
            return initial
        lst, kind = els
        acc, cur = self.fresh("acc"), self.fresh("cur")
        if kind != "json":  # list_reduce wants one type for accumulator and elements: JSON
            typed_elem = self.element_scope(cur, kind).data
            assert typed_elem is not None
            lst = f("list_transform", lst, t.Lambda((cur,), to_json(typed_elem)))
        inner = Scope("reduce", next(self._scopes), current=Val(cur, "json", nullable=True),
                      accumulator=Val(acc, "json", nullable=True))
        body = to_json(self._logic_value(logic, lpath, inner))
        init = to_json(initial)
        node = f("list_reduce", lst, t.Lambda((acc, cur), body), init)
        if source.kind == "list":  # a NULL list is not an array: the initial value
            node = t.Case(((t.IsNull(source.sql), init),), node)
        return Val(node, "json", nullable=True)

    def op_merge(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        vals = self.args(values, paths, scope, 0)
        pieces: list[t.Node] = []
        for v in vals:
            if v.is_const:
                items = v.const if isinstance(v.const, list) else [v.const]
                pieces.append(t.ListValue(tuple(t.JsonLiteral(x) for x in items)))
            elif v.kind in ("json", "list"):
                pieces.append(self.bind([to_json(v)], lambda j: t.Case(
                    ((t.Binary("=", f("jl_type", j), t.Literal("array")), f("jl_elems", j)),), t.ListValue((j,)))))
            else:
                pieces.append(t.ListValue((to_json(v),)))
        if not pieces:
            return const_val([])
        return Val(f("to_json", f("list_concat", *pieces) if len(pieces) > 1 else pieces[0]), "json")

    def op_in(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        a, b = self._binary_args(values, paths, scope)
        return Val(contains(a, b), "bool")

    # -- strings --------------------------------------------------------------------------------

    def op_cat(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        vals = self.args(values, paths, scope, 0)
        if not vals:
            return const_val("")
        parts = [to_string_sql(v, nullish="") for v in vals]
        node = parts[0]
        for p in parts[1:]:
            node = t.Binary("||", node, p)
        return Val(node, "str", raises=any(v.raises for v in vals))

    def op_substr(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        src, start, end = self.args(values, paths, scope, 3)[:3]
        s = to_string_sql(src)
        st = f("jl_toint", to_number_sql(start))
        if end.kind == "undef":
            return Val(self.bind([s, st], lambda x, y: f("jl_substr_at", x, y, t.Cast(t.NULL, "DOUBLE"))), "str")
        negative = less(end, const_val(0), True)
        length = f("jl_toint", to_number_sql(end))
        if end.kind == "json":
            length = t.Case(((t.IsNull(end.sql), t.Cast(t.NULL, "DOUBLE")),), length)

        def build(x: t.Node, y: t.Node) -> t.Node:
            temp = f("jl_substr_at", x, y, t.Cast(t.NULL, "DOUBLE"))
            # length + end: a string (or array) end concatenates, which never reads as a number: ""
            cut = f("jl_substr_at", temp, t.Literal(0.0),
                    f("jl_toint", t.Binary("+", t.Cast(f("length", temp), "DOUBLE"), to_number_sql(end))))
            if end.kind in ("str", "list"):
                cut = t.Literal("")
            elif end.kind == "json":
                cut = t.Case(((t.InList(f("jl_type", to_json(end)), (t.Literal("string"), t.Literal("array"))),
                               t.Literal("")),), cut)
            return t.Case(((negative, cut),), f("jl_substr_at", x, y, length))

        return Val(self.bind([s, st], build), "str")

    def op_log(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        raise JsonLogicError(op_path, '"log" is not supported in SQL (it prints while evaluating); remove it')

    # -- security operators ---------------------------------------------------------------------

    def _string_test(self, v: Val, build: Callable[[t.Node], t.Node]) -> t.Node:
        """A predicate that is false unless v is a string."""
        if v.kind == "str":
            test = build(v.sql)
            return t.coalesce_false(test) if v.nullable else test
        if v.kind == "json":
            return self.bind([v.sql], lambda j: t.Case(
                ((t.Binary("=", f("jl_type", j), t.Literal("string")), build(f("jl_sval", j))),), t.FALSE))
        return t.FALSE

    def op_regex(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        value = self.value(values[0], paths[0], scope) if values else const_val(UNDEFINED)
        pattern = security.regex_pattern(values[1] if len(values) > 1 else None,
                                         values[2] if len(values) > 2 else None,
                                         paths[1] if len(paths) > 1 else op_path)
        return Val(self._string_test(value, lambda s: f("regexp_matches", s, t.Literal(pattern))), "bool")

    def _affix(self, values: list[Any], paths: list[str], scope: Scope, fn: str) -> Val:
        a, b = self._binary_args(values, paths, scope)
        if b.kind != "str":
            if b.kind != "json":
                return const_val(False)
            return Val(self.bind([b.sql], lambda jb: t.Case(
                ((t.Binary("=", f("jl_type", jb), t.Literal("string")),
                  self._string_test(a, lambda s: f(fn, s, f("jl_sval", jb)))),), t.FALSE)), "bool")
        affix = b.sql
        test = self._string_test(a, lambda s: f(fn, s, affix))
        return Val(t.and_(t.IsNull(b.sql, negate=True), test) if b.nullable else test, "bool")

    def op_starts_with(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._affix(values, paths, scope, "starts_with")

    def op_ends_with(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        return self._affix(values, paths, scope, "ends_with")

    def op_lower(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        (v,) = self.args(values, paths, scope, 1)[:1]
        if v.kind == "str":
            return Val(f("lower", v.sql), "str", nullable=v.nullable)
        if v.kind == "json":
            return Val(self.bind([v.sql], lambda j: t.Case(
                ((t.Binary("=", f("jl_type", j), t.Literal("string")), f("lower", f("jl_sval", j))),),
                t.Cast(t.NULL, "VARCHAR"))), "str", nullable=True)
        return const_val(None)

    def op_length(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        (v,) = self.args(values, paths, scope, 1)[:1]
        if v.kind == "str":
            return Val(f("length", v.sql), "num", nullable=v.nullable, numtype="int")
        if v.kind == "list":
            return Val(f("len", v.sql), "num", nullable=v.nullable, numtype="int")
        if v.kind == "json":
            return Val(self.bind([v.sql], lambda j: t.Case((
                (t.Binary("=", f("jl_type", j), t.Literal("string")), f("length", f("jl_sval", j))),
                (t.Binary("=", f("jl_type", j), t.Literal("array")), f("json_array_length", j))),
                t.Cast(t.NULL, "BIGINT"))), "num", nullable=True, numtype="int")
        return const_val(None)

    def op_cidr(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        value = self.value(values[0], paths[0], scope) if values else const_val(UNDEFINED)
        nets = security.networks(values[1] if len(values) > 1 else None, paths[1] if len(paths) > 1 else op_path)

        def ranges(ip: t.Node, version: int) -> t.Node:
            def fmt(n: int) -> t.Node:
                return t.Literal(n) if version == 4 else t.Literal(format(n, "032x"))

            return t.or_(*(t.and_(t.Binary(">=", ip, fmt(n.low)), t.Binary("<=", ip, fmt(n.high)))
                           for n in nets if n.version == version))

        def build(s: t.Node) -> t.Node:
            tests: list[t.Node] = []
            for net in (n for n in nets if n.version == 4):
                # a cheap text-prefix test first; the exact pattern (valid octets) only for rows that pass it
                full = f("regexp_full_match", s, t.Literal(security.ipv4_networks_pattern([net])))
                text_prefix = security.ipv4_text_prefix(net)
                tests.append(t.Case(((f("starts_with", s, t.Literal(text_prefix)), full),), t.FALSE)
                             if text_prefix else full)
            for version, parser in ((6, "jl_ipv6"),):
                count = sum(1 for n in nets if n.version == version)
                if not count:
                    continue
                # a few networks: re-parse per network (cheaper than binding a list per row); many: bind once
                test = ranges(f(parser, s), version) if count <= 3 else \
                    let([f(parser, s)], lambda ip, v=version: ranges(ip, v))
                tests.append(t.coalesce_false(test))
            return t.or_(*tests)

        return Val(self._string_test(value, build), "bool")

    def op_domain_in(self, values: list[Any], paths: list[str], op_path: str, scope: Scope) -> Val:
        value = self.value(values[0], paths[0], scope) if values else const_val(UNDEFINED)
        entries = security.domains(values[1] if len(values) > 1 else None, paths[1] if len(paths) > 1 else op_path)
        pattern = security.domain_pattern(entries)
        return Val(self._string_test(value, lambda s: f("regexp_full_match", f("lower", s), t.Literal(pattern))),
                   "bool")


# Arguments an operator reads; json-logic-js still evaluates any beyond these.
_USED_ARGS = {"==": 2, "===": 2, "!=": 2, "!==": 2, ">": 2, ">=": 2, "<": 3, "<=": 3, "-": 2, "/": 2, "%": 2,
              "in": 2, "substr": 3, "var": 2, "missing_some": 2, "starts_with": 2, "ends_with": 2, "lower": 1,
              "length": 1, "cidr": 2, "domain_in": 2}


def _has_error(node: t.Node) -> bool:
    return "error(" in node.render()


def _lazy_bool(op: str, conds: list[t.Node]) -> t.Node:
    """and/or that only evaluates what json-logic-js evaluates (an error() further on must not run)."""
    out = conds[-1]
    for c in reversed(conds[:-1]):
        out = t.Case(((c, out),), t.FALSE) if op == "and" else t.Case(((c, t.TRUE),), out)
    return out


_METHOD_NAMES = {
    "?:": "ternary", "==": "eq", "===": "seq", "!=": "ne", "!==": "sne", "!": "not", "!!": "notnot",
    ">": "gt", ">=": "ge", "<": "lt", "<=": "le", "+": "plus", "-": "minus", "*": "times", "/": "div",
    "%": "mod",
}

assert all(hasattr(SqlCompiler, "op_" + _METHOD_NAMES.get(op, op)) for op in OPERATORS)
