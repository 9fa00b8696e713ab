"""`match`: one alert per event that satisfies `where` (decision time: the event's time).

Unlike the other types, a NULL group value does not drop the event: the group is only the alert's label and
dedup key here, and a leak must not go unreported because a source left a field empty.
"""

from __future__ import annotations

from correlators.correlation.compiler import Ctx, group_select
from correlators.correlation.sqlparts import anchor_time, comma, cte, lit
from correlators.playbooks.model import MatchSpec


def build(ctx: Ctx, spec: MatchSpec) -> list[str]:
    m = ctx.cond(spec.where)
    slots = ctx.fields(spec.group_by)
    n = len(slots)
    hits = f"""SELECT event_id, "time", rid, {comma(group_select(n, slots), ctx.exc_select())}
FROM base
WHERE {m} AND {ctx.decided('"time"')}"""
    cand = f"""SELECT {comma(*(f"g{i}" for i in range(n)))}{", " if n else ""}
    {anchor_time('"time"')} || ' ' || event_id AS anchor,
    "time" AS decision_time, "time" AS first_seen, "time" AS last_seen, "time" AS window_start,
    CAST(1 AS BIGINT) AS event_count,
    json_object({lit("count")}, 1) AS metrics,
    [event_id] AS event_ids,
    [rid] AS sample_rids{", " if ctx.exc_cols else ""}{ctx.exc_select()}
FROM hits"""
    return [cte("hits", hits), cte("cand", cand)]

