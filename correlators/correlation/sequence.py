"""`sequence`: ordered steps by the same group within `window`, with optional `absent` steps.

Semantics (docs/playbooks.md, "Sequences"):
- A chain starts at any event of the first present step (the *anchor*, time t1). Each next present step is the
  earliest event of that step, in the same group, at or after the previous step's time and not the same
  event (ties in time are allowed: two sources often log one request with the same timestamp). Taking the
  earliest is optimal: it leaves the most room for later steps and the least for absent ones.
- All present steps lie in [t1, t1 + window] (inclusive).
- Absent steps: before the first present step, no matching event in [t1 - window, t1]; between two present
  steps, none in [t_prev, t_next]; after the last present step, none in [t_last, t_last + window].
- The chain completes at the last present step (time tc). Decision time: tc, or tc + window when the sequence
  ends with an absent step (the silence must have lasted). Chains completing at the same (group, tc) make one
  alert, anchored at the earliest anchor. A group re-arms after a gap longer than the window between two
  completions, so a continuous attack raises one alert per episode.
Implementation: equality + ASOF joins (one per step), never a pairwise range join, so a noisy group (a
scanner with thousands of WAF hits) costs O(n log n), not O(n^2).
"""

from __future__ import annotations

from correlators.correlation.compiler import CorrelationCompileError, Ctx, FirstSeenComponent, group_select
from correlators.correlation.first_seen import component_ctes
from correlators.correlation.sqlparts import anchor_time, cols, comma, cte, interval, join_on, lit
from correlators.playbooks import fields as event_fields
from correlators.playbooks.model import SequenceSpec, Step

_TIME = '"time"'


