"""Compile a playbook into one DuckDB query that yields its alert rows for a stretch of event time.

Shape of every compiled query:

    WITH base AS MATERIALIZED (one scan of `events` in the read range: the fields the playbook uses, one
                               boolean per condition, one per exception; nothing else, so the scan reads
                               only the columns the conditions need)
         ...type-specific CTEs (match.py, threshold.py, sequence.py, first_seen.py) ending in `cand`...
    SELECT alert_id, group values, dedup key, evidence, suppressed_by FROM cand

`cand` has one row per alert whose *decision time* is in (decide_after, decide_until]. The decision time is
the time of the event that completes the alert (see docs/playbooks.md, "Windows"): everything about an alert
depends only on events at or before it (trailing `absent` steps: up to decision time), which is why any
batching of the same events yields the same alerts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from breachline.errors import PlaybookError
from correlators.correlation import conditions
from correlators.correlation.sqlparts import (
    MAX_EVENT_IDS,
    FieldSlots,
    cols,
    comma,
    cte,
    ident,
    lit,
    ts,
)
from correlators.playbooks.model import Playbook, Rule


class CorrelationCompileError(PlaybookError):
    """A playbook cannot be compiled to SQL; the message names file:line and the JSON path."""

    def __init__(self, playbook: Playbook, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{playbook.where_is(path)} {path}: {problem}")


@dataclass(frozen=True)
class Bounds:
    """Which events to read and which decisions to emit.

    read_from: events with time >= read_from are read (None: from the beginning).
    decide_after / decide_until: alerts whose decision time is in (decide_after, decide_until] are emitted;
        None means unbounded. Events after decide_until are never read.
    state_until: per first-seen component, the time up to which `correlation_first_seen` already holds the
        sightings (None: no state; everything is computed from the events read).
    """

    read_from: dt.datetime | None = None
    decide_after: dt.datetime | None = None
    decide_until: dt.datetime | None = None
    state_until: dict[str, dt.datetime | None] = field(default_factory=dict)
    use_state: bool = False


@dataclass(frozen=True)
class FirstSeenComponent:
    """One first-seen test inside a playbook (the playbook itself, or one sequence step)."""

    key: str  # "" for a first_seen playbook, the step name inside a sequence
    where: Rule
    group_by: tuple[str, ...]
    value: tuple[str, ...]
    baseline: dt.timedelta
    min_history: dt.timedelta
    keep_back: dt.timedelta  # state lags the final time by this much (the sequence look-back), 0 standalone


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    components: tuple[FirstSeenComponent, ...] = ()
    base_sql: str = ""  # `WITH base AS (...)` alone: append a SELECT over base (explain)
    conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # base column -> rule paths


class Ctx:
    """Collects what the base scan must compute while a type compiler builds its CTEs."""

    def __init__(self, playbook: Playbook, bounds: Bounds) -> None:
        self.pb = playbook
        self.bounds = bounds
        self.slots = FieldSlots()
        self.conds: list[tuple[str, str]] = []
        self._cond_names: dict[str, str] = {}
        self.cond_paths: dict[str, list[str]] = {}  # base column -> the rule paths it stands for (explain)
        self.selectors: set[str] = set()
        self.exc_cols = [f"x{i}" for i in range(len(playbook.exceptions))]
        self.components: list[FirstSeenComponent] = []

    def cond(self, rule: Rule, *, selects: bool = True) -> str:
        """The base column holding `rule` for each event (identical rules share one column). `selects`: an
        event matching it is needed (a step, a where); an aggregate filter only refines events selected
        otherwise, so it must not pull every event it matches into the scan's result."""
        sql = self.compile_rule(rule)
        if selects:
            self.selectors.add(sql)
        if sql not in self._cond_names:
            name = f"m{len(self.conds)}"
            self.conds.append((name, sql))
            self._cond_names[sql] = name
        name = self._cond_names[sql]
        self.cond_paths.setdefault(name, []).append(rule.path)
        return name

    def compile_rule(self, rule: Rule) -> str:
        from correlators.jsonlogic import JsonLogicError

        try:
            return conditions.event_condition(rule)
        except JsonLogicError as exc:
            raise CorrelationCompileError(self.pb, exc.path or rule.path, exc.problem) from exc

    def fields(self, paths: tuple[str, ...]) -> list[str]:
        return self.slots.many(paths)

    def exc_select(self, alias: str = "") -> str:
        dot = f"{alias}." if alias else ""
        return ", ".join(f"{dot}{x}" for x in self.exc_cols)

    def exc_all(self, alias: str = "") -> str:
        """Per-alert exception flags: true when the exception holds for every event of the alert."""
        dot = f"{alias}." if alias else ""
        return ", ".join(f"bool_and({dot}{x}) AS {x}" for x in self.exc_cols)

    def decided(self, expr: str) -> str:
        parts = []
        if self.bounds.decide_after is not None:
            parts.append(f"{expr} > {ts(self.bounds.decide_after)}")
        if self.bounds.decide_until is not None:
            parts.append(f"{expr} <= {ts(self.bounds.decide_until)}")
        return " AND ".join(parts) or "TRUE"

    def base_cte(self) -> str:
        exc_sql = [self.compile_rule(e.where) for e in self.pb.exceptions]
        select = [
            "event_id",
            '"time"',
            "rowid AS rid",  # to fetch the sample events' wide columns later, for those few rows only
            *self.slots.select_list(),
            *(f"{sql} AS {name}" for name, sql in self.conds),
            *(f"{sql} AS x{i}" for i, sql in enumerate(exc_sql)),
        ]
        where = []
        if self.bounds.read_from is not None:
            where.append(f'"time" >= {ts(self.bounds.read_from)}')
        if self.bounds.decide_until is not None:
            where.append(f'"time" <= {ts(self.bounds.decide_until)}')
        # The conditions go in WHERE too: as a filter DuckDB evaluates them with selection vectors (an AND stops
        # at its first false conjunct per row) and builds the columns below only for the rows that pass.
        any_cond = " OR ".join(f"({sql})" for _, sql in self.conds if sql in self.selectors) or "FALSE"
        where.append(f"({any_cond})")
        return cte("base", f"SELECT {', '.join(select)}\nFROM events\nWHERE {' AND '.join(where)}",
                   materialized=True)


