"""Load playbooks: YAML (with line numbers) → JSON Schema → meaning checks → Playbook.

Every refusal is a PlaybookLoadError whose one-line message reads
`playbooks/x.yaml:14 correlation.window: "2 hours" is not a duration; use e.g. 2h, 30m`.
`check_playbook` collects all problems of a file (for `playbooks lint`); `load_playbook` raises the first.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from breachline.config import parse_duration
from breachline.errors import ConfigError, PlaybookError
from correlators.playbooks import fields as event_fields
from correlators.playbooks.model import (
    DEFAULT_LATENESS,
    Aggregate,
    Correlation,
    FirstSeenSpec,
    MatchSpec,
    NewValue,
    Playbook,
    PlaybookException,
    PlaybookTest,
    Rule,
    SequenceSpec,
    Step,
    ThresholdSpec,
)
from correlators.playbooks.schema import DURATION_PATTERN, SCHEMA
from correlators.playbooks.yamlsource import PlaybookSyntaxError, YamlDocument, child, load_yaml

IMPLICIT_METRICS = ("count",)  # threshold: the number of events in the window, always available to `having`
TEST_START = "2026-01-05T00:00:00Z"  # a Monday: `at` offsets in playbook tests count from here by default


class PlaybookLoadError(PlaybookError):
    """One problem in one playbook file, located by line and JSON path."""

    def __init__(self, file: Path | str, line: int, path: str, problem: str) -> None:
        self.file = str(file)
        self.line = line
        self.path = path
        self.problem = problem
        where = f"{self.file}:{line}"
        super().__init__(f"{where} {path}: {problem}" if path else f"{where} {problem}")


@dataclass(frozen=True)
class Problem:
    """A lint finding. level: error (the playbook is refused) or warning."""

    level: str
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}"
        return f"{loc} {self.level}: {self.path + ': ' if self.path else ''}{self.message}"


class _Collector:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.errors: list[PlaybookLoadError] = []

    def add(self, path: str, problem: str) -> None:
        self.errors.append(PlaybookLoadError(self.doc.path, self.doc.lines.line_of(path), path, problem))


# --------------------------------------------------------------------------------------------------- loading

def load_playbook(path: str | Path, text: str | None = None) -> Playbook:
    """Load and check one playbook file; raises PlaybookLoadError (or PlaybookSyntaxError) on the first problem."""
    playbook, errors = check_playbook(Path(path), text)
    if errors:
        raise errors[0]
    assert playbook is not None
    return playbook


def check_playbook(path: Path, text: str | None = None) -> tuple[Playbook | None, list[PlaybookLoadError]]:
    """All problems of one file (schema first: meaning checks need a well-shaped document)."""
    try:
        doc = load_yaml(path, text)
    except PlaybookSyntaxError as exc:
        return None, [_syntax_as_load_error(path, exc)]
    col = _Collector(doc)
    if not isinstance(doc.data, dict):
        col.add("", "a playbook is a YAML mapping (id, version, title, severity, correlation, ...)")
        return None, col.errors
    for err in _schema_errors(doc.data):
        col.add(*err)
    if col.errors:
        return None, col.errors
    playbook = _build(doc, col)
    return (playbook if not col.errors else None), col.errors


def playbook_files(dirs: Iterable[str | Path]) -> list[Path]:
    """The *.yaml / *.yml files of each directory (sorted; a file path is taken as is)."""
    out: list[Path] = []
    for d in dirs:
        p = Path(d)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            raise PlaybookError(f"{p}: playbook directory not found")
    return out


def load_playbooks(dirs: Iterable[str | Path]) -> list[Playbook]:
    """Every playbook in the directories; a duplicate id across files is an error naming both files."""
    seen: dict[str, Playbook] = {}
    for path in playbook_files(dirs):
        pb = load_playbook(path)
        if pb.id in seen:
            first = seen[pb.id]
            raise PlaybookLoadError(path, pb.lines.line_of("id"), "id",
                                    f'"{pb.id}" is already defined in {first.where_is("id")}')
        seen[pb.id] = pb
    return list(seen.values())


def configured_playbook_dirs(playbook_dirs: Sequence[Path], use_shipped: bool,
                             override: Sequence[str] | None = None) -> list[Path]:
    """What the commands load: --playbooks DIR when given, else the shipped library plus configured dirs."""
    if override:
        return [Path(p) for p in override]
    from breachline.paths import PLAYBOOKS_DIR

    return ([PLAYBOOKS_DIR] if use_shipped else []) + list(playbook_dirs)


def _syntax_as_load_error(path: Path, exc: PlaybookSyntaxError) -> PlaybookLoadError:
    # PlaybookSyntaxError messages already read "file:line ...": keep them, but as the one error type.
    text = str(exc)
    prefix = f"{path}:"
    line = 1
    rest = text
    if text.startswith(prefix):
        head, _, rest = text[len(prefix):].partition(" ")
        line = int(head) if head.isdigit() else 1
    err = PlaybookLoadError(path, line, "", rest)
    err.args = (text,)
    return err


# ---------------------------------------------------------------------------------------------- JSON Schema

@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


def _schema_errors(data: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for err in _leaf_errors(errors):
        path = _json_path(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            # Point at the first unknown key's own line, not at the mapping that holds it.
            props = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
            extra = [k for k in err.instance if k not in props]
            if extra:
                path = child(path, extra[0])
        found.append((path, _describe(err)))
    # One message per path is enough (oneOf / if-then can report the same spot twice).
    unique: dict[str, str] = {}
    for path, msg in found:
        unique.setdefault(path, msg)
    return list(unique.items())


def _leaf_errors(errors: Iterable[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    out: list[jsonschema.ValidationError] = []
    for err in errors:
        if err.validator in ("oneOf", "anyOf") and err.context:
            out.append(jsonschema.exceptions.best_match(err.context))
        elif err.validator in ("allOf", "if", "then") and err.context:
            out.extend(_leaf_errors(err.context))
        else:
            out.append(err)
    return out


def _json_path(parts: Iterable[Any]) -> str:
    path = ""
    for p in parts:
        path = child(path, p if isinstance(p, int) else str(p))
    return path


def _describe(err: jsonschema.ValidationError) -> str:
    v = err.validator
    schema: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
    value: Any = err.validator_value
    if v == "pattern" and schema.get("pattern") == DURATION_PATTERN:
        return f'"{err.instance}" is not a duration; use e.g. 2h, 30m'
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed] if isinstance(err.instance, dict) else []
        parts = []
        for key in extra:
            close = difflib.get_close_matches(key, allowed, n=1)
            parts.append(f'unknown field "{key}"' + (f' (did you mean "{close[0]}"?)' if close else ""))
        return "; ".join(parts) + f"; allowed: {', '.join(allowed)}"
    if v == "required":
        return str(err.message).replace("is a required property", "is required")
    if v == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, value))}"
    if v == "const":
        return f"{err.instance!r} is not {value!r}"
    if v == "pattern":
        what = schema.get("description") or f"the pattern {value}"
        return f"{err.instance!r} does not match {what}"
    return str(err.message)


# ------------------------------------------------------------------------------------------ meaning checks

def _duration(col: _Collector, path: str, value: Any, default: dt.timedelta | None = None) -> dt.timedelta:
    if value is None:
        return default if default is not None else dt.timedelta(0)
    try:
        return dt.timedelta(seconds=parse_duration(value, path))
    except ConfigError:
        col.add(path, f'"{value}" is not a duration; use e.g. 2h, 30m')
        return default if default is not None else dt.timedelta(0)


def _fields(col: _Collector, path: str, names: Any, *, numeric: bool = False) -> tuple[str, ...]:
    if names is None:
        return ()
    allowed = event_fields.numeric_fields() if numeric else event_fields.scalar_fields()
    what = "a numeric event field" if numeric else "an event field that can be grouped (a scalar)"
    out = []
    for i, name in enumerate(names if isinstance(names, list) else [names]):
        if name not in allowed:
            col.add(child(path, i) if isinstance(names, list) else path,
                    event_fields.unknown_field_message(name, allowed, what))
        out.append(name)
    return tuple(out)


def _rule(col: _Collector, path: str, logic: Any) -> Rule:
    """Check a rule now (strict operators and arities) so a bad one is refused at load, not at 3 a.m."""
    from correlators.jsonlogic import JsonLogicError, compile_rule

    try:
        compile_rule(logic, path=path)
    except JsonLogicError as exc:
        col.add(exc.path or path, exc.problem)
    return Rule(logic, path)


def _vars(logic: Any) -> Iterable[tuple[Any, str]]:
    """(name, path) of every literal `var` in a rule (used to check `having` names metrics that exist)."""
    stack: list[tuple[Any, str]] = [(logic, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict) and len(node) == 1:
            ((op, args),) = node.items()
            sub = child(path, op)
            if op == "var":
                first = args[0] if isinstance(args, list) and args else args
                if isinstance(first, str | int):
                    yield first, sub
                continue
            if isinstance(args, list):
                stack.extend((a, child(sub, i)) for i, a in enumerate(args))
            else:
                stack.append((args, sub))
        elif isinstance(node, list):
            stack.extend((a, child(path, i)) for i, a in enumerate(node))


def _build(doc: YamlDocument, col: _Collector) -> Playbook:
    d: dict[str, Any] = doc.data
    corr = _correlation(col, d["correlation"])
    group_by = corr.group_by

    dedup = d.get("dedup") or {}
    dedup_key = tuple(dedup.get("key") or group_by)
    for i, name in enumerate(dedup_key):
        if name not in group_by:
            col.add(f"dedup.key[{i}]", f'"{name}" is not in correlation.group_by ({", ".join(group_by) or "empty"}); '
                                       "an alert only knows its group values")
    _duration(col, "dedup.suppress_for", dedup.get("suppress_for"))

    exceptions = []
    refs: set[str] = set()
    for i, exc in enumerate(d.get("exceptions") or []):
        base = f"exceptions[{i}]"
        ref = exc.get("id") or base
        if ref in refs:
            col.add(f"{base}.id", f'"{ref}" is used by another exception of this playbook')
        refs.add(ref)
        try:
            expires = dt.date.fromisoformat(exc["expires"])
        except ValueError:
            col.add(f"{base}.expires", f'"{exc["expires"]}" is not a date; use YYYY-MM-DD')
            expires = dt.date.min
        exceptions.append(PlaybookException(ref, _rule(col, f"{base}.where", exc["where"]), exc["owner"],
                                            exc["reason"], expires))

    tests = tuple(_test(col, i, t, group_by) for i, t in enumerate(d.get("tests") or []))

    pb = Playbook(
        id=d["id"], version=d["version"], title=d["title"], severity=d["severity"], correlation=corr,
        description=d.get("description", ""), tags=tuple(d.get("tags") or ()), dedup_key=dedup_key,
        exceptions=tuple(exceptions), runbook=d.get("runbook"), tests=tests, source=doc.path, lines=doc.lines,
        raw=d,
    )
    try:
        pb.incident_policy()
    except ImportError:
        pass  # the delivery side is absent (or broken) in this tree: nothing to check against here
    except PlaybookError as exc:
        msg = str(exc)
        path, _, problem = msg.partition(": ")
        col.add(path if problem else "", problem or msg)
    return pb


def _correlation(col: _Collector, c: Mapping[str, Any]) -> Correlation:
    base = "correlation"
    lateness = _duration(col, f"{base}.lateness", c.get("lateness"), DEFAULT_LATENESS)
    kind = c["type"]
    group_by = _fields(col, f"{base}.group_by", c.get("group_by"))
    if kind == "match":
        return MatchSpec(_rule(col, f"{base}.where", c["where"]), group_by, lateness)
    if kind == "threshold":
        window = _positive(col, f"{base}.window", c["window"])
        aggs = []
        for name, spec in (c.get("aggregate") or {}).items():
            spec = dict(spec)
            where = spec.pop("where", None)
            ((fn, fld),) = spec.items()
            path = f"{base}.aggregate.{name}.{fn}"
            filt = _rule(col, f"{base}.aggregate.{name}.where", where) if where is not None else None
            if fn == "count" and fld == "*":
                aggs.append(Aggregate(name, "count", None, filt))
                continue
            _fields(col, path, fld, numeric=(fn == "sum"))
            aggs.append(Aggregate(name, fn, fld, filt))
        names = {a.name for a in aggs} | set(IMPLICIT_METRICS)
        baseline = _positive(col, f"{base}.baseline", c["baseline"]) if "baseline" in c else None
        if baseline is not None:
            names |= {f"baseline.{n}" for n in names}
        having = _rule(col, f"{base}.having", c["having"])
        for var, vpath in _vars(c["having"]):
            if var not in names:
                col.add(f"{base}.having{'.' + vpath if vpath else ''}",
                        event_fields.unknown_field_message(str(var), sorted(names), "a metric of this threshold"))
        return ThresholdSpec(_rule(col, f"{base}.where", c["where"]), group_by, window, tuple(aggs), having, lateness,
                             baseline)
    if kind == "first_seen":
        new = _new_value(col, base, c)
        return FirstSeenSpec(_rule(col, f"{base}.where", c["where"]), group_by, new, lateness)
    # sequence
    window = _positive(col, f"{base}.window", c["window"])
    steps = []
    step_names: set[str] = set()
    for i, s in enumerate(c["steps"]):
        path = f"{base}.steps[{i}]"
        if s["name"] in step_names:
            col.add(f"{path}.name", f'"{s["name"]}" names another step too; step names must be unique')
        step_names.add(s["name"])
        step_group = _fields(col, f"{path}.group_by", s.get("group_by")) or group_by
        if len(step_group) != len(group_by):
            col.add(f"{path}.group_by", f"has {len(step_group)} fields but correlation.group_by has {len(group_by)}; "
                                        "they pair up position by position")
        absent = bool(s.get("absent", False))
        fs = _new_value(col, f"{path}.first_seen", s["first_seen"]) if "first_seen" in s else None
        if absent and fs is not None:
            col.add(f"{path}.first_seen", "an absent step cannot also require a first-seen value")
        steps.append(Step(s["name"], _rule(col, f"{path}.where", s["where"]), step_group, absent, fs))
    if not any(not s.absent for s in steps):
        col.add(f"{base}.steps", "at least one step must be present (not absent)")
    return SequenceSpec(group_by, window, tuple(steps), lateness)


def _new_value(col: _Collector, base: str, c: Mapping[str, Any]) -> NewValue:
    value = _fields(col, f"{base}.value", c["value"])
    baseline = _positive(col, f"{base}.baseline", c["baseline"])
    min_history = _duration(col, f"{base}.min_history", c.get("min_history"))
    return NewValue(value, baseline, min_history)


def _positive(col: _Collector, path: str, value: Any) -> dt.timedelta:
    d = _duration(col, path, value)
    if d <= dt.timedelta(0):
        col.add(path, f'"{value}" must be longer than zero')
    return d


# ---------------------------------------------------------------------------------------------------- tests

_TEST_EVENT_META = {"at", "time"}


def _expand(col: _Collector, base: str, raw: list[Any]) -> Iterable[tuple[int, dict[str, Any], str]]:
    """Test events as written, with `repeat: N` (and `every: 6s`) expanded into N events: the i-th is `every`
    later than the previous one, and "{i}" in any string value becomes i (0..N-1): threshold tests need many."""
    for j, ev in enumerate(raw):
        path = f"{base}.events[{j}]"
        ev = dict(ev)
        repeat = ev.pop("repeat", None)
        every = ev.pop("every", None)
        if repeat is None:
            if every is not None:
                col.add(f"{path}.every", '"every" only goes with "repeat"')
            yield j, ev, path
            continue
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 10000:
            col.add(f"{path}.repeat", "repeat: a number of events from 1 to 10000")
            continue
        step = _offset(col, f"{path}.every", every) if every is not None else dt.timedelta(0)
        start = _offset(col, f"{path}.at", ev.pop("at", "0s"))
        for i in range(repeat):
            copy = _fill(ev, i)
            copy["at"] = f"{(start + i * step) // dt.timedelta(milliseconds=1)}ms"
            yield j, copy, path


def _fill(value: Any, i: int) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, i) for v in value]
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    return value


def _test(col: _Collector, i: int, t: Mapping[str, Any], group_by: tuple[str, ...]) -> PlaybookTest:
    base = f"tests[{i}]"
    start_text = t.get("start", TEST_START)
    try:
        start = dt.datetime.fromisoformat(start_text.replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    except ValueError:
        col.add(f"{base}.start", f'"{start_text}" is not an RFC 3339 time such as 2026-01-05T00:00:00Z')
        start = dt.datetime.fromisoformat(TEST_START.replace("Z", "+00:00"))
    events = []
    known = event_fields.event_field_types()
    for _j, ev, path in _expand(col, base, t["events"]):
        if "at" in ev and "time" in ev:
            col.add(path, 'give either "at" (an offset from the test start) or "time", not both')
        if "at" in ev:
            offset = _offset(col, f"{path}.at", ev.pop("at"))
            ev["time"] = (start + offset).isoformat().replace("+00:00", "Z")
        elif "time" not in ev:
            col.add(path, 'an event needs "at" (e.g. 5m after the test start) or "time"')
        for key, value in ev.items():
            _check_event_field(col, f"{path}.{key}", key, value, known)
        events.append(ev)
    expect = t["expect"]
    groups = expect.get("groups")
    if groups is not None:
        for k, g in enumerate(groups):
            for key in g:
                if key not in group_by:
                    col.add(f"{base}.expect.groups[{k}].{key}", f'"{key}" is not in correlation.group_by')
    return PlaybookTest(t["name"], i, tuple(events), expect["alerts"], expect.get("suppressed"),
                        tuple(groups) if groups is not None else None)


_OFFSET_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_OFFSET_UNITS = {"ms": dt.timedelta(milliseconds=1), "s": dt.timedelta(seconds=1), "m": dt.timedelta(minutes=1),
                 "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}


def _offset(col: _Collector, path: str, value: Any) -> dt.timedelta:
    """A test event's offset from the test start: a duration, compound allowed (`1h59m59s999ms`), or `-5m`."""
    text = str(value).replace(" ", "")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    parts = _OFFSET_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        col.add(path, f'"{value}" is not an offset; use e.g. 90s, 10m, 2h, 1h59m59s999ms')
        return dt.timedelta(0)
    return sign * sum((int(n) * _OFFSET_UNITS[u] for n, u in parts), dt.timedelta(0))


def _check_event_field(col: _Collector, path: str, key: str, value: Any, known: Mapping[str, str]) -> None:
    if key in _TEST_EVENT_META and "." not in key:
        return
    if key not in known:
        prefix = key.rpartition(".")[0]
        siblings = sorted(k for k in known if k.rpartition(".")[0] == prefix)
        col.add(path, event_fields.unknown_field_message(key, siblings, "an event field"))
        return
    if known[key] == "struct":
        if not isinstance(value, dict):
            col.add(path, f"{key} is an object (e.g. {{user: alice}})")
            return
        for sub, v in value.items():
            _check_event_field(col, f"{path}.{sub}", f"{key}.{sub}", v, known)
