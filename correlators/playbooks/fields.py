"""The event fields a playbook may name in group_by, value, aggregates and dedup keys.

Read from the `events` table definition itself (migration 001), so a column added there is usable at once and
a playbook naming a field that does not exist is refused at load time instead of silently grouping on NULL.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import duckdb

from breachline.store import MIGRATIONS_DIR

# Fields that can be grouped / aggregated: scalar leaves. Lists (waf.labels, pii.types), JSON (raw) and the
# STRUCT columns themselves cannot be a group key.
_SCALAR_IDS = {"varchar", "integer", "bigint", "double", "boolean", "timestamp with time zone"}


@lru_cache(maxsize=1)
def event_field_types() -> dict[str, str]:
    """Every event field path → DuckDB type id (`varchar`, `bigint`, `struct`, `varchar[]`, ...)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute((MIGRATIONS_DIR / "001_event_store.sql").read_text())
        rel = con.sql("FROM events")
        out: dict[str, str] = {}
        for name, typ in zip(rel.columns, rel.types, strict=True):
            out[name] = str(typ.id)
            if typ.id == "struct":
                for field, sub in typ.children:
                    text = str(sub)
                    sub_id = str(getattr(sub, "id", text)).lower()
                    out[f"{name}.{field}"] = "varchar[]" if text.endswith("[]") else sub_id
        return out
    finally:
        con.close()


def scalar_fields() -> list[str]:
    # raw is JSON text (the slow path for rules), never a key.
    return sorted(p for p, t in event_field_types().items() if t in _SCALAR_IDS and p != "raw")


def numeric_fields() -> list[str]:
    return sorted(p for p, t in event_field_types().items() if t in {"integer", "bigint", "double"})


def unknown_field_message(name: str, allowed: list[str], what: str = "an event field") -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else f"; known: {', '.join(allowed)}"
    return f'"{name}" is not {what}{hint}'