def compile_playbook(playbook: Playbook, bounds: Bounds | None = None) -> CompiledQuery:
    """The query yielding this playbook's alert rows (see the module docstring) for `bounds`."""
    from correlators.correlation import first_seen, match, sequence, threshold

    ctx = Ctx(playbook, bounds or Bounds())
    corr = playbook.correlation
    if corr.type == "match":
        ctes = match.build(ctx, corr)
    elif corr.type == "threshold":
        ctes = threshold.build(ctx, corr)
    elif corr.type == "sequence":
        ctes = sequence.build(ctx, corr)
    else:
        ctes = first_seen.build(ctx, corr)
    base = ctx.base_cte()
    sql = "WITH " + ",\n".join([base, *ctes]) + "\n" + _envelope(ctx)
    conds = tuple((name, tuple(paths)) for name, paths in ctx.cond_paths.items())
    return CompiledQuery(sql, tuple(ctx.components), "WITH " + base, conds)


def components_of(playbook: Playbook) -> list[FirstSeenComponent]:
    """The first-seen components a playbook keeps state for (same list compile_playbook reports)."""
    corr = playbook.correlation
    if corr.type == "first_seen":
        return [FirstSeenComponent("", corr.where, corr.group_by, corr.new.value, corr.new.baseline,
                                   corr.new.min_history, dt.timedelta(0))]
    if corr.type == "sequence":
        return [FirstSeenComponent(s.name, s.where, s.group_by, s.first_seen.value, s.first_seen.baseline,
                                   s.first_seen.min_history, lookback(playbook))
                for s in corr.steps if s.first_seen is not None]
    return []


def lookback(playbook: Playbook, *, stateless: bool = False) -> dt.timedelta:
    """How far before the last final time a run must read so that every new decision sees all it depends on.
    stateless: without the sightings table (backtest, diff, explain), first-seen baselines are read too."""
    corr = playbook.correlation
    if stateless:
        extra = max((c.baseline + c.min_history for c in components_of(playbook)), default=dt.timedelta(0))
        return lookback(playbook) + extra
    if corr.type == "threshold":
        # the window itself, and the previous qualifying point for re-arming; with a baseline, the earlier
        # windows it compares with (and their own windows)
        return 2 * corr.window + (corr.baseline + corr.window if corr.baseline else dt.timedelta(0))
    if corr.type == "sequence":
        # a chain (window), the previous completion for re-arming (window), its chain, a leading absent step
        return 4 * corr.window
    return dt.timedelta(0)  # match: the event alone; first_seen: the sightings table holds the past


def _envelope(ctx: Ctx) -> str:
    """Alert identity, group values by field name, the dedup key, and which exceptions apply."""
    pb = ctx.pb
    n = len(pb.group_by)
    group_json = f"json_array({cols('g', n)})"
    identity = f"md5(json_array({lit(pb.id)}, {pb.version}, {group_json}, anchor)::VARCHAR)"
    pairs = comma(*(f"{lit(name)}, g{i}" for i, name in enumerate(pb.group_by)))
    dedup_cols = comma(*(f"g{pb.group_by.index(name)}" for name in pb.dedup_key))
    suppress = [
        f"CASE WHEN {x} AND decision_time < {ts(exc.expires_at)} THEN {lit(exc.ref)} END"
        for x, exc in zip(ctx.exc_cols, pb.exceptions, strict=True)
    ]
    suppressed_by = (f"list_filter([{', '.join(suppress)}], lambda r: r IS NOT NULL)" if suppress
                     else "CAST([] AS VARCHAR[])")
    labels = [f"{lit(name + '=')} || coalesce(CAST(g{i} AS VARCHAR), '?')" for i, name in enumerate(pb.group_by)]
    title = lit(pb.title) + (f" || ' (' || concat_ws(', ', {', '.join(labels)}) || ')'" if labels else "")
    return f"""SELECT
    {identity} AS alert_id,
    {title} AS title,
    json_object({pairs}) AS group_values,
    md5(json_array({dedup_cols})::VARCHAR) AS dedup_key,
    anchor,
    decision_time,
    first_seen,
    last_seen,
    window_start,
    event_count,
    metrics,
    event_ids[1:{MAX_EVENT_IDS}] AS event_ids,
    sample_rids,
    {suppressed_by} AS suppressed_by
FROM cand"""


def group_select(n: int, slots: list[str], alias: str = "") -> str:
    dot = f"{alias}." if alias else ""
    return ", ".join(f"{dot}{s} AS g{i}" for i, s in enumerate(slots[:n]))


__all__ = ["Bounds", "CompiledQuery", "CorrelationCompileError", "Ctx", "FirstSeenComponent", "compile_playbook",
           "group_select", "ident"]
