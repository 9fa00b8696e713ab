"""Hostile field names and literals never change the structure of the compiled SQL."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlators.jsonlogic import apply, apply_sql, compile_condition, safe_connection, truthy
from correlators.jsonlogic.sqltree import quote_identifier

NASTY = ["'", '"', "\\", "--", ";", "/*", "*/", "\x00", "é", "😀", "'); DROP TABLE t; --", "$1", "?", "\n"]
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=3)), max_size=5).map("".join)
# A dot separates path segments, NUL cannot be in an identifier, and jl<letters><digits> names are the
# compiler's lambda parameters (refused as column names): field names avoid those.
field_names = nasty_text.filter(lambda s: s != "" and "." not in s and "\x00" not in s
                                and not re.fullmatch(r"jl[a-z_]*[0-9]+", s, re.IGNORECASE))
_CON = safe_connection()  # one connection (installing the macros each time would dominate the test)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _statement_count(con: Any, sql: str) -> int:
    """How many statements DuckDB's parser sees (an injection would add one or fail to parse)."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    assert not tree.get("error"), tree
    return len(tree["statements"])


@SETTINGS
@given(name=field_names, literal=nasty_text, other=nasty_text)
def test_hostile_names_and_literals_are_data(name: str, literal: str, other: str) -> None:
    con = _CON
    con.execute(f"CREATE OR REPLACE TABLE t ({quote_identifier(name)} VARCHAR, raw JSON)")
    rows = [(literal, {name: literal}), (other, {name: other}), (None, None)]
    con.executemany("INSERT INTO t VALUES (?, ?)", [[v, None if r is None else json.dumps(r)] for v, r in rows])
    schema = {name: "VARCHAR", "raw": "JSON"}
    for rule in (
        {"==": [{"var": name}, literal]},
        {"in": [{"var": name}, [literal, "x"]]},
        {"starts_with": [{"var": name}, literal]},
        {"==": [{"var": f"raw.{name}"}, literal]},
        {"==": [{"cat": [{"var": name}, literal]}, {"cat": [literal, literal]}]},
    ):
        where = compile_condition(rule, schema).render()
        query = f"SELECT count(*) FROM t WHERE {where}"
        assert _statement_count(con, query) == 1
        (count,) = con.execute(query).fetchone()
        records = [{name: v, "raw": r} for v, r in rows]
        assert count == sum(1 for r in records if truthy(apply(rule, r))), where
    assert con.execute("SELECT count(*) FROM t").fetchone() == (3,)


@SETTINGS
@given(key=nasty_text, literal=nasty_text)
def test_hostile_json_keys_and_values_in_json_mode(key: str, literal: str) -> None:
    records = [{key: literal}, {key: literal + "x"}, {}]
    for rule in ({"var": key} if "." not in key and key else {"var": "missing"},
                 {"cat": [literal, {"var": "a"}]},
                 {"in": [literal, [literal]]}):
        assert apply_sql(rule, records) == [apply(rule, r) for r in records]


def test_reserved_column_names_are_refused() -> None:
    import pytest

    from correlators.jsonlogic import JsonLogicError

    with pytest.raises(JsonLogicError, match="reserved"):
        compile_condition({"==": [{"var": "JLV1"}, 1]}, {"JLV1": "INTEGER"})
