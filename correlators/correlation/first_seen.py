"""`first_seen`: a value (or tuple) not seen for the group during `baseline` before the event.

An event is *new* when no matching event of the same group with the same value has a time in
[t - baseline, t) — ties at the same instant do not hide each other — and the group itself was seen before t,
at least `min_history` before it (so a brand-new user or API key does not alert on its very first event; the
store's first days are a learning period). Events with a NULL group field, or with every value field NULL,
are skipped. Decision time: the event's time. Events of one group and value at
the same instant make one alert.

The sightings of events already final live in `correlation_first_seen` (per playbook and component: the last
time each (group, value) was seen, and the first time each group was seen), so an incremental run reads only
the new events, not the whole baseline: its cost does not grow with history.
"""

from __future__ import annotations

import datetime as dt

from correlators.correlation import conditions
from correlators.correlation.compiler import Ctx, FirstSeenComponent, group_select
from correlators.correlation.sqlparts import (
    anchor_time,
    cols,
    comma,
    cte,
    field_sql,
    interval,
    lit,
    ts,
)
from correlators.playbooks.model import FirstSeenSpec, Playbook

STATE_TABLE = "correlation_first_seen"


def component_ctes(ctx: Ctx, comp: FirstSeenComponent, prefix: str) -> list[str]:
    """CTEs ending in `{prefix}_new`: the component's new events with columns event_id, time, g*, v*, gk, vk,
    the exception flags. (When the value was last seen before the baseline is deliberately not
    reported: it would depend on history older than the baseline, which the sightings table forgets.)"""
    ctx.components.append(comp)
    m = ctx.cond(comp.where)
    gslots = ctx.fields(comp.group_by)
    vslots = ctx.fields(comp.value)
    n, k = len(gslots), len(vslots)
    vsel = ", ".join(f"{s} AS v{i}" for i, s in enumerate(vslots))
    nn = _present(gslots, vslots)
    since = None
    if ctx.bounds.use_state:
        since = ctx.bounds.state_until.get(comp.key)
    after = f' AND "time" > {ts(since)}' if since is not None else ""
    inp = f"""SELECT event_id, "time", rid, {comma(group_select(n, gslots), vsel)},
    json_array({cols('g', n)})::VARCHAR AS gk, json_array({cols('v', k)})::VARCHAR AS vk{", " if ctx.exc_cols else ""}{ctx.exc_select()}
FROM base WHERE {m} AND {nn}{after}"""
    values, groups = _state_relations(ctx.pb, comp, ctx.bounds.use_state)
    # The previous sighting strictly before each event: lag over the distinct (group, value, time) rows, so
    # ties at one instant do not hide each other. (A RANGE frame ending 1 µs before the row says the same but
    # costs ten times more on large partitions.)
    times = f"""SELECT gk, vk, "time", lag("time") OVER (PARTITION BY gk, vk ORDER BY "time") AS prev_t
FROM (SELECT DISTINCT gk, vk, "time" FROM {prefix}_in)"""
    firsts = f'SELECT gk, min("time") AS first_t FROM {prefix}_in GROUP BY gk'
    flag = f"""SELECT i.*,
    greatest(t.prev_t, st.last_time) AS prior,
    least(g.first_t, gs.first_time) AS g_first
FROM {prefix}_in i
JOIN {prefix}_t t ON t.gk = i.gk AND t.vk = i.vk AND t."time" = i."time"
JOIN {prefix}_g g ON g.gk = i.gk
LEFT JOIN {values} st ON st.group_key = i.gk AND st.value_key = i.vk
LEFT JOIN {groups} gs ON gs.group_key = i.gk"""
    new = f"""SELECT * FROM {prefix}_flag
WHERE (prior IS NULL OR prior < "time" - {interval(comp.baseline)})
  AND g_first < "time" AND g_first <= "time" - {interval(comp.min_history)}"""
    return [cte(f"{prefix}_in", inp, materialized=True), cte(f"{prefix}_t", times), cte(f"{prefix}_g", firsts),
            cte(f"{prefix}_flag", flag), cte(f"{prefix}_new", new, materialized=True)]


