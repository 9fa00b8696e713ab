"""Loading the shared JSONLogic conformance cases and comparing values the way json-logic-js means them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from breachline.paths import REPO_ROOT
from correlators.jsonlogic.values import UNDEFINED, is_number

CASES_FILE = Path(REPO_ROOT).parent / "shared" / "conformance" / "jsonlogic" / "cases.jsonl"


def load_cases() -> list[dict[str, Any]]:
    with CASES_FILE.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def case_id(case: dict[str, Any]) -> str:
    return f"{case['suite']}:{case['file']}:{case['idx']}"


def decode(value: Any) -> Any:
    """The `js` field's encoding of non-JSON values back to Python (NaN, ±Infinity, undefined)."""
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"].replace("Infinity", "inf"))
        if set(value) == {"__undefined__"}:
            return UNDEFINED
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def same_value(expected: Any, actual: Any) -> bool:
    """Deep equality where types matter as in JS: true is not 1, "1" is not 1, NaN equals NaN."""
    if expected is UNDEFINED or actual is UNDEFINED:
        return expected is actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if is_number(expected) and is_number(actual):
        if math.isnan(expected) or math.isnan(actual):
            return math.isnan(expected) and math.isnan(actual)
        return float(expected) == float(actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same_value(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(same_value(expected[k], actual[k]) for k in expected)
    return type(expected) is type(actual) and expected == actual
