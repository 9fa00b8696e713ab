"""Hypothesis strategies for JSONLogic agreement tests: rules over the event schema and edge-case events."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

EDGE_STRINGS = [
    "", "0", " ", "1", "-1", "1e3", " 12 ", "0x10", "0b11", "0o17", "abc", "NaN", "Infinity", "-Infinity", "true",
    "null", "export", "Export", "role_change", "é", "😀x", "a'b", 'q"t', "back\\slash", "1,2", "[object Object]",
    "10.1.2.3", "192.168.0.1", "::1", "2001:db8::5", "::ffff:10.0.0.1", "01.2.3.4", "evil.com", "sub.evil.com",
    "EVIL.COM.", "notevil.com", "/admin/export", "/ADMIN", "İstanbul", "pan", "1.5", ".5", "5.", "1e400",
]
EDGE_NUMBERS = [0, 1, -1, 2, 3, 5, 500, 1000, 2**31 - 1, -(2**31), 2**53 + 1, 2**62, 0.5, -2.5, 1e300, 1e-7, 1e21]
TYPED_STRING_PATHS = ["action", "actor.user", "src.ip", "dst.host", "http.path", "message", "time"]
TYPED_NUMBER_PATHS = ["http.status", "resource.record_count", "pii.count"]
LIST_PATHS = ["pii.types", "waf.labels"]
RAW_PATHS = ["raw.a", "raw.b", "raw.b.c", "raw.list", "raw.list.0", "raw.list.length", "raw.s.length", "raw"]


def _scalar_json() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(EDGE_STRINGS), st.sampled_from(EDGE_NUMBERS),
        st.integers(-5, 5), st.text(max_size=4),
    )


def _json_value(depth: int = 2) -> st.SearchStrategy[Any]:
    """JSON values without NaN (JSON has none), arrays at most two levels deep."""
    if depth == 0:
        return _scalar_json()
    inner = _json_value(depth - 1)
    return st.one_of(
        _scalar_json(),
        st.lists(_scalar_json(), max_size=3),
        st.lists(st.lists(_scalar_json(), max_size=2), max_size=2) if depth > 1 else st.just([]),
        st.dictionaries(st.sampled_from(["a", "b", "c", "s"]), inner, max_size=3),
    )


def raw_values() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b", "list", "s"]), _json_value(2), max_size=4))


def _maybe_none(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


strings = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=6))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """One event as inserted into a copy of the events table (NULLs, empty strings, huge counts...)."""
    int32 = st.one_of(st.sampled_from([0, 1, -1, 200, 404, 500, 2**31 - 1, -(2**31)]), st.integers(-600, 600))
    int64 = st.one_of(st.sampled_from([0, 1, 999, 1000, 2**53 + 1, 2**62, -(2**62), 2**63 - 1]),
                      st.integers(-2000, 2000))
    return {
        "action": draw(_maybe_none(strings)),
        "message": draw(_maybe_none(strings)),
        "actor": draw(_maybe_none(st.fixed_dictionaries({"user": _maybe_none(strings)}))),
        "src": draw(_maybe_none(st.fixed_dictionaries({"ip": _maybe_none(strings)}))),
        "dst": draw(_maybe_none(st.fixed_dictionaries({"host": _maybe_none(strings)}))),
        "http": draw(_maybe_none(st.fixed_dictionaries({"status": _maybe_none(int32),
                                                        "path": _maybe_none(strings)}))),
        "resource": draw(_maybe_none(st.fixed_dictionaries({"record_count": _maybe_none(int64)}))),
        "pii": draw(_maybe_none(st.fixed_dictionaries({
            "types": _maybe_none(st.lists(_maybe_none(st.sampled_from(["pan", "ssn", "email", "", "0"])),
                                          max_size=3)),
            "count": _maybe_none(int32)}))),
        "waf": draw(_maybe_none(st.fixed_dictionaries({"labels": _maybe_none(st.lists(strings, max_size=2))}))),
        "raw": draw(raw_values()),
    }


literals = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_STRINGS), st.sampled_from(EDGE_NUMBERS),
    st.sampled_from([[], [0], ["pan"], [1, "1"], {}]),
)


def _var(paths: list[str]) -> st.SearchStrategy[Any]:
    plain = st.sampled_from(paths).map(lambda p: {"var": p})
    with_default = st.tuples(st.sampled_from(paths), literals).map(lambda t: {"var": [t[0], t[1]]})
    return st.one_of(plain, plain, with_default)


def rules(typed_paths: list[str] | None = None, raw_paths: list[str] | None = None,
          list_paths: list[str] | None = None) -> st.SearchStrategy[Any]:
    """Conditions over the event schema (typed paths, raw.* JSON paths, literals), 5-30 operators."""
    if typed_paths is None:
        typed_paths = TYPED_STRING_PATHS + TYPED_NUMBER_PATHS + LIST_PATHS
    raw_paths = RAW_PATHS if raw_paths is None else raw_paths
    list_paths = LIST_PATHS if list_paths is None else list_paths
    iterables = [{"var": p} for p in list_paths + [p for p in raw_paths if p in ("raw.list", "raw.b")]] or \
        [{"var": typed_paths[0]}]
    leaves = st.one_of(_var(typed_paths), _var(raw_paths), literals) if raw_paths else \
        st.one_of(_var(typed_paths), literals)
    missing_keys = [p for p in ["action", "actor.user", "raw.a", "http.status"] if p in typed_paths + raw_paths] or \
        typed_paths[:2]

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        two = st.tuples(inner, inner)
        cmp_ops = st.sampled_from(["==", "===", "!=", "!==", "<", "<=", ">", ">="])
        arith_ops = st.sampled_from(["+", "-", "*", "/", "%", "max", "min", "cat", "merge"])
        return st.one_of(
            st.tuples(cmp_ops, two).map(lambda t: {t[0]: list(t[1])}),
            st.tuples(st.sampled_from(["<", "<="]), inner, inner, inner).map(lambda t: {t[0]: list(t[1:])}),
            st.tuples(arith_ops, two).map(lambda t: {t[0]: list(t[1])}),
            st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3))
            .map(lambda t: {t[0]: t[1]}),
            st.tuples(st.sampled_from(["!", "!!", "lower", "length", "-"]), inner).map(lambda t: {t[0]: [t[1]]}),
            st.tuples(inner, inner, inner).map(lambda t: {"if": list(t)}),
            st.tuples(inner, st.sampled_from([["export", "login", ""], [0, 1, "1", None], ["pan"], []]))
            .map(lambda t: {"in": [t[0], t[1]]}),
            two.map(lambda t: {"in": list(t)}),
            st.tuples(inner, st.integers(-3, 3), st.one_of(st.none(), st.integers(-3, 3)))
            .map(lambda t: {"substr": [t[0], t[1]] + ([] if t[2] is None else [t[2]])}),
            st.tuples(st.sampled_from(["some", "all", "none", "filter", "map"]),
                      st.sampled_from(iterables),
                      st.sampled_from([{"==": [{"var": ""}, "pan"]}, {"var": ""}, {">": [{"var": ""}, 0]},
                                       {"cat": [{"var": ""}, "!"]}, {"var": "a"}]))
            .map(lambda t: {t[0]: [t[1], t[2]]}),
            st.sampled_from(iterables)
            .map(lambda v: {"reduce": [v, {"+": [{"var": "accumulator"}, {"var": "current"}]}, 0]}),
            st.lists(st.sampled_from(missing_keys), min_size=1, max_size=3).map(lambda ks: {"missing": ks}),
            st.tuples(inner, st.sampled_from(["^ex", "(?:evil|admin)", "^[0-9]+$", "É"]), st.sampled_from(["", "i"]))
            .map(lambda t: {"regex": list(t)}),
            st.tuples(st.sampled_from(["starts_with", "ends_with"]), inner, st.sampled_from(["ex", "", "com", "/"]))
            .map(lambda t: {t[0]: [t[1], t[2]]}),
            inner.map(lambda v: {"cidr": [v, ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "::ffff:0:0/96"]]}),
            inner.map(lambda v: {"domain_in": [v, ["evil.com", "Example.ORG"]]}),
        )

    return st.recursive(leaves, extend, max_leaves=12)


METRIC_SCHEMA = {"count": "BIGINT", "customers": "BIGINT", "rows": "HUGEINT", "amount": "DOUBLE",
                 "flag": "BOOLEAN"}


@st.composite
def metric_rows(draw: st.DrawFn) -> dict[str, Any]:
    """Aggregate rows as a `having` sees them (sums past 2^53, NaN and infinite doubles, NULLs)."""
    big = st.one_of(st.integers(-50, 50), st.sampled_from([0, 20, 2**53 + 1, 2**62, -(2**63), 2**63 - 1]))
    huge = st.one_of(big, st.sampled_from([2**100, -(2**100) + 7, 2**127 - 1]))
    amount = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 0.5, 1e300]))
    return {"count": draw(big), "customers": draw(_maybe_none(big)), "rows": draw(_maybe_none(huge)),
            "amount": draw(_maybe_none(amount)), "flag": draw(_maybe_none(st.booleans()))}


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)
