"""`threshold`: per group, a sliding window over event time; aggregates tested by `having`.

Evaluation points are the distinct event times of the group: the window ending at t holds the group's matching
events with time in [t - window, t] (both ends inclusive; all events at t are in it). A point *qualifies* when
`having` holds there. An alert is raised at a qualifying point t unless another qualifying point lies in
[t - window, t): a continuous episode raises one alert, and the group re-arms once no window has qualified for
longer than the window. Everything about the alert at t depends only on events in [t - 2*window, t].
"""

from __future__ import annotations

import datetime as dt

from correlators.correlation.compiler import Ctx, group_select
from correlators.correlation.conditions import metric_condition
from correlators.correlation.sqlparts import (
    anchor_time,
    cols,
    comma,
    cte,
    ident,
    interval,
    join_on,
    lit,
    partition,
)
from correlators.playbooks import fields as event_fields
from correlators.playbooks.model import ThresholdSpec

_MICRO = dt.timedelta(microseconds=1)
_SQL_TYPES = {"varchar": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
              "boolean": "BOOLEAN", "timestamp with time zone": "TIMESTAMPTZ"}


def metric_types(spec: ThresholdSpec) -> dict[str, str]:
    types = event_fields.event_field_types()
    out = {"count": "BIGINT"}
    for agg in spec.aggregates:
        if agg.fn in ("count", "distinct"):
            out[agg.name] = "BIGINT"
        elif agg.fn == "sum":
            out[agg.name] = "DOUBLE" if types[agg.field or ""] == "double" else "BIGINT"
        else:
            out[agg.name] = _SQL_TYPES[types[agg.field or ""]]
    return out


def build(ctx: Ctx, spec: ThresholdSpec) -> list[str]:
    from correlators.correlation.compiler import CorrelationCompileError
    from correlators.jsonlogic import JsonLogicError

    m = ctx.cond(spec.where)
    gslots = ctx.fields(spec.group_by)
    n = len(gslots)
    w = interval(spec.window)
    types = metric_types(spec)
    agg_inputs = []
    metric_exprs = [f"count(*) OVER win AS {ident('count')}"]
    for i, agg in enumerate(spec.aggregates):
        col = f"a{i}"
        if agg.field is not None:
            agg_inputs.append(f"{ctx.slots.slot(agg.field)} AS {col}")
        fn = {"count": f"count({col})" if agg.field else "count(*)", "distinct": f"count(DISTINCT {col})",
              "sum": f"sum({col})", "min": f"min({col})", "max": f"max({col})"}[agg.fn]
        if agg.where is not None:
            agg_inputs.append(f"{ctx.cond(agg.where, selects=False)} AS w{i}")
            fn += f" FILTER (WHERE w{i})"
        expr = f"{fn} OVER win"
        if agg.fn == "sum":
            expr = f"CAST({expr} AS {types[agg.name]})"  # sum(BIGINT) is HUGEINT; JSON numbers are doubles
        metric_exprs.append(f"{expr} AS {ident(agg.name)}")
    having_types = dict(types)
    if spec.baseline is not None:
        having_types.update({f"baseline.{k}": v for k, v in types.items()})
    try:
        having = metric_condition(spec.having, having_types)
    except JsonLogicError as exc:
        raise CorrelationCompileError(ctx.pb, exc.path or spec.having.path, exc.problem) from exc

    names = list(types)
    gnn = " AND ".join([f"{s} IS NOT NULL" for s in gslots] or ["TRUE"])
    f = f"""SELECT event_id, "time", rid, {comma(group_select(n, gslots), *agg_inputs, ctx.exc_select())}
FROM base WHERE {m} AND {gnn}"""
    win = f"""SELECT {comma(cols('g', n), '"time"', *metric_exprs)}
FROM f
WINDOW win AS ({partition(n)} ORDER BY "time" RANGE BETWEEN {w} PRECEDING AND CURRENT ROW)"""
    # Peers (same time) share one frame, so one row per (group, time) carries the point's metrics.
    time_col = '"time"'
    points = f"SELECT DISTINCT ON ({comma(cols('g', n), time_col)}) * FROM win_rows"
    if spec.baseline is not None:
        # The metric's peak over the group's earlier windows that ended before this one began, within the
        # baseline period: "above baseline" compares with the busiest comparable window, not with itself.
        peaks = ", ".join(f"{ident(k)} := max({ident(k)}) OVER bwin" for k in types)
        points = f"""SELECT *, struct_pack({peaks}) AS baseline FROM (
    {points}
)
WINDOW bwin AS ({partition(n)} ORDER BY "time"
                RANGE BETWEEN {interval(spec.baseline)} PRECEDING AND {interval(spec.window + _MICRO)} PRECEDING)"""
    qualifying = f"""SELECT *, lag("time") OVER ({partition(n)} ORDER BY "time") AS prev_q
FROM points WHERE {having}"""
    hits = f"""SELECT * FROM qualifying
WHERE (prev_q IS NULL OR "time" - prev_q > {w}) AND {ctx.decided('"time"')}"""
    metrics_json = "json_object(" + ", ".join(f"{lit(k)}, h.{ident(k)}" for k in names) + (
        ", 'baseline', h.baseline" if spec.baseline is not None else "") + ")"
    cand = f"""SELECT {comma(cols('g', n, 'h'))}{", " if n else ""}
    {anchor_time('h."time"')} AS anchor,
    h."time" AS decision_time,
    min(f."time") AS first_seen,
    h."time" AS last_seen,
    h."time" - {w} AS window_start,
    h.{ident('count')} AS event_count,
    {metrics_json} AS metrics,
    list(f.event_id ORDER BY f."time", f.event_id) AS event_ids,
    list(f.rid ORDER BY f."time", f.event_id)[1:5] AS sample_rids{", " if ctx.exc_cols else ""}{ctx.exc_all('f')}
FROM hits h JOIN f ON {join_on(n, 'f', 'h')} AND f."time" BETWEEN h."time" - {w} AND h."time"
GROUP BY {comma(cols('g', n, 'h'), 'h."time"', *(f"h.{ident(k)}" for k in names),
               "h.baseline" if spec.baseline is not None else "")}"""
    return [cte("f", f, materialized=True), cte("win_rows", win), cte("points", points), cte("qualifying", qualifying),
            cte("hits", hits), cte("cand", cand)]