def _present(groups: list[str], values: list[str]) -> str:
    """Every group field set, and at least one value field (a missing ASN still leaves the country to compare:
    the value tuple keeps the NULL, so (DE, NULL) and (DE, AS3320) are different values)."""
    return "(" + " AND ".join([*(f"{g} IS NOT NULL" for g in groups),
                               "(" + " OR ".join(f"{v} IS NOT NULL" for v in values) + ")"]) + ")"


def _state_relations(pb: Playbook, comp: FirstSeenComponent, use_state: bool) -> tuple[str, str]:
    if not use_state:
        empty_v = "(SELECT NULL::VARCHAR AS group_key, NULL::VARCHAR AS value_key, NULL::TIMESTAMPTZ AS last_time WHERE FALSE)"
        empty_g = "(SELECT NULL::VARCHAR AS group_key, NULL::TIMESTAMPTZ AS first_time WHERE FALSE)"
        return empty_v, empty_g
    where = f"playbook_id = {lit(pb.id)} AND component = {lit(comp.key)}"
    values = f"(SELECT group_key, value_key, last_time FROM {STATE_TABLE} WHERE {where} AND value_key <> '')"
    groups = f"(SELECT group_key, first_time FROM {STATE_TABLE} WHERE {where} AND value_key = '')"
    return values, groups


def build(ctx: Ctx, spec: FirstSeenSpec) -> list[str]:
    comp = FirstSeenComponent("", spec.where, spec.group_by, spec.new.value, spec.new.baseline,
                              spec.new.min_history, dt.timedelta(0))
    ctes = component_ctes(ctx, comp, "fs")
    n, k = len(spec.group_by), len(spec.new.value)
    value_json = "json_object(" + ", ".join(f"{lit(name)}, v{i}" for i, name in enumerate(spec.new.value)) + ")"
    cand = f"""SELECT {cols('g', n)},
    {anchor_time('"time"')} || ' ' || vk AS anchor,
    "time" AS decision_time, "time" AS first_seen, "time" AS last_seen,
    "time" - {interval(spec.new.baseline)} AS window_start,
    count(*) AS event_count,
    json_object('value', {value_json}) AS metrics,
    list(event_id ORDER BY event_id) AS event_ids,
    list(rid ORDER BY event_id)[1:5] AS sample_rids{", " if ctx.exc_cols else ""}{ctx.exc_all()}
FROM fs_new
WHERE {ctx.decided('"time"')}
GROUP BY {comma(cols('g', n), cols('v', k), 'gk', 'vk', '"time"')}"""
    return [*ctes, cte("cand", cand)]


def state_update_sql(pb: Playbook, comp: FirstSeenComponent, after: dt.datetime | None,
                     until: dt.datetime) -> list[str]:
    """Statements that fold the sightings in (after, until] into the state and drop values that can no longer
    hide anything (last seen more than `baseline` before `until`)."""
    cond = conditions.event_condition(comp.where)
    gs = [field_sql(p) for p in comp.group_by]
    vs = [field_sql(p) for p in comp.value]
    nn = _present(gs, vs)
    lo = f'"time" > {ts(after)} AND ' if after is not None else ""
    rows = f"""SELECT json_array({', '.join(gs)})::VARCHAR AS gk, json_array({', '.join(vs)})::VARCHAR AS vk, "time"
FROM events WHERE {lo}"time" <= {ts(until)} AND ({cond}) AND {nn}"""
    key = f"{lit(pb.id)}, {lit(comp.key)}"
    upsert = """ON CONFLICT (playbook_id, component, group_key, value_key) DO UPDATE SET
    first_time = least(first_time, excluded.first_time), last_time = greatest(last_time, excluded.last_time)"""
    return [
        f"""INSERT INTO {STATE_TABLE} (playbook_id, component, group_key, value_key, first_time, last_time)
SELECT {key}, gk, vk, min("time"), max("time") FROM ({rows}) GROUP BY gk, vk
{upsert}""",
        f"""INSERT INTO {STATE_TABLE} (playbook_id, component, group_key, value_key, first_time, last_time)
SELECT {key}, gk, '', min("time"), max("time") FROM ({rows}) GROUP BY gk
{upsert}""",
        f"""DELETE FROM {STATE_TABLE} WHERE playbook_id = {lit(pb.id)} AND component = {lit(comp.key)}
AND value_key <> '' AND last_time < {ts(until)} - {interval(comp.baseline)}""",
    ]
