"""shopify_events: Admin REST `events` become admin events (docs/formats/shopify_events.md), whether they come as
JSON lines of events, as whole API responses `{"events": [...]}` one per line, or as one pretty-printed response
per file; every event is one record, so the accounting stays exact; broken records are quarantined."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb

from connectors.sources.loader import IngestStats, load_object
from connectors.sources.locations import resolve
from connectors.sources.registry import get_parser

FIXTURES = Path(__file__).resolve().parent / "data" / "shopify" / "shopify_api_ruby_event_fixtures_2026_07.json"
UTC = dt.UTC


def pairs() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(FIXTURES.read_text())
    return data


def fixture_events() -> list[dict[str, Any]]:
    """Every event object in the fixture responses, in order (with repeats, as the API returned them)."""
    out: list[dict[str, Any]] = []
    for p in pairs():
        out += p["response"].get("events", [])
        if "event" in p["response"]:
            out.append(p["response"]["event"])
    return out


def load(store: duckdb.DuckDBPyConnection, path: Path) -> IngestStats:
    total = IngestStats("shop", "shopify_events")
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser("shopify_events"), obj, source="shop"))
    return total


def events(store: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    cur = store.execute("SELECT event_id, time, category, action, outcome, actor, resource, message, pii,"
                        " CAST(raw AS VARCHAR) AS raw FROM events")
    names = [d[0] for d in cur.description]
    return {r[0].removeprefix("shopify_events:"): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def quarantine(store: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in store.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()]


def write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_event_lines_golden(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    unique = list({e["id"]: e for e in fixture_events()}.values())
    assert len(unique) == 5
    stats = load(store, write_lines(tmp_path / "events.jsonl", unique))
    assert (stats.records, stats.added, stats.quarantined) == (5, 5, 0)
    ev = events(store)
    assert set(ev) == {str(e["id"]) for e in unique}

    order = ev["164748010"]
    assert order["time"] == dt.datetime(2008, 1, 10, 11, 0, tzinfo=UTC)  # 06:00-05:00
    assert (order["category"], order["action"], order["outcome"]) == ("admin", "confirmed", "success")
    assert order["actor"]["user"] == "Shopify"
    assert order["resource"] == {"type": "order", "id": "450789469", "owner_id": None, "record_count": None}
    assert order["message"] == "Received new order #1001 by Bob Norman."
    assert json.loads(order["raw"])["path"] == "/admin/orders/450789469"

    product = ev["365755215"]
    assert (product["action"], product["resource"]["type"], product["resource"]["id"]) == ("create", "product",
                                                                                           "632910392")
    assert ev["103105390"]["action"] == "authorization_success" and ev["103105390"]["outcome"] == "success"
    assert ev["852065041"]["action"] == "placed"


def test_api_responses_one_per_line(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    responses = [p["response"] for p in pairs()]
    stats = load(store, write_lines(tmp_path / "responses.jsonl", responses))
    all_events = fixture_events()
    counts = sum(1 for r in responses if list(r) == ["count"])
    # Each event is a record; an empty events list is none; a count response is not an event (quarantined).
    assert stats.records == len(all_events) + counts
    assert stats.added == len({e["id"] for e in all_events})
    assert stats.duplicates == len(all_events) - stats.added
    assert stats.quarantined == counts == 2
    reasons = {r for _, r in quarantine(store)}
    assert reasons == {'not a Shopify event object (no "verb" or "subject_type")'}
    # Record numbers count events: the two count responses are the last two records.
    assert [n for n, _ in quarantine(store)] == [len(all_events) + 1, len(all_events) + 2]


def test_one_pretty_printed_response_per_file(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    first = pairs()[0]["response"]
    (d / "page1.json").write_text(json.dumps(first, indent=2))
    # An array of events, gzipped, with a BOM-less leading blank line.
    second = pairs()[1]["response"]["events"]
    (d / "page2.json.gz").write_bytes(gzip.compress(("\n" + json.dumps(second, indent=1)).encode()))
    stats = load(store, d)
    assert (stats.records, stats.added, stats.duplicates, stats.quarantined) == (6, 5, 1, 0)
    assert set(events(store)) == {str(e["id"]) for e in first["events"] + second}
    # Reading the same files again adds nothing (they are re-read whole and deduplicated by Shopify id).
    again = load(store, d)
    assert again.added == 0


def test_verbs_subjects_and_broken_records(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base: dict[str, Any] = {"created_at": "2026-11-30T10:00:00-05:00", "author": "Jane Staff", "arguments": [], "body": None,
            "description": "x", "path": "/admin/x"}
    records: list[Any] = [
        {**base, "id": 1, "subject_id": 7, "subject_type": "ProductVariant", "verb": "destroy"},       # 1
        {**base, "id": 2, "subject_id": 8, "subject_type": "Order", "verb": "capture_failure"},        # 2
        {**base, "id": 3, "subject_id": 9, "subject_type": "Customer", "verb": "update",
         "body": "note: call back on +1 613 555 0142", "description": None, "message": "<b>Customer</b> updated"},
        '{"id": 4, "verb": "create"',                                                                  # 4
        ["a", [1]],                                                     # an array of events: 5 and 6
        {**base, "id": 6, "subject_type": "Order", "verb": "create", "created_at": None},              # 7
        {**base, "id": 7, "subject_type": "Order", "verb": "create", "created_at": "last tuesday"},    # 8
        {"events": [{**base, "id": 8, "subject_type": "Blog", "verb": "create"}, 42]},                 # 9, 10
        {"events": []},                                                                                # no record
        {**base, "id": 10, "subject_type": "Page", "verb": "published"},                               # 11
    ]
    stats = load(store, write_lines(tmp_path / "mixed.jsonl", records))
    assert (stats.records, stats.added, stats.quarantined) == (11, 5, 6)
    assert quarantine(store) == [
        (4, "invalid JSON"),
        (5, "not a JSON object (string)"),
        (6, "not a JSON object (array)"),
        (7, 'missing "created_at"'),
        (8, 'unparseable "created_at" (expected RFC 3339)'),
        (10, "not a JSON object (number)"),
    ]
    ev = events(store)
    assert (ev["1"]["action"], ev["1"]["resource"]["type"], ev["1"]["time"]) == (
        "delete", "product_variant", dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert (ev["2"]["action"], ev["2"]["outcome"]) == ("capture_failure", "failure")
    customer = ev["3"]
    assert customer["resource"] == {"type": "customer", "id": "9", "owner_id": "9", "record_count": None}
    assert customer["message"] == "Customer updated"  # HTML stripped when there is no description
    assert "phone" in customer["pii"]["types"]  # staff notes in the body are scanned
    assert customer["actor"]["user"] == "Jane Staff"
    assert ev["8"]["resource"]["type"] == "blog" and ev["10"]["action"] == "publish"
