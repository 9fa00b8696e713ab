"""A small JQL evaluator for the Jira emulator: enough for the queries breachline sends, strict about the rest.

AND / OR / NOT / parentheses over labels, statusCategory, status, key, project, issuetype and summary, with
= != in, not in, ~ and !~; ORDER BY is accepted and ignored except `created DESC`.
"""

from __future__ import annotations

import re
from typing import Any

# The emulator's workflow: status name -> id and (category key, category name, category id).
STATUSES: dict[str, dict[str, Any]] = {
    "To Do": {"id": "10000", "category": ("new", "To Do", 2)},
    "In Progress": {"id": "3", "category": ("indeterminate", "In Progress", 4)},
    "Done": {"id": "10001", "category": ("done", "Done", 3)},
}


class JqlError(ValueError):
    pass


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<op>!=|!~|=|~|\(|\)|,)|(?P<word>[^\s=!~(),"]+))')


def _tokens(jql: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(jql):
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            if jql[pos:].strip() == "":
                break
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}")
        pos = m.end()
        if m.group("str"):
            out.append(("str", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op"):
            out.append(("op", m.group("op")))
        elif m.group("word"):
            out.append(("word", m.group("word")))
    return out


def _field_values(issue: dict[str, Any], name: str) -> list[str]:
    name = name.lower()
    if name == "labels":
        return list(issue["labels"])
    if name == "statuscategory":
        key, label, _ = STATUSES[issue["status"]]["category"]
        return [str(key), str(label)]
    if name == "status":
        return [issue["status"]]
    if name in ("key", "issuekey", "id"):
        return [issue["key"], issue["id"]]
    if name == "project":
        return [issue["project"]]
    if name in ("issuetype", "type"):
        return [issue["issuetype"]]
    if name == "summary":
        return [issue["summary"]]
    raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def parse_jql(jql: str) -> tuple[Any, bool]:
    """Compile JQL into a predicate over emulator issues; returns (predicate, order by created DESC)."""
    toks = _tokens(jql)
    order_desc = False
    for i, (kind, word) in enumerate(toks):
        if kind == "word" and word.upper() == "ORDER" and i + 1 < len(toks) and toks[i + 1][1].upper() == "BY":
            rest = [v.upper() for _, v in toks[i + 2 :]]
            order_desc = "DESC" in rest
            toks = toks[:i]
            break
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(toks):
            raise JqlError("Error in the JQL Query: the query ended unexpectedly")
        pos += 1
        return toks[pos - 1]

    def is_word(tok: tuple[str, str] | None, *words: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].upper() in words

    def value() -> str:
        kind, v = take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: expected a value, found '{v}'")
        return v

    def clause() -> Any:
        kind, field = take()
        if kind != "word":
            raise JqlError(f"Error in the JQL Query: expected a field, found '{field}'")
        _field_values({"labels": [], "status": "To Do", "key": "", "id": "", "project": "", "issuetype": "",
                       "summary": ""}, field)  # unknown fields fail here, whatever the data
        tok = take()
        negate = False
        if is_word(tok, "NOT"):
            negate, tok = True, take()
        if is_word(tok, "IN"):
            if take() != ("op", "("):
                raise JqlError("Error in the JQL Query: expected '(' after IN")
            values = [value()]
            while peek() == ("op", ","):
                take()
                values.append(value())
            if take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: expected ')'")
            wanted = {v.lower() for v in values}
            return lambda i: any(x.lower() in wanted for x in _field_values(i, field)) != negate
        if tok[0] != "op" or tok[1] not in ("=", "!=", "~", "!~"):
            raise JqlError(f"Error in the JQL Query: unsupported operator '{tok[1]}'")
        op, v = tok[1], value().lower()
        if op in ("~", "!~"):
            return lambda i: any(v in x.lower() for x in _field_values(i, field)) != (op == "!~")
        return lambda i: any(x.lower() == v for x in _field_values(i, field)) != (op == "!=")

    def factor() -> Any:
        tok = peek()
        if tok == ("op", "("):
            take()
            inner = expr()
            if take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: expected ')'")
            return inner
        if is_word(tok, "NOT"):
            take()
            inner = factor()
            return lambda i: not inner(i)
        return clause()

    def term() -> Any:
        parts = [factor()]
        while is_word(peek(), "AND"):
            take()
            parts.append(factor())
        return lambda i: all(p(i) for p in parts)

    def expr() -> Any:
        parts = [term()]
        while is_word(peek(), "OR"):
            take()
            parts.append(term())
        return lambda i: any(p(i) for p in parts)

    if not toks:
        return (lambda i: True), order_desc
    predicate = expr()
    if pos != len(toks):
        raise JqlError(f"Error in the JQL Query: unexpected '{toks[pos][1]}'")
    return predicate, order_desc
