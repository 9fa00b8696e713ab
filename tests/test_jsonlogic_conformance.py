"""The shared conformance suite (json-logic-js 2.0.5's answers) against both engines."""

from __future__ import annotations

from typing import Any

import pytest

from correlators.jsonlogic import UNDEFINED, JsonLogicError, apply_sql, compile_rule
from tests.jsonlogic_conformance import case_id, decode, load_cases, same_value

CASES = load_cases()


def _data(case: dict[str, Any]) -> Any:
    return case.get("data", UNDEFINED)


def test_suite_is_complete() -> None:
    assert len(CASES) == 1436


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_evaluator_matches_json_logic_js(case: dict[str, Any]) -> None:
    if "js_error" in case:
        with pytest.raises(JsonLogicError):
            compile_rule(case["rule"], strict=False)(_data(case))
        return
    got = compile_rule(case["rule"], strict=False)(_data(case))
    assert same_value(decode(case["js"]), got), f"json-logic-js: {case['js']!r}, evaluator: {got!r}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_strict_mode_agrees_or_refuses_at_compile_time(case: dict[str, Any]) -> None:
    """Strict mode (playbooks) may refuse a rule up front, but never returns a different value."""
    try:
        fn = compile_rule(case["rule"], path="where")
    except JsonLogicError as exc:
        assert exc.path.startswith("where")
        return
    assert "js_error" not in case, "an unknown operator must be refused at compile time in strict mode"
    assert same_value(decode(case["js"]), fn(_data(case)))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_sql_compiler_matches_json_logic_js(case: dict[str, Any]) -> None:
    """apply_sql: the rule compiled to DuckDB SQL in JSON mode, run over the case's data."""
    if "js_error" in case:
        with pytest.raises(JsonLogicError):
            apply_sql(case["rule"], [_data(case)], strict=False)
        return
    (got,) = apply_sql(case["rule"], [_data(case)], strict=False)
    assert same_value(decode(case["js"]), got), f"json-logic-js: {case['js']!r}, SQL: {got!r}"
