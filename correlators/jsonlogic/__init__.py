"""JSONLogic for breachline: a reference evaluator (json-logic-js semantics) and a compiler to DuckDB SQL.

See docs/jsonlogic.md for the operators, the two engines and how they are proven to agree.
"""

from correlators.jsonlogic.errors import JsonLogicError, JsonLogicEvalError
from correlators.jsonlogic.evaluator import apply, compile_rule
from correlators.jsonlogic.schema import event_schema, relation_schema
from correlators.jsonlogic.sql import (
    apply_sql,
    compile_condition,
    compile_filter,
    compile_json_value,
    compile_sql,
    compile_value,
    event_record,
    install_macros,
    metric_schema,
    safe_connection,
)
from correlators.jsonlogic.values import UNDEFINED, truthy

__all__ = [
    "UNDEFINED",
    "JsonLogicError",
    "JsonLogicEvalError",
    "apply",
    "apply_sql",
    "compile_condition",
    "compile_filter",
    "compile_json_value",
    "compile_rule",
    "compile_sql",
    "compile_value",
    "event_record",
    "event_schema",
    "install_macros",
    "metric_schema",
    "relation_schema",
    "safe_connection",
    "truthy",
]
