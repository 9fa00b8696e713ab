"""What-if analyses that never write: `explain` (compiled SQL, what each condition matched), `backtest`
(alerts per day, incidents after dedup, top groups, suppressed by exceptions, a chart) and `diff` (two versions
of a playbook over the same history). All run the real compiled SQL, statelessly (first-seen baselines are
read from the events themselves), over a stretch of event time ending at the store's watermark.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

from correlators.correlation.compiler import Bounds, compile_playbook, lookback
from correlators.correlation.runner import evaluate, prepare, watermark
from correlators.correlation.sqlparts import lit
from correlators.playbooks.model import Playbook


def history_bounds(con: duckdb.DuckDBPyConnection, playbooks: list[Playbook], since: dt.timedelta,
                   *, final_only: bool = True) -> Bounds | None:
    """Decisions in (watermark - since, watermark - lateness]; None when the store is empty. `since` counts
    back from the newest event, not the wall clock, so old or generated data backtests the same way."""
    mark = watermark(con)
    if mark is None:
        return None
    start = mark - since
    until = mark - max(p.lateness for p in playbooks) if final_only else mark
    back = max(lookback(p, stateless=True) for p in playbooks)
    return Bounds(read_from=start - back, decide_after=start, decide_until=until)


# ---------------------------------------------------------------------------------------------- explain

@dataclass
class ConditionMatch:
    paths: tuple[str, ...]
    count: int
    events: list[dict[str, Any]]


@dataclass
class Explanation:
    sql: str
    conditions: list[ConditionMatch] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def explain(con: duckdb.DuckDBPyConnection, pb: Playbook, bounds: Bounds | None = None, *,
            limit: int = 10) -> Explanation:
    """The compiled SQL, the events each condition (step, where, exception) matched, and the alerts."""
    bounds = bounds or Bounds()
    query = compile_playbook(pb, bounds)
    out = Explanation(query.sql)
    prepare(con)
    named = [*query.conditions,
             *((f"x{i}", (f"exceptions[{i}].where ({e.ref})",)) for i, e in enumerate(pb.exceptions))]
    for name, paths in named:
        count_row = con.execute(f"{query.base_sql}\nSELECT count(*) FROM base WHERE {name}").fetchone()
        ids = [r[0] for r in con.execute(
            f"{query.base_sql}\nSELECT event_id FROM base WHERE {name} ORDER BY \"time\", event_id LIMIT {int(limit)}"
        ).fetchall()]
        out.conditions.append(ConditionMatch(paths, int(count_row[0]) if count_row else 0, _events(con, ids)))
    out.alerts = evaluate(con, pb, bounds)
    return out


def _events(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    cur = con.execute('SELECT event_id, "time", action, actor, src, http FROM events WHERE event_id IN '
                      f'({", ".join(lit(i) for i in ids)}) ORDER BY "time", event_id')
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# --------------------------------------------------------------------------------------------- backtest

@dataclass
class BacktestResult:
    playbook: str
    version: int
    decided_after: dt.datetime | None
    decided_until: dt.datetime | None
    alerts: int
    suppressed: int
    incidents: int
    per_day: list[tuple[dt.date, int, int]]  # day, alerts, suppressed
    top_groups: list[tuple[dict[str, Any], int]]
    by_exception: dict[str, int]
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook, "version": self.version,
            "from": self.decided_after, "until": self.decided_until,
            "alerts": self.alerts, "suppressed": self.suppressed, "incidents": self.incidents,
            "per_day": [{"day": d.isoformat(), "alerts": a, "suppressed": s} for d, a, s in self.per_day],
            "top_groups": [{"group": g, "alerts": n} for g, n in self.top_groups],
            "suppressed_by_exception": self.by_exception,
        }


def backtest(con: duckdb.DuckDBPyConnection, pb: Playbook, since: dt.timedelta, *, top: int = 10) -> BacktestResult:
    bounds = history_bounds(con, [pb], since)
    rows = evaluate(con, pb, bounds) if bounds else []
    fired = [r for r in rows if not r["suppressed_by"]]
    days: dict[dt.date, list[int]] = {}
    if bounds and bounds.decide_after and bounds.decide_until:
        day = bounds.decide_after.date()
        while day <= bounds.decide_until.date():
            days[day] = [0, 0]
            day += dt.timedelta(days=1)
    for r in rows:
        slot = days.setdefault(r["decision_time"].date(), [0, 0])
        slot[1 if r["suppressed_by"] else 0] += 1
    groups = Counter(r["group_values"] for r in fired)
    by_exc: Counter[str] = Counter(ref for r in rows for ref in r["suppressed_by"])
    return BacktestResult(
        pb.id, pb.version, bounds.decide_after if bounds else None, bounds.decide_until if bounds else None,
        len(fired), len(rows) - len(fired), count_incidents(pb, fired),
        [(d, a, s) for d, (a, s) in sorted(days.items())],
        [(json.loads(g), n) for g, n in groups.most_common(top)], dict(by_exc), rows,
    )


def count_incidents(pb: Playbook, alerts: list[dict[str, Any]]) -> int:
    """Incidents the delivery side would open: per dedup key, an alert within suppress_for of the open
    incident's last event joins it (the rule of correlators/incidents; repeats after close not modelled)."""
    try:
        suppress_for = pb.incident_policy().suppress_for
    except ImportError:
        suppress_for = dt.timedelta(hours=24)
    last_seen: dict[str, dt.datetime] = {}
    count = 0
    for a in sorted(alerts, key=lambda r: (r["first_seen"], r["alert_id"])):
        key = a["dedup_key"]
        if key not in last_seen or a["first_seen"] - last_seen[key] > suppress_for:
            count += 1
            last_seen[key] = a["last_seen"]
        else:
            last_seen[key] = max(last_seen[key], a["last_seen"])
    return count


