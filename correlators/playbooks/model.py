"""The playbook model: what the loader produces and the correlation compilers consume.

Immutable dataclasses; every JSONLogic rule is kept as plain JSON data together with its JSON path in the
playbook (`correlation.steps[1].where`), so a compile error found later still names file:line and path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from correlators.playbooks.yamlsource import LineMap

if TYPE_CHECKING:
    from correlators.incidents.policy import IncidentPolicy

Severity = Literal["low", "medium", "high", "critical"]
AggregateFn = Literal["count", "distinct", "sum", "min", "max"]

# Default allowed lateness: how long after an event's time it may still arrive and be correlated exactly.
DEFAULT_LATENESS = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Rule:
    """A JSONLogic rule and where it sits in the playbook (for error messages)."""

    logic: Any
    path: str


@dataclass(frozen=True)
class Aggregate:
    name: str
    fn: AggregateFn
    field: str | None  # None: count(*)
    where: Rule | None = None  # only the window's events matching this rule count


@dataclass(frozen=True)
class MatchSpec:
    where: Rule
    group_by: tuple[str, ...] = ()
    lateness: dt.timedelta = DEFAULT_LATENESS
    type: Literal["match"] = "match"


@dataclass(frozen=True)
class ThresholdSpec:
    where: Rule
    group_by: tuple[str, ...]
    window: dt.timedelta
    aggregates: tuple[Aggregate, ...]
    having: Rule
    lateness: dt.timedelta = DEFAULT_LATENESS
    baseline: dt.timedelta | None = None  # `baseline.<metric>`: the metric's peak in earlier windows
    type: Literal["threshold"] = "threshold"


@dataclass(frozen=True)
class NewValue:
    """first_seen's test: `value` (a field tuple) not seen for the group during `baseline` before the event."""

    value: tuple[str, ...]
    baseline: dt.timedelta
    min_history: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Step:
    name: str
    where: Rule
    group_by: tuple[str, ...]  # this step's fields, position by position with the sequence's group_by
    absent: bool = False
    first_seen: NewValue | None = None


@dataclass(frozen=True)
class SequenceSpec:
    group_by: tuple[str, ...]
    window: dt.timedelta
    steps: tuple[Step, ...]
    lateness: dt.timedelta = DEFAULT_LATENESS
    type: Literal["sequence"] = "sequence"

    @property
    def present_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not s.absent)


@dataclass(frozen=True)
class FirstSeenSpec:
    where: Rule
    group_by: tuple[str, ...]
    new: NewValue
    lateness: dt.timedelta = DEFAULT_LATENESS
    type: Literal["first_seen"] = "first_seen"


Correlation = MatchSpec | ThresholdSpec | SequenceSpec | FirstSeenSpec


@dataclass(frozen=True)
class PlaybookException:
    """A governed carve-out. It suppresses an alert when `where` holds for every event of the alert and the
    alert's decisive event is before `expires` (UTC midnight)."""

    ref: str  # the exception's id, or "exceptions[i]" when it has none
    where: Rule
    owner: str
    reason: str
    expires: dt.date

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.combine(self.expires, dt.time(0), tzinfo=dt.UTC)


@dataclass(frozen=True)
class PlaybookTest:
    name: str
    index: int
    events: tuple[Mapping[str, Any], ...]  # as written; `at` offsets already resolved to `time`
    expect_alerts: int
    expect_suppressed: int | None = None
    expect_groups: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True)
class Playbook:
    id: str
    version: int
    title: str
    severity: Severity
    correlation: Correlation
    description: str = ""
    tags: tuple[str, ...] = ()
    dedup_key: tuple[str, ...] = ()
    exceptions: tuple[PlaybookException, ...] = ()
    runbook: str | None = None
    tests: tuple[PlaybookTest, ...] = ()
    source: Path | None = None
    lines: LineMap = field(default_factory=LineMap, compare=False, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def group_by(self) -> tuple[str, ...]:
        return self.correlation.group_by

    @property
    def lateness(self) -> dt.timedelta:
        return self.correlation.lateness

    def where_is(self, path: str) -> str:
        """`file:line` of a JSON path inside this playbook (for error messages)."""
        name = str(self.source) if self.source else f"<playbook {self.id}>"
        return f"{name}:{self.lines.line_of(path)}"

    def incident_policy(self) -> IncidentPolicy:
        """The delivery side's settings for this playbook (severity, suppress_for, notify targets, runbook)."""
        from correlators.incidents.policy import IncidentPolicy

        return IncidentPolicy.from_playbook(self.raw)
