"""A small SQL expression tree whose renderer quotes every identifier and literal.

The JSONLogic compiler never pastes rule text into SQL: field names become `Column` nodes (identifiers quoted,
STRUCT fields read with struct_extract and a quoted string), values become `Literal` nodes, and the function,
operator and type names come from the compiler's own constants (checked against a strict pattern here, so a
rule can never smuggle one in).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE = re.compile(r"[A-Z][A-Z0-9_]*(\[\])?")
_BINARY_OPS = frozenset(
    {"=", "<>", "<", "<=", ">", ">=", "AND", "OR", "+", "-", "*", "/", "%", "||",
     "IS DISTINCT FROM", "IS NOT DISTINCT FROM"}
)


class Node:
    """Base class: `render()` gives SQL text, fully parenthesised where precedence could matter."""

    def render(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()


def quote_identifier(name: str) -> str:
    if "\x00" in name:
        raise ValueError("an identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_string(text: str) -> str:
    """A VARCHAR literal; NUL characters (which the SQL parser cannot read) are spliced in with chr(0)."""
    parts = text.split("\x00")
    quoted = ["'" + p.replace("'", "''") + "'" for p in parts]
    return quoted[0] if len(quoted) == 1 else "(" + " || chr(0) || ".join(quoted) + ")"


@dataclass(frozen=True)
class Literal(Node):
    """None, bool, int, float or str, rendered with an explicit type where DuckDB would guess another."""

    value: Any

    def render(self) -> str:
        v = self.value
        if v is None:
            return "NULL"
        if v is True:
            return "TRUE"
        if v is False:
            return "FALSE"
        if isinstance(v, int):
            if -(2**31) < v < 2**31:
                return str(v)
            return f"CAST('{v}' AS {'HUGEINT' if v < 2**127 else 'UHUGEINT'})"
        if isinstance(v, float):
            if math.isnan(v):
                return "CAST('NaN' AS DOUBLE)"
            if math.isinf(v):
                return f"CAST('{'-' if v < 0 else ''}Infinity' AS DOUBLE)"
            return f"CAST('{v!r}' AS DOUBLE)"
        if isinstance(v, str):
            return quote_string(v)
        raise TypeError(f"not a SQL literal: {type(v).__name__}")


@dataclass(frozen=True)
class JsonLiteral(Node):
    """A JSON value (including NaN / Infinity, which DuckDB's JSON reader accepts)."""

    value: Any

    def render(self) -> str:
        text = json.dumps(self.value, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
        return f"CAST({quote_string(text)} AS JSON)"


@dataclass(frozen=True)
class Column(Node):
    """A column, or a field inside STRUCT columns: ("actor", "user") reads struct_extract("actor", 'user')."""

    parts: tuple[str, ...]

    def render(self) -> str:
        sql = quote_identifier(self.parts[0])
        for field in self.parts[1:]:
            sql = f"struct_extract({sql}, {quote_string(field)})"
        return sql


@dataclass(frozen=True)
class Param(Node):
    """A lambda parameter; the compiler names them (x1, x2, ...), never the rule."""

    name: str

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"bad parameter name {self.name!r}")

    def render(self) -> str:
        return self.name


@dataclass(frozen=True)
class Func(Node):
    name: str
    args: tuple[Node, ...]

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"bad function name {self.name!r}")

    def render(self) -> str:
        return f"{self.name}({', '.join(a.render() for a in self.args)})"


def func(name: str, *args: Node) -> Func:
    return Func(name, tuple(args))


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def __post_init__(self) -> None:
        if self.op not in _BINARY_OPS:
            raise ValueError(f"bad operator {self.op!r}")

    def render(self) -> str:
        return f"({self.left.render()} {self.op} {self.right.render()})"


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def render(self) -> str:
        return f"(NOT {self.operand.render()})"


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negate: bool = False

    def render(self) -> str:
        return f"({self.operand.render()} IS {'NOT ' if self.negate else ''}NULL)"


@dataclass(frozen=True)
class Cast(Node):
    operand: Node
    type_name: str
    try_cast: bool = False

    def __post_init__(self) -> None:
        if not _TYPE.fullmatch(self.type_name):
            raise ValueError(f"bad type name {self.type_name!r}")

    def render(self) -> str:
        return f"{'TRY_CAST' if self.try_cast else 'CAST'}({self.operand.render()} AS {self.type_name})"


@dataclass(frozen=True)
class Case(Node):
    whens: tuple[tuple[Node, Node], ...]
    otherwise: Node

    def render(self) -> str:
        body = " ".join(f"WHEN {c.render()} THEN {v.render()}" for c, v in self.whens)
        return f"(CASE {body} ELSE {self.otherwise.render()} END)"


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: tuple[Node, ...]

    def render(self) -> str:
        return f"({self.operand.render()} IN ({', '.join(i.render() for i in self.items)}))"


@dataclass(frozen=True)
class Lambda(Node):
    params: tuple[Param, ...]
    body: Node

    def render(self) -> str:
        return f"(lambda {', '.join(p.render() for p in self.params)}: {self.body.render()})"


@dataclass(frozen=True)
class ListValue(Node):
    items: tuple[Node, ...]
    element_type: str = "JSON"

    def __post_init__(self) -> None:
        if not _TYPE.fullmatch(self.element_type):
            raise ValueError(f"bad type name {self.element_type!r}")

    def render(self) -> str:
        if not self.items:
            return f"CAST([] AS {self.element_type}[])"
        return "[" + ", ".join(i.render() for i in self.items) + "]"


TRUE = Literal(True)
FALSE = Literal(False)
NULL = Literal(None)


def and_(*nodes: Node) -> Node:
    items = [n for n in nodes if n != TRUE]
    if any(n == FALSE for n in items):
        return FALSE
    if not items:
        return TRUE
    out = items[0]
    for n in items[1:]:
        out = Binary("AND", out, n)
    return out


def or_(*nodes: Node) -> Node:
    items = [n for n in nodes if n != FALSE]
    if any(n == TRUE for n in items):
        return TRUE
    if not items:
        return FALSE
    out = items[0]
    for n in items[1:]:
        out = Binary("OR", out, n)
    return out


def not_(node: Node) -> Node:
    if node == TRUE:
        return FALSE
    if node == FALSE:
        return TRUE
    if isinstance(node, Not):
        return node.operand
    return Not(node)


def coalesce_false(node: Node) -> Node:
    return func("coalesce", node, FALSE)
