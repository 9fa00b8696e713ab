"""The operator table shared by both engines: names, arities (checked in strict mode) and rule walking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from correlators.jsonlogic.errors import JsonLogicError, child_path


@dataclass(frozen=True)
class Arity:
    low: int
    high: int | None  # None: any number

    def accepts(self, n: int) -> bool:
        return n >= self.low and (self.high is None or n <= self.high)

    def describe(self) -> str:
        if self.high is None:
            return f"at least {self.low}"
        if self.low == self.high:
            return f"exactly {self.low}"
        return f"{self.low} to {self.high}"


def _a(low: int, high: int | None) -> Arity:
    return Arity(low, high)


# Every operator of json-logic-js 2.0.5.
STANDARD_OPERATORS: dict[str, Arity] = {
    "var": _a(0, 2), "missing": _a(0, None), "missing_some": _a(2, 2),
    "if": _a(1, None), "?:": _a(3, 3),
    "==": _a(2, 2), "===": _a(2, 2), "!=": _a(2, 2), "!==": _a(2, 2),
    "!": _a(1, 1), "!!": _a(1, 1), "or": _a(1, None), "and": _a(1, None),
    ">": _a(2, 2), ">=": _a(2, 2), "<": _a(2, 3), "<=": _a(2, 3),
    "max": _a(1, None), "min": _a(1, None),
    "+": _a(1, None), "-": _a(1, 2), "*": _a(1, None), "/": _a(2, 2), "%": _a(2, 2),
    "map": _a(2, 2), "filter": _a(2, 2), "reduce": _a(2, 3),
    "all": _a(2, 2), "none": _a(2, 2), "some": _a(2, 2),
    "merge": _a(0, None), "in": _a(2, 2), "cat": _a(1, None), "substr": _a(2, 3), "log": _a(1, 1),
}

# Security operators for playbooks (docs/jsonlogic.md), implemented in both engines.
SECURITY_OPERATORS: dict[str, Arity] = {
    "regex": _a(2, 3), "starts_with": _a(2, 2), "ends_with": _a(2, 2), "lower": _a(1, 1),
    "cidr": _a(2, 2), "domain_in": _a(2, 2), "length": _a(1, 1),
}

OPERATORS: dict[str, Arity] = {**STANDARD_OPERATORS, **SECURITY_OPERATORS}

# Operators whose second argument is logic applied to each element (not evaluated up front).
SCOPED_OPERATORS = frozenset({"map", "filter", "reduce", "all", "none", "some"})


def is_logic(rule: Any) -> bool:
    """jsonLogic.is_logic: an object with exactly one key is an operation; anything else is a literal."""
    return isinstance(rule, dict) and len(rule) == 1


def operation(rule: dict[str, Any]) -> tuple[str, list[Any]]:
    """The operator and its argument list (a lone non-list argument is a one-element list)."""
    ((op, values),) = rule.items()
    return op, values if isinstance(values, list) else [values]


def unknown_operator_message(op: str) -> str:
    known = ", ".join(sorted(OPERATORS))
    hint = _closest(op, OPERATORS)
    suggestion = f' (did you mean "{hint}"?)' if hint else ""
    return f'unknown operator "{op}"{suggestion}; known operators: {known}'


def _closest(word: str, candidates: dict[str, Any] | list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def check_arity(op: str, n_args: int, path: str) -> None:
    arity = OPERATORS[op]
    if not arity.accepts(n_args):
        noun = "argument" if arity.high == 1 else "arguments"
        raise JsonLogicError(path, f'operator "{op}" takes {arity.describe()} {noun}, got {n_args}')


def check_strict_shape(rule: Any, path: str) -> None:
    """Strict mode: an object inside a rule must be an operation (exactly one key)."""
    if isinstance(rule, dict) and len(rule) != 1:
        raise JsonLogicError(
            path or "rule",
            f"an operation is an object with exactly one key (the operator), got {len(rule)} keys",
        )


def arg_path(path: str, op: str, values_is_list: bool, i: int) -> str:
    base = child_path(path, op)
    return child_path(base, i) if values_is_list else base
