"""Small SQL building blocks shared by the correlation compilers.

Nothing from a playbook is pasted into SQL: field paths were checked against the event schema at load time and
are rendered through the JSONLogic package's quoting `Column` node; strings go through `quote_string`; times
and durations are rendered from Python datetime / timedelta values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from correlators.jsonlogic.sqltree import Column, quote_string

# The event columns copied into every alert's sample rows: everything but `raw` (already PII-masked at ingest,
# but bulky) and the ingest bookkeeping. PII values themselves are never stored in events: only pii.types.
SAMPLE_COLUMNS = ("event_id", "time", "source", "source_format", "category", "action", "outcome", "tenant", "actor", "src",
                  "http", "resource", "dst", "waf", "pii", "message")
MAX_EVENT_IDS = 1000  # evidence ids kept per alert; event_count always has the full number
MAX_SAMPLES = 5
ANCHOR_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(value: dt.datetime) -> str:
    """A TIMESTAMPTZ literal (UTC, microseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in correlation bounds")
    text = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"TIMESTAMPTZ '{text}+00'"


def interval(value: dt.timedelta) -> str:
    micros = value // dt.timedelta(microseconds=1)
    return f"INTERVAL '{micros} microseconds'"


def lit(text: str) -> str:
    return quote_string(text)


def field_sql(path: str) -> str:
    return Column(tuple(path.split("."))).render()


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cols(prefix: str, n: int, alias: str = "") -> str:
    """`g0, g1` or `a.g0, a.g1` (empty string when n == 0)."""
    dot = f"{alias}." if alias else ""
    return ", ".join(f"{dot}{prefix}{i}" for i in range(n))


def join_on(n: int, left: str, right: str, prefix: str = "g") -> str:
    """Equality on the group columns (TRUE when there are none)."""
    if n == 0:
        return "TRUE"
    return " AND ".join(f"{left}.{prefix}{i} = {right}.{prefix}{i}" for i in range(n))


def not_null(n: int, prefix: str = "g") -> str:
    return " AND ".join([f"{prefix}{i} IS NOT NULL" for i in range(n)] or ["TRUE"])


def partition(n: int, prefix: str = "g") -> str:
    return f"PARTITION BY {cols(prefix, n)}" if n else ""


def comma(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def anchor_time(expr: str) -> str:
    return f"strftime({expr}, {lit(ANCHOR_TIME_FORMAT)})"


def sample_struct() -> str:
    return "struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in SAMPLE_COLUMNS) + ")"


@dataclass
class FieldSlots:
    """Distinct event field paths used by a playbook → the base CTE's column names (c0, c1, ...)."""

    slots: dict[str, str] = field(default_factory=dict)

    def slot(self, path: str) -> str:
        if path not in self.slots:
            self.slots[path] = f"c{len(self.slots)}"
        return self.slots[path]

    def many(self, paths: Iterable[str]) -> list[str]:
        return [self.slot(p) for p in paths]

    def select_list(self) -> list[str]:
        return [f"{field_sql(path)} AS {name}" for path, name in self.slots.items()]


def cte(name: str, body: str, *, materialized: bool = False) -> str:
    return f"{name} AS {'MATERIALIZED ' if materialized else ''}(\n{indent(body.strip())}\n)"


def indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line if line else line for line in text.splitlines())
