"""The reference evaluator: json-logic-js 2.0.5 semantics, compiled once into Python closures.

`compile_rule(rule)` walks the rule once (checking operators, and in strict mode arities and shapes) and
returns a function of the data. json-logic-js itself is the specification: each operator below mirrors its
code (logic.js), including its quirks (`*` with one argument returns it unconverted, `+` uses parseFloat,
`in` uses indexOf, missing arguments are `undefined`).

Two modes:
- strict (default, what playbooks use): unknown operators, wrong arities and objects that are not operations
  are compile-time errors naming the JSON path inside the rule.
- js-compatible (`strict=False`): accepts every rule json-logic-js accepts; an unknown operator raises only
  when it is reached, as in json-logic-js. The conformance suite runs in this mode.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from correlators.jsonlogic import security
from correlators.jsonlogic.errors import JsonLogicError, JsonLogicEvalError, child_path
from correlators.jsonlogic.spec import (
    OPERATORS,
    SCOPED_OPERATORS,
    check_arity,
    check_strict_shape,
    is_logic,
    operation,
    unknown_operator_message,
)
from correlators.jsonlogic.values import (
    UNDEFINED,
    index_of,
    is_number,
    join,
    js_add,
    js_div,
    js_get,
    js_mod,
    js_truthy,
    less_equal,
    less_than,
    loose_equals,
    norm_number,
    parse_float,
    strict_equals,
    substr,
    to_number,
    to_string,
    truthy,
)

Fn = Callable[[Any], Any]
log = logging.getLogger("breachline.jsonlogic")


def compile_rule(rule: Any, *, path: str = "", strict: bool = True, schema: Mapping[str, str] | None = None) -> Fn:
    """Compile `rule` once; the result maps data to the value json-logic-js would return.

    With a `schema` (e.g. event_schema()), `var` paths are linted against it like the SQL compiler does."""
    fn = _Compiler(strict).compile(rule, path)
    if schema is not None:
        from correlators.jsonlogic.schema import lint_vars

        lint_vars(rule, schema, path)
    return fn


def apply(rule: Any, data: Any = None, *, strict: bool = True) -> Any:
    """jsonLogic.apply(rule, data). Compiles on every call: use compile_rule for many records."""
    return compile_rule(rule, strict=strict)(data)


def _const(value: Any) -> Fn:
    return lambda _data: value


def _num(x: float) -> int | float:
    return norm_number(x)


class _Compiler:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def compile(self, rule: Any, path: str) -> Fn:
        if isinstance(rule, list):
            items = [self.compile(x, child_path(path, i)) for i, x in enumerate(rule)]
            return lambda data: [f(data) for f in items]
        if not is_logic(rule):
            if self.strict:
                check_strict_shape(rule, path)
            return _const(rule)
        op, values = operation(rule)
        op_path = child_path(path, op)
        if op not in OPERATORS:
            if self.strict:
                raise JsonLogicError(path or "rule", unknown_operator_message(op))
            return self._unknown(op, op_path)
        if self.strict:
            check_arity(op, len(values), path or "rule")
        arg_paths = [child_path(op_path, i) if isinstance(rule[op], list) else op_path for i in range(len(values))]
        method = getattr(self, "op_" + _METHOD_NAMES.get(op, op))
        result: Fn = method(values, arg_paths, op_path)
        return result

    # -- helpers --------------------------------------------------------------------------------

    def _args(self, values: list[Any], paths: list[str]) -> list[Fn]:
        return [self.compile(v, p) for v, p in zip(values, paths, strict=True)]

    def _fixed(self, values: list[Any], paths: list[str], n: int) -> list[Fn]:
        """The first n arguments compiled; absent ones are `undefined`, extra ones still evaluated."""
        fns = self._args(values, paths)
        while len(fns) < n:
            fns.append(_const(UNDEFINED))
        return fns

    def _unknown(self, op: str, op_path: str) -> Fn:
        # json-logic-js evaluates the arguments first, then fails on the name; nothing to observe there.
        message = f"Unrecognized operation {op}"
        if op.find(".") > 0:
            message += f" (failed at {op.split('.')[0]})"

        def fail(_data: Any) -> Any:
            raise JsonLogicEvalError(op_path, message)

        return fail

    # -- data access ----------------------------------------------------------------------------

    def op_var(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        path_fn, default_fn = self._fixed(values, paths, 2)[:2]
        if values and not is_logic(values[0]) and not isinstance(values[0], list):
            key = values[0]
            if self.strict and not (key is None or isinstance(key, str) or is_number(key)):
                raise JsonLogicError(paths[0], "var: the path must be a string, a number or null")
            if len(values) < 2:
                return _var_const(key)
            parts = _split_path(key)

            def var_with_default(data: Any) -> Any:
                default = default_fn(data)  # json-logic-js evaluates every argument first
                return data if parts is None else _walk(data, parts, None if default is UNDEFINED else default)

            return var_with_default

        def var_dynamic(data: Any) -> Any:
            return _var(data, path_fn(data), default_fn(data))

        return var_dynamic

    def op_missing(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        fns = self._args(values, paths)

        def missing(data: Any) -> Any:
            args = [f(data) for f in fns]
            return _missing(args, data)

        return missing

    def op_missing_some(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        need_fn, options_fn = self._fixed(values, paths, 2)[:2]

        def missing_some(data: Any) -> Any:
            need, options = need_fn(data), options_fn(data)
            # json-logic-js applies {"missing": options} as a rule again (the evaluated options are re-read).
            are_missing = _Compiler(strict=False).compile({"missing": options}, op_path)(data)
            if options is None or options is UNDEFINED:
                raise JsonLogicEvalError(op_path, f"Cannot read properties of {to_string(options)} (reading 'length')")
            size = len(options) if isinstance(options, list | str) else math.nan
            if size - len(are_missing) >= to_number(need):
                return []
            return are_missing

        return missing_some

    # -- control --------------------------------------------------------------------------------

    def op_if(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        fns = self._args(values, paths)
        pairs = [(fns[i], fns[i + 1]) for i in range(0, len(fns) - 1, 2)]
        otherwise = fns[-1] if len(fns) % 2 == 1 else _const(None)

        def if_(data: Any) -> Any:
            for cond, then in pairs:
                if truthy(cond(data)):
                    return then(data)
            return otherwise(data)

        return if_

    op_ternary = op_if

    def op_and(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        fns = self._args(values, paths)

        def and_(data: Any) -> Any:
            current: Any = UNDEFINED
            for f in fns:
                current = f(data)
                if not truthy(current):
                    return current
            return current

        return and_

    def op_or(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        fns = self._args(values, paths)

        def or_(data: Any) -> Any:
            current: Any = UNDEFINED
            for f in fns:
                current = f(data)
                if truthy(current):
                    return current
            return current

        return or_

    def op_not(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        (a,) = self._fixed(values, paths, 1)[:1]
        rest = self._args(values, paths)[1:]
        return lambda data: (not truthy(a(data)), [f(data) for f in rest])[0]

    def op_notnot(self, values: list[Any], paths: list[str], op_path: str) -> Fn:
        (a,) = self._fixed(values, paths, 1)[:1]
        rest = self._args(values, paths)[1:]
        return lambda data: (truthy(a(data)), [f(data) for f in rest])[0]

    # -- comparison -----------------------------------------------------------------------------

    def _binary(self, values: list[Any], paths: list[str], fn: Callable[[Any, Any], Any]) -> Fn:
        fns = self._fixed(values, paths, 2)
        a, b = fns[0], fns[1]
        if len(fns) == 2:
            return lambda data: fn(a(data), b(data))
        rest = fns[2:]

        def binary(data: Any) -> Any:
            x, y = a(data), b(data)
            for f in rest:  # evaluated (json-logic-js evaluates every argument), then ignored
                f(data)
            return fn(x, y)

        return binary

    def op_eq(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, loose_equals)

    def op_seq(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, strict_equals)

    def op_ne(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda x, y: not loose_equals(x, y))

    def op_sne(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda x, y: not strict_equals(x, y))

    def op_gt(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda x, y: less_than(y, x))

    def op_ge(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda x, y: less_equal(y, x))

    def _between(self, values: list[Any], paths: list[str], cmp: Callable[[Any, Any], bool]) -> Fn:
        fns = self._fixed(values, paths, 3)
        a, b, c = fns[0], fns[1], fns[2]
        rest = fns[3:]

        def between(data: Any) -> Any:
            x, y, z = a(data), b(data), c(data)
            for f in rest:
                f(data)
            if z is UNDEFINED:
                return cmp(x, y)
            return cmp(x, y) and cmp(y, z)

        return between

    def op_lt(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._between(v, p, less_than)

    def op_le(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._between(v, p, less_equal)

    # -- arithmetic -----------------------------------------------------------------------------

    def op_max(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)
        return lambda data: _num(_js_max([to_number(f(data)) for f in fns]))

    def op_min(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)
        return lambda data: _num(-_js_max([-to_number(f(data)) for f in fns]))

    def op_plus(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)

        def plus(data: Any) -> Any:
            total = 0.0
            for f in fns:
                total = total + parse_float(f(data))
            return _num(total)

        return plus

    def op_times(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)

        def times(data: Any) -> Any:
            args = [f(data) for f in fns]
            if not args:
                raise JsonLogicEvalError(op_path, "Reduce of empty array with no initial value")
            if len(args) == 1:
                return args[0]  # Array.reduce without an initial value returns the lone element as is
            acc = parse_float(args[0])
            for x in args[1:]:
                acc = acc * parse_float(x)
            return _num(acc)

        return times

    def op_minus(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(
            v, p, lambda a, b: _num(-to_number(a) if b is UNDEFINED else to_number(a) - to_number(b))
        )

    def op_div(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda a, b: _num(js_div(to_number(a), to_number(b))))

    def op_mod(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda a, b: _num(js_mod(to_number(a), to_number(b))))

    # -- arrays ---------------------------------------------------------------------------------

    def _scoped(self, values: list[Any], paths: list[str]) -> tuple[Fn, Fn]:
        source = self.compile(values[0], paths[0]) if values else _const(UNDEFINED)
        logic = self.compile(values[1], paths[1]) if len(values) > 1 else _const(UNDEFINED)
        return source, logic

    def op_map(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)

        def map_(data: Any) -> Any:
            items = source(data)
            return [logic(x) for x in items] if isinstance(items, list) else []

        return map_

    def op_filter(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)

        def filter_(data: Any) -> Any:
            items = source(data)
            return [x for x in items if truthy(logic(x))] if isinstance(items, list) else []

        return filter_

    def op_reduce(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)
        initial = self.compile(v[2], p[2]) if len(v) > 2 else _const(None)

        def reduce_(data: Any) -> Any:
            items = source(data)
            acc = initial(data)
            if not isinstance(items, list):
                return acc
            for x in items:
                acc = logic({"current": x, "accumulator": acc})
            return acc

        return reduce_

    def op_all(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)

        def all_(data: Any) -> bool:
            items = source(data)
            if not isinstance(items, list) or not items:
                return False
            return all(truthy(logic(x)) for x in items)

        return all_

    def op_none(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)

        def none_(data: Any) -> bool:
            items = source(data)
            if not isinstance(items, list) or not items:
                return True
            return not any(truthy(logic(x)) for x in items)

        return none_

    def op_some(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        source, logic = self._scoped(v, p)

        def some_(data: Any) -> bool:
            items = source(data)
            if not isinstance(items, list) or not items:
                return False
            return any(truthy(logic(x)) for x in items)

        return some_

    def op_merge(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)

        def merge(data: Any) -> list[Any]:
            out: list[Any] = []
            for f in fns:
                x = f(data)
                if isinstance(x, list):
                    out.extend(x)
                else:
                    out.append(x)
            return out

        return merge

    def op_in(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, _js_in)

    # -- strings --------------------------------------------------------------------------------

    def op_cat(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._args(v, p)
        return lambda data: join([f(data) for f in fns], "")

    def op_substr(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        fns = self._fixed(v, p, 3)
        source, start, end = fns[0], fns[1], fns[2]
        rest = fns[3:]

        def substr_(data: Any) -> str:
            s, st, en = source(data), start(data), end(data)
            for f in rest:
                f(data)
            if less_than(en, 0):
                # json-logic-js emulates PHP's negative length: cut from the end of the remainder
                temp = substr(s, st)
                return substr(temp, 0, js_add(len(temp), en))
            return substr(s, st, en)

        return substr_

    def op_log(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        (a,) = self._fixed(v, p, 1)[:1]

        def log_(data: Any) -> Any:
            value = a(data)
            log.info("jsonlogic log at %s: %r", op_path, value)
            return value

        return log_

    # -- security operators ---------------------------------------------------------------------

    def op_regex(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        value = self.compile(v[0], p[0]) if v else _const(UNDEFINED)
        pattern = security.regex_pattern(
            v[1] if len(v) > 1 else None, v[2] if len(v) > 2 else None, p[1] if len(p) > 1 else op_path
        )
        compiled = security.compile_regex(pattern)
        return lambda data: _regex_match(compiled, value(data))

    def op_starts_with(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda s, a: isinstance(s, str) and isinstance(a, str) and s.startswith(a))

    def op_ends_with(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        return self._binary(v, p, lambda s, a: isinstance(s, str) and isinstance(a, str) and s.endswith(a))

    def op_lower(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        (a,) = self._fixed(v, p, 1)[:1]

        def lower(data: Any) -> str | None:
            s = a(data)
            return security.lower(s) if isinstance(s, str) else None

        return lower

    def op_length(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        (a,) = self._fixed(v, p, 1)[:1]
        return lambda data: security.length(a(data))

    def op_cidr(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        value = self.compile(v[0], p[0]) if v else _const(UNDEFINED)
        nets = security.networks(v[1] if len(v) > 1 else None, p[1] if len(p) > 1 else op_path)
        return lambda data: security.in_networks(value(data), nets)

    def op_domain_in(self, v: list[Any], p: list[str], op_path: str) -> Fn:
        value = self.compile(v[0], p[0]) if v else _const(UNDEFINED)
        entries = security.domains(v[1] if len(v) > 1 else None, p[1] if len(p) > 1 else op_path)
        return lambda data: security.domain_matches(value(data), entries)


_METHOD_NAMES = {
    "?:": "ternary", "==": "eq", "===": "seq", "!=": "ne", "!==": "sne", "!": "not", "!!": "notnot",
    ">": "gt", ">=": "ge", "<": "lt", "<=": "le", "+": "plus", "-": "minus", "*": "times", "/": "div",
    "%": "mod",
}

assert all(f"op_{_METHOD_NAMES.get(op, op)}" in dir(_Compiler) for op in OPERATORS)
assert not SCOPED_OPERATORS - set(OPERATORS)


def _split_path(key: Any) -> list[str] | None:
    """None means "the whole data" (var "" / null / no argument)."""
    if key is UNDEFINED or key is None or (key == "" and isinstance(key, str)):
        return None
    return to_string(key).split(".")


def _walk(data: Any, parts: list[str], not_found: Any) -> Any:
    for part in parts:
        if data is None or data is UNDEFINED:
            return not_found
        data = js_get(data, part)
        if data is UNDEFINED:
            return not_found
    return data


def _var(data: Any, key: Any, default: Any) -> Any:
    not_found = None if default is UNDEFINED else default
    parts = _split_path(key)
    return data if parts is None else _walk(data, parts, not_found)


def _var_const(key: Any) -> Fn:
    """`{"var": "a.b"}` without a default: the common case, kept fast."""
    parts = _split_path(key)
    if parts is None:
        return lambda data: data
    if len(parts) == 1:
        (part,) = parts

        def var_one(data: Any) -> Any:
            if isinstance(data, dict):
                value = data.get(part, UNDEFINED)
            elif data is None or data is UNDEFINED:
                return None
            else:
                value = js_get(data, part)
            return None if value is UNDEFINED else value

        return var_one
    return lambda data: _walk(data, parts, None)


def _missing(args: list[Any], data: Any) -> list[Any]:
    keys = args[0] if args and isinstance(args[0], list) else args
    out = []
    for key in keys:
        value = _var(data, key, UNDEFINED)
        if value is None or (value == "" and isinstance(value, str)):
            out.append(key)
    return out


def _js_max(numbers: list[float]) -> float:
    best = -math.inf
    for x in numbers:
        if math.isnan(x):
            return math.nan
        if x > best:
            best = x
    return best


def _js_in(a: Any, b: Any) -> bool:
    if not js_truthy(b):
        return False
    if isinstance(b, str):
        return to_string(a) in b
    if isinstance(b, list):
        return index_of(b, a) != -1
    return False


def _regex_match(compiled: Any, value: Any) -> bool:
    return isinstance(value, str) and compiled.search(value) is not None