def build(ctx: Ctx, spec: SequenceSpec) -> list[str]:
    _check_group_types(ctx, spec)
    n = len(spec.group_by)
    w = interval(spec.window)
    g = cols("g", n)
    ctes: list[str] = []

    present = [s for s in spec.steps if not s.absent]
    gaps: list[list[Step]] = [[] for _ in range(len(present) + 1)]
    k = 0
    for s in spec.steps:
        if s.absent:
            gaps[k].append(s)
        else:
            k += 1

    # Step event sets: event_id, time, g*, exception flags.
    for j, step in enumerate(present, 1):
        ctes.extend(_step_set(ctx, spec, step, f"s{j}"))
        if j > 1:
            ctes.append(cte(f"s{j}_t", f'SELECT {g}, "time", min(event_id) AS lo, max(event_id) AS hi '
                                       f'FROM s{j} GROUP BY {g}, "time"', materialized=True))
    for i, gap in enumerate(gaps):
        if gap:
            parts = []
            for step in gap:
                m = ctx.cond(step.where)
                slots = ctx.fields(step.group_by)
                nn = " AND ".join(f"{s} IS NOT NULL" for s in slots)
                parts.append(f'SELECT {group_select(n, slots)}, "time" FROM base WHERE {m} AND {nn}')
            ctes.append(cte(f"z{i}", "\nUNION ALL\n".join(parts), materialized=True))

    # Chains. Anchors only in groups that have events of every later present step (a semi-join per step):
    # a scanner with thousands of WAF hits that never reaches the application starts no chain at all.
    later = " AND ".join(f"EXISTS (SELECT 1 FROM s{j} x WHERE {join_on(n, 'x', 's')})"
                         for j in range(2, len(present) + 1)) or "TRUE"
    ctes.append(cte("s1_live", f"SELECT * FROM s1 s WHERE {later}"))
    chain_cols = [g]
    first = f'SELECT {g}, event_id AS e1, "time" AS t1 FROM s1_live'
    if gaps[0]:
        first = f"""SELECT {cols('g', n, 's')}, s.event_id AS e1, s."time" AS t1
FROM s1_live s ASOF LEFT JOIN z0 z ON {join_on(n, 's', 'z')} AND s."time" >= z."time"
WHERE z."time" IS NULL OR z."time" < s."time" - {w}"""
    ctes.append(cte("c1", first))
    chain_cols.append("e1, t1")
    for j in range(2, len(present) + 1):
        prev = ", ".join(chain_cols)
        prev_c = ", ".join(f"c.{c.strip()}" for c in prev.split(","))
        ctes.append(cte(f"c{j}_e", f"""SELECT {prev_c},
    CASE WHEN q.lo <> c.e{j - 1} THEN q.lo WHEN q.hi <> c.e{j - 1} THEN q.hi END AS eq_id
FROM c{j - 1} c LEFT JOIN s{j}_t q ON {join_on(n, 'c', 'q')} AND q."time" = c.t{j - 1}"""))
        ctes.append(cte(f"c{j}_n", f"""SELECT c.*, n."time" AS nx_t, n.lo AS nx_id
FROM c{j}_e c ASOF LEFT JOIN s{j}_t n ON {join_on(n, 'c', 'n')} AND c.t{j - 1} < n."time\""""))
        step_sql = f"""SELECT {prev}, coalesce(eq_id, nx_id) AS e{j},
    CASE WHEN eq_id IS NOT NULL THEN t{j - 1} ELSE nx_t END AS t{j}
FROM c{j}_n WHERE coalesce(eq_id, nx_id) IS NOT NULL"""
        ctes.append(cte(f"c{j}_x", step_sql))
        chain_cols.append(f"e{j}, t{j}")
        cur = ", ".join(chain_cols)
        if gaps[j - 1]:
            cur_c = ", ".join(f"c.{c.strip()}" for c in cur.split(","))
            body = f"""SELECT {cur_c}
FROM c{j}_x c ASOF LEFT JOIN z{j - 1} z ON {join_on(n, 'c', 'z')} AND c.t{j - 1} <= z."time"
WHERE c.t{j} <= c.t1 + {w} AND (z."time" IS NULL OR z."time" > c.t{j})"""
        else:
            body = f"SELECT {cur} FROM c{j}_x WHERE t{j} <= t1 + {w}"
        ctes.append(cte(f"c{j}", body))

    mlast = len(present)
    cur = ", ".join(chain_cols)
    if gaps[mlast]:
        cur_c = ", ".join(f"c.{c.strip()}" for c in cur.split(","))
        done = f"""SELECT {cur_c}, c.t{mlast} + {w} AS d
FROM c{mlast} c ASOF LEFT JOIN z{mlast} z ON {join_on(n, 'c', 'z')} AND c.t{mlast} <= z."time"
WHERE z."time" IS NULL OR z."time" > c.t{mlast} + {w}"""
    else:
        done = f"SELECT {cur}, t{mlast} AS d FROM c{mlast}"
    ctes.append(cte("chains", done))
    ctes.append(cte("best", f"""SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY {g}, t{mlast} ORDER BY t1, e1) AS rn FROM chains
) WHERE rn = 1"""))
    ctes.append(cte("rearm", f"SELECT *, lag(t{mlast}) OVER (PARTITION BY {g} ORDER BY t{mlast}) AS prev_c FROM best"))
    ctes.append(cte("hits", f"""SELECT * FROM rearm
WHERE (prev_c IS NULL OR t{mlast} - prev_c > {w}) AND {ctx.decided('d')}""", materialized=True))

    ev = "\nUNION ALL\n".join(
        f"SELECT h.e1 AS hid, {j} AS step, s.* FROM hits h JOIN s{j} s ON s.event_id = h.e{j}"
        for j in range(1, mlast + 1)
    )
    ctes.append(cte("ev", ev))
    steps_json = "json_object(" + ", ".join(
        f"{lit(step.name)}, json_object('event_id', h.e{j}, 'time', h.t{j})" for j, step in enumerate(present, 1)
    ) + ")"
    ids = ", ".join(f"h.e{j}" for j in range(1, mlast + 1))
    group_cols = comma(cols("g", n, "h"), *(f"h.e{j}, h.t{j}" for j in range(1, mlast + 1)), "h.d")
    cand = f"""SELECT {cols('g', n, 'h')},
    {anchor_time('h.t1')} || ' ' || h.e1 AS anchor,
    h.d AS decision_time,
    h.t1 AS first_seen,
    h.t{mlast} AS last_seen,
    h.t1 AS window_start,
    CAST({mlast} AS BIGINT) AS event_count,
    json_object('steps', {steps_json}) AS metrics,
    [{ids}] AS event_ids,
    list(ev.rid ORDER BY ev.step)[1:5] AS sample_rids{", " if ctx.exc_cols else ""}{ctx.exc_all('ev')}
FROM hits h JOIN ev ON ev.hid = h.e1
GROUP BY {group_cols}"""
    ctes.append(cte("cand", cand))
    return ctes


def _step_set(ctx: Ctx, spec: SequenceSpec, step: Step, name: str) -> list[str]:
    n = len(spec.group_by)
    tail = ctx.exc_select()
    if step.first_seen is not None:
        fs = step.first_seen
        comp = FirstSeenComponent(step.name, step.where, step.group_by, fs.value, fs.baseline, fs.min_history,
                                  4 * spec.window)
        out = component_ctes(ctx, comp, f"{name}_fs")
        out.append(cte(name, f'SELECT {comma("event_id", _TIME, "rid", cols("g", n), tail)} FROM {name}_fs_new',
                       materialized=True))
        return out
    m = ctx.cond(step.where)
    slots = ctx.fields(step.group_by)
    nn = " AND ".join(f"{s} IS NOT NULL" for s in slots)
    body = f'SELECT {comma("event_id", _TIME, "rid", group_select(n, slots), tail)} FROM base WHERE {m} AND {nn}'
    return [cte(name, body, materialized=True)]


def _check_group_types(ctx: Ctx, spec: SequenceSpec) -> None:
    types = event_fields.event_field_types()
    for i, step in enumerate(spec.steps):
        for pos, (mine, theirs) in enumerate(zip(step.group_by, spec.group_by, strict=True)):
            if types.get(mine) != types.get(theirs):
                raise CorrelationCompileError(
                    ctx.pb, f"correlation.steps[{i}].group_by[{pos}]",
                    f"{mine} ({types.get(mine)}) cannot pair with {theirs} ({types.get(theirs)}): the types differ")
