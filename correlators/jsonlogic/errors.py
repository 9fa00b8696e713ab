"""JSONLogic errors: every one names the JSON path inside the rule where the problem is."""

from __future__ import annotations

from breachline.errors import PlaybookError


class JsonLogicError(PlaybookError):
    """A rule is refused (unknown operator, wrong arity, malformed) or fails while it is evaluated.

    `path` is the JSON path inside the (prefixed) rule, e.g. ``steps[1].where.and[2]``; the message starts
    with it so a person can find the spot in the playbook.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class JsonLogicEvalError(JsonLogicError):
    """Raised while a rule runs, where json-logic-js itself throws (e.g. `{"*": []}` or an unknown
    operator reached in a branch that json-logic-js compatibility mode left unchecked)."""


def child_path(path: str, key: str | int) -> str:
    """The path of an operator's argument: ``and[2]``, ``where.and``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