def chart_html(result: BacktestResult) -> str:
    """A self-contained HTML page with an SVG bar chart of alerts (and suppressed matches) per day."""
    days = result.per_day or [(dt.date.today(), 0, 0)]
    peak = max([a + s for _, a, s in days] + [1])
    bar_w, gap, height, left, bottom = 22, 6, 220, 40, 60
    width = left + len(days) * (bar_w + gap) + 20
    parts = []
    for i, (day, alerts, suppressed) in enumerate(days):
        x = left + i * (bar_w + gap)
        h_a = alerts / peak * height
        h_s = suppressed / peak * height
        y_a = 10 + height - h_a
        parts.append(f'<rect x="{x}" y="{y_a:.1f}" width="{bar_w}" height="{h_a:.1f}" fill="#c0392b">'
                     f"<title>{day}: {alerts} alerts</title></rect>")
        parts.append(f'<rect x="{x}" y="{y_a - h_s:.1f}" width="{bar_w}" height="{h_s:.1f}" fill="#95a5a6">'
                     f"<title>{day}: {suppressed} suppressed</title></rect>")
        parts.append(f'<text x="{x + bar_w / 2}" y="{height + 25}" font-size="10" text-anchor="end" '
                     f'transform="rotate(-60 {x + bar_w / 2} {height + 25})">{day.isoformat()}</text>')
    parts.append(f'<text x="{left - 6}" y="18" font-size="10" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 6}" y="{height + 10}" font-size="10" text-anchor="end">0</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom + 20}">'
           f'<line x1="{left - 2}" y1="10" x2="{left - 2}" y2="{height + 10}" stroke="#333"/>'
           + "".join(parts) + "</svg>")
    title = html.escape(f"{result.playbook} v{result.version}: alerts per day")
    top = "".join(f"<li><code>{html.escape(json.dumps(g))}</code>: {n}</li>" for g, n in result.top_groups)
    exc = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in result.by_exception.items()) or "<li>none</li>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif"><h1>{title}</h1>
<p>{result.decided_after} to {result.decided_until}: {result.alerts} alerts, {result.incidents} incidents after
dedup, {result.suppressed} suppressed by exceptions. Red: alerts; grey: suppressed.</p>
{svg}
<h2>Top groups</h2><ul>{top or "<li>none</li>"}</ul><h2>Suppressed by exception</h2><ul>{exc}</ul>
</body></html>
"""


# ------------------------------------------------------------------------------------------------- diff

@dataclass
class DiffResult:
    old: str
    new: str
    appear: list[dict[str, Any]]
    disappear: list[dict[str, Any]]
    common: int

    def summary(self) -> dict[str, Any]:
        def brief(r: dict[str, Any]) -> dict[str, Any]:
            return {"group": json.loads(r["group_values"]), "first_seen": r["first_seen"],
                    "last_seen": r["last_seen"], "count": r["event_count"],
                    "suppressed_by": r["suppressed_by"]}

        return {"old": self.old, "new": self.new, "common": self.common,
                "appear": [brief(r) for r in self.appear], "disappear": [brief(r) for r in self.disappear]}


def diff(con: duckdb.DuckDBPyConnection, old: Playbook, new: Playbook, since: dt.timedelta) -> DiffResult:
    """Alerts that appear / disappear going from `old` to `new` over the same history. Alerts are matched by
    group values and anchor (the id includes the version, so it cannot be the key)."""
    bounds = history_bounds(con, [old, new], since)
    before = evaluate(con, old, bounds) if bounds else []
    after = evaluate(con, new, bounds) if bounds else []

    def key(r: dict[str, Any]) -> tuple[str, str, bool]:
        return r["group_values"], r["anchor"], bool(r["suppressed_by"])

    a, b = {key(r): r for r in before}, {key(r): r for r in after}
    order = sorted
    return DiffResult(
        f"{old.id} v{old.version}", f"{new.id} v{new.version}",
        [b[k] for k in order(b.keys() - a.keys())], [a[k] for k in order(a.keys() - b.keys())],
        len(a.keys() & b.keys()),
    )
