"""YAML → plain data plus a map from JSON paths to line numbers, so every error can name `file:line path`.

PyYAML's SafeLoader builds the data; the same document's node tree gives each mapping key and value its
line. Paths use the JSONLogic compiler's syntax (`correlation.steps[1].where.and[2]`) so its errors map to a
line too. Duplicate keys (which PyYAML silently resolves to the last one) are refused: in a playbook they
almost always hide a mistake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from breachline.errors import PlaybookError


class PlaybookSyntaxError(PlaybookError):
    """The file is not valid YAML, or not a mapping at the top, or repeats a key."""


def child(path: str, key: str | int) -> str:
    """Same rule as correlators.jsonlogic.errors.child_path: `a.b`, `a[2]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


@dataclass
class LineMap:
    """JSON path → 1-based line of the value (keys' lines when the value spans lines start there too)."""

    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int:
        """The line of `path`, or of its closest ancestor that has one (1 when nothing matches)."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.lines.get("", 1)


@dataclass
class YamlDocument:
    path: Path
    data: Any
    lines: LineMap


def load_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML file (one document). Raises PlaybookSyntaxError naming file:line."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlaybookSyntaxError(f"{path}: cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlaybookSyntaxError(f"{path}:{line} not valid YAML: {problem}") from exc
    if node is None:
        raise PlaybookSyntaxError(f"{path}:1 the file is empty; a playbook is a YAML mapping")
    lines = LineMap()
    lines.lines[""] = node.start_mark.line + 1
    data = _build(node, "", lines, path, yaml.SafeLoader(""))
    return YamlDocument(path, _plain(data), lines)


def _build(node: yaml.Node, path: str, lines: LineMap, file: Path, constructor: yaml.SafeLoader) -> Any:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise PlaybookSyntaxError(f"{file}:{key_node.start_mark.line + 1} {path or '(top)'}: keys must be plain strings")
            key = str(key_node.value)
            if key_node.tag == "tag:yaml.org,2002:merge" or key == "<<":
                raise PlaybookSyntaxError(f"{file}:{key_node.start_mark.line + 1} {path or '(top)'}: YAML merge keys (<<) are not supported")
            sub = child(path, key)
            if key in out:
                raise PlaybookSyntaxError(f"{file}:{key_node.start_mark.line + 1} {sub}: duplicate key {key!r}")
            # A value on its own line(s) is still reported at the key's line: that is where a person looks.
            lines.lines[sub] = key_node.start_mark.line + 1
            out[key] = _build(value_node, sub, lines, file, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, child(path, i), lines, file, constructor) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode):
        try:
            return constructor.construct_object(node, deep=True)
        except ValueError:
            return str(node.value)  # e.g. a date like 2027-02-30: keep the text, the checks name it later
        except yaml.YAMLError as exc:
            raise PlaybookSyntaxError(f"{file}:{node.start_mark.line + 1} {path}: {exc}") from exc
    raise PlaybookSyntaxError(f"{file}:{node.start_mark.line + 1} {path}: unsupported YAML node")


def _plain(value: Any) -> Any:
    """YAML dates and timestamps become ISO strings: the JSON Schema and the JSONLogic rules see JSON types."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
