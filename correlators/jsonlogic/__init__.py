"""JSONLogic for breachline: a reference evaluator (json-logic-js semantics) and a compiler to DuckDB SQL.

See docs/jsonlogic.md for the operators, the two engines and how they are proven to agree.
"""

from correlators.jsonlogic.errors import JsonLogicError, JsonLogicEvalError
from correlators.jsonlogic.evaluator import apply, compile_rule
from correlators.jsonlogic.values import UNDEFINED, truthy

__all__ = [
    "UNDEFINED",
    "JsonLogicError",
    "JsonLogicEvalError",
    "apply",
    "compile_rule",
    "truthy",
]
