"""The one door to the JSONLogic SQL compiler: every `where`, `having` and exception condition goes through here.

Nothing else in the correlation package turns a rule into SQL. Errors come back as JsonLogicError carrying the
JSON path inside the playbook (`correlation.steps[1].where.and[2]`), which the callers turn into file:line.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from correlators.playbooks.model import Rule


@lru_cache(maxsize=1)
def _event_schema() -> Any:
    from correlators.jsonlogic import event_schema

    return event_schema()


def event_condition(rule: Rule) -> str:
    """A SQL boolean over one row of `events` (TRUE / FALSE, never NULL)."""
    from correlators.jsonlogic import compile_condition

    return str(compile_condition(rule.logic, _event_schema(), path=rule.path))


def metric_condition(rule: Rule, metrics: Mapping[str, str]) -> str:
    """A SQL boolean over a row whose columns are the threshold's metrics (name → DuckDB type)."""
    from correlators.jsonlogic import compile_condition, metric_schema

    return str(compile_condition(rule.logic, metric_schema(dict(metrics)), path=rule.path))
