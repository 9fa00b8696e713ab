"""Playbook tests (`tests:` in each playbook) through the real path: an in-memory store with the migrations,
the events inserted into `events`, `correlate(..., flush=True)`, then `alerts` and `suppressed_matches` read
back. `breachline playbooks test` and pytest (tests/test_shipped_playbooks.py) both call `run_test`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from correlators.correlation.runner import correlate
from correlators.playbooks import fields as event_fields
from correlators.playbooks.model import Playbook, PlaybookTest

_TYPE_NAMES = {"varchar": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
               "boolean": "BOOLEAN", "timestamp with time zone": "TIMESTAMPTZ"}


def _event_structure() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, typ in event_fields.event_field_types().items():
        parts = path.split(".")
        if typ == "struct":
            out.setdefault(parts[0], {})
            continue
        sql = "JSON" if path == "raw" else (["VARCHAR"] if typ == "varchar[]" else _TYPE_NAMES[typ])
        if len(parts) == 1:
            out[path] = sql
        else:
            out.setdefault(parts[0], {})[parts[1]] = sql
    return out


def insert_events(con: duckdb.DuckDBPyConnection, events: Iterable[Mapping[str, Any]], *,
                  id_prefix: str = "t") -> int:
    """Insert events written as nested mappings (the event schema's shape). Defaults: event_id `t<n>`,
    ingested_at = time, source / source_format `test`, category `app`. Returns how many were inserted."""
    rows = []
    for i, ev in enumerate(events):
        row = {"event_id": f"{id_prefix}{i}", "source": "test", "source_format": "test", "category": "app", **ev}
        row.setdefault("ingested_at", row.get("time"))
        rows.append(_jsonable(row))
    if not rows:
        return 0
    structure = json.dumps([_event_structure()])
    con.execute(
        "INSERT INTO events BY NAME SELECT e.* FROM (SELECT unnest(from_json(?::JSON, ?)) AS e)",
        [json.dumps(rows), structure],
    )
    return len(rows)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


@dataclass
class TestOutcome:
    playbook: str
    test: str
    passed: bool
    alerts: int
    suppressed: int
    groups: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        status = "ok" if self.passed else "FAIL"
        detail = f" ({'; '.join(self.problems)})" if self.problems else ""
        return f"{status:4} {self.playbook} :: {self.test}{detail}"


def run_test(pb: Playbook, test: PlaybookTest) -> TestOutcome:
    from breachline.store import connect

    con = connect(":memory:")
    try:
        insert_events(con, test.events)
        # the compiled SQL runs as in production: no files, no network
        con.execute("SET enable_external_access = false")
        correlate(con, [pb], flush=True)
        groups = [json.loads(r[0]) for r in con.execute(
            "SELECT group_values FROM alerts WHERE playbook_id = ? ORDER BY first_seen, alert_id", [pb.id]).fetchall()]
        row = con.execute("SELECT count(DISTINCT alert_id) FROM suppressed_matches WHERE playbook_id = ?",
                          [pb.id]).fetchone()
        suppressed = int(row[0]) if row else 0
    finally:
        con.close()
    out = TestOutcome(pb.id, test.name, True, len(groups), suppressed, groups)
    if len(groups) != test.expect_alerts:
        out.problems.append(f"expected {test.expect_alerts} alert(s), got {len(groups)}")
    if test.expect_suppressed is not None and suppressed != test.expect_suppressed:
        out.problems.append(f"expected {test.expect_suppressed} suppressed, got {suppressed}")
    if test.expect_groups is not None:
        keys = sorted({k for g in test.expect_groups for k in g})
        want = sorted(json.dumps(dict(g), sort_keys=True) for g in test.expect_groups)
        got = sorted(json.dumps({k: g.get(k) for k in keys}, sort_keys=True) for g in groups)
        if want != got:
            out.problems.append(f"expected groups {list(map(dict, test.expect_groups))}, got {groups}")
    out.passed = not out.problems
    return out


def run_tests(playbooks: Iterable[Playbook]) -> list[TestOutcome]:
    return [run_test(pb, t) for pb in playbooks for t in pb.tests]
