"""app_json: the spec's own examples become the documented events (docs/formats/app_json.md); every `ts` encoding
is read; response bodies are scanned for PII and kept masked in raw; broken records are quarantined with a reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from connectors.sources.loader import IngestStats, load_object
from connectors.sources.locations import resolve
from connectors.sources.registry import get_parser

DATA = Path(__file__).resolve().parent / "data"
SPEC = DATA / "app_json" / "spec_examples.jsonl"
SHOPIFY = DATA / "shopify"
UTC = dt.UTC


def load(store: duckdb.DuckDBPyConnection, path: Path) -> IngestStats:
    total = IngestStats("app", "app_json")
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser("app_json"), obj, source="app"))
    return total


def events(store: duckdb.DuckDBPyConnection, order: str = "time") -> list[dict[str, Any]]:
    cur = store.execute(
        "SELECT event_id, time, category, action, outcome, tenant, actor, src, http, resource, dst, pii, message,"
        f" CAST(raw AS VARCHAR) AS raw FROM events ORDER BY {order}"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def quarantine(store: duckdb.DuckDBPyConnection) -> dict[int, str]:
    return dict(store.execute("SELECT line, reason FROM quarantine").fetchall())


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_spec_examples_golden(store: duckdb.DuckDBPyConnection) -> None:
    stats = load(store, SPEC)
    assert (stats.records, stats.added, stats.quarantined) == (3, 3, 0)
    by_action = {e["action"]: e for e in events(store)}

    api = by_action["api_request"]
    assert api["event_id"] == "app_json:req-7f3a"
    assert api["time"] == dt.datetime(2026, 11, 30, 10, 15, 2, 120000, tzinfo=UTC)
    assert (api["category"], api["outcome"], api["tenant"]) == ("app", "success", "eu-store")
    assert api["actor"]["api_client"] == "erp-sync" and api["actor"]["customer_id"] is None
    assert (api["src"]["ip"], api["src"]["country"]) == ("203.0.113.7", "DE")
    assert api["http"] == {"method": "GET", "host": "shop.example.com", "path": "/rest/V1/customers/search",
                           "query": None, "status": 200, "request_bytes": None, "response_bytes": 48211}
    assert api["resource"] == {"type": "customer", "id": None, "owner_id": None, "record_count": 50}
    assert api["dst"] is None

    # Epoch seconds; no action given: the kind's default; no http.status: no outcome.
    hook = by_action["webhook_delivery"]
    assert hook["time"] == dt.datetime(2025, 11, 30, 10, 15, 2, tzinfo=UTC)
    assert hook["event_id"].startswith("app_json:") and len(hook["event_id"]) == len("app_json:") + 32
    assert hook["outcome"] is None
    assert hook["actor"]["app"] == "loyalty-sync"
    assert hook["dst"] == {"url": "http://hooks.partner.example/orders", "host": "hooks.partner.example",
                           "scheme": "http"}
    assert hook["resource"] == {"type": "order", "id": "100000231", "owner_id": "c-1001", "record_count": None}
    # The payload is scanned, and kept in raw with the PAN masked (the email stays: see docs/event-schema.md).
    assert {"pan", "email"} <= set(hook["pii"]["types"])
    raw = json.loads(hook["raw"])
    assert "4111 1111 1111 1111" not in raw["body"] and "jane@example.com" in raw["body"]
    assert raw["kind"] == "webhook"

    view = by_action["account_view"]
    assert view["actor"]["session_id"] == "s-9" and view["actor"]["customer_id"] == "c-1001"
    assert view["resource"]["owner_id"] == "c-2002"
    assert view["pii"]["types"] == []


TS_CASES: list[tuple[object, dt.datetime]] = [
    ("2026-11-30T10:15:02Z", dt.datetime(2026, 11, 30, 10, 15, 2, tzinfo=UTC)),
    ("2026-11-30T10:15:02.5+05:30", dt.datetime(2026, 11, 30, 4, 45, 2, 500000, tzinfo=UTC)),
    ("2026-11-30T10:15:02-0800", dt.datetime(2026, 11, 30, 18, 15, 2, tzinfo=UTC)),
    ("2026-11-30 10:15:02", dt.datetime(2026, 11, 30, 10, 15, 2, tzinfo=UTC)),  # no zone: UTC
    (1764497702, dt.datetime(2025, 11, 30, 10, 15, 2, tzinfo=UTC)),
    (1764497702.25, dt.datetime(2025, 11, 30, 10, 15, 2, 250000, tzinfo=UTC)),
    (1764497702123, dt.datetime(2025, 11, 30, 10, 15, 2, 123000, tzinfo=UTC)),
    # Just above 10^11 is milliseconds (1973), not seconds (year 5138).
    (100_000_000_001, dt.datetime(1973, 3, 3, 9, 46, 40, 1000, tzinfo=UTC)),
]


def test_time_encodings(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    records = [{"ts": ts, "id": f"t{i}", "kind": "api"} for i, (ts, _) in enumerate(TS_CASES)]
    assert load(store, write_jsonl(tmp_path / "t.jsonl", records)).added == len(TS_CASES)
    got = {e["event_id"]: e["time"] for e in events(store)}
    assert got == {f"app_json:t{i}": expected for i, (_, expected) in enumerate(TS_CASES)}


def test_broken_records_are_quarantined_with_the_reason(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    lines: list[Any] = [
        {"ts": "2026-11-30T10:00:00Z", "kind": "api", "id": "ok-1"},                      # 1 good
        '{"ts": "2026-11-30T10:00:00Z", "kind": "api"',                                   # 2 truncated
        [1, 2],                                                                           # 3
        {"kind": "api"},                                                                  # 4
        {"ts": None, "kind": "api"},                                                      # 5
        {"ts": True, "kind": "api"},                                                      # 6
        {"ts": "yesterday", "kind": "api"},                                               # 7
        {"ts": "2026-11-30", "kind": "api"},                                              # 8 a date is not a time
        {"ts": 10**14, "kind": "api"},                                                    # 9 beyond year 3000
        {"ts": "2026-11-30T10:00:00Z"},                                                   # 10
        {"ts": "2026-11-30T10:00:00Z", "kind": 3},                                        # 11
        {"ts": "2026-11-30T10:00:00Z", "kind": "storefrnt"},                              # 12
        {"ts": "2026-11-30T10:00:00Z", "kind": "api", "outcome": "failed"},               # 13
        {"ts": "2026-11-30T10:00:00Z", "kind": "api", "id": "ok-2", "outcome": "Blocked"},  # 14 good
    ]
    stats = load(store, write_jsonl(tmp_path / "broken.jsonl", lines))
    assert (stats.records, stats.added, stats.duplicates, stats.quarantined) == (14, 2, 0, 12)
    assert quarantine(store) == {
        2: "invalid JSON",
        3: "not a JSON object (array)",
        4: 'missing "ts"',
        5: 'missing "ts"',
        6: '"ts" must be an RFC 3339 string or a number (epoch), got boolean',
        7: 'unparseable "ts": expected RFC 3339 date-time or epoch seconds/milliseconds',
        8: 'unparseable "ts": expected RFC 3339 date-time or epoch seconds/milliseconds',
        9: 'unparseable "ts": expected RFC 3339 date-time or epoch seconds/milliseconds',
        10: 'missing "kind"',
        11: '"kind" must be a string, got number',
        12: 'unknown "kind" (expected storefront, api, checkout, dsr, webhook or script)',
        13: 'unknown "outcome" (expected success, failure, blocked or allowed)',
    }
    assert [e["outcome"] for e in events(store, "event_id")] == [None, "blocked"]


def test_defaults_per_kind_and_outcome_from_status(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    kinds = {"storefront": "page_view", "api": "api_request", "checkout": "checkout", "dsr": "dsr_response",
             "webhook": "webhook_delivery", "script": "script_request"}
    recs = [{"ts": 1764497702 + i, "kind": k, "http": {"status": 200 + 202 * i}} for i, k in enumerate(kinds)]
    # Optional fields of the wrong type are NULL in the event (raw keeps them), the record is not lost.
    recs.append({"ts": 1764497800, "kind": "api", "action": "login", "actor": "bob", "http": {"status": "n/a"}})
    load(store, write_jsonl(tmp_path / "k.jsonl", recs))
    got = [(e["action"], e["outcome"], e["http"]["status"]) for e in events(store)]
    assert got == [("page_view", "success", 200), ("api_request", "failure", 402), ("checkout", "failure", 604),
                   ("dsr_response", "failure", 806), ("webhook_delivery", "failure", 1008),
                   ("script_request", "failure", 1210), ("login", None, None)]
    last = events(store)[-1]
    assert last["actor"]["user"] is None and json.loads(last["raw"])["actor"] == "bob"


def test_dst_host_and_scheme_from_url(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    urls = ["https://Hooks.Partner.example:8443/a?b=c", "HTTP://user:secret@198.51.100.7/x", "https://[2001:db8::1]/p",
            "not a url"]
    load(store, write_jsonl(tmp_path / "d.jsonl", [{"ts": 1764497702 + i, "kind": "script", "dst": {"url": u}}
                                                  for i, u in enumerate(urls)]))
    assert [e["dst"] for e in events(store)] == [
        {"url": "https://Hooks.Partner.example:8443/a?b=c", "host": "hooks.partner.example", "scheme": "https"},
        # Credentials in the URL are not kept in dst.
        {"url": "HTTP://198.51.100.7/x", "host": "198.51.100.7", "scheme": "http"},
        {"url": "https://[2001:db8::1]/p", "host": "[2001:db8::1]", "scheme": "https"},
        {"url": "not a url", "host": None, "scheme": None},
    ]


def _pii_keys(obj: Any) -> set[str]:
    """Which of email / phone a Shopify response carries a non-empty value for (read from the fixture itself)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("email", "contact_email", "phone") and isinstance(v, str) and v.strip():
                found.add("phone" if k == "phone" else "email")
            found |= _pii_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _pii_keys(v)
    return found


def test_shopify_fixture_bodies_register_email_and_phone(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    pairs = json.loads((SHOPIFY / "shopify_api_ruby_customer_fixtures_2026_07.json").read_text())
    pairs += json.loads((SHOPIFY / "shopify_api_ruby_order_fixtures_2026_07.subset.json").read_text())
    records = []
    for i, pair in enumerate(pairs):
        url = urlsplit(pair["url"])
        records.append({"ts": 1764497702 + i, "id": f"resp-{i}", "kind": "api",
                        "http": {"method": pair["method"], "host": url.hostname, "path": url.path,
                                 "query": url.query or None, "status": pair["status"]},
                        "body": json.dumps(pair["response"])})
    stats = load(store, write_jsonl(tmp_path / "bodies.jsonl", records))
    assert stats.added == len(pairs)
    by_id = {e["event_id"]: e for e in events(store)}
    with_email = with_phone = 0
    for i, pair in enumerate(pairs):
        expected = _pii_keys(pair["response"])
        ev = by_id[f"app_json:resp-{i}"]
        assert expected <= set(ev["pii"]["types"]), pair["url"]
        assert json.loads(ev["raw"])["body"] == records[i]["body"]  # no PAN/secret here: kept as sent
        with_email += "email" in expected
        with_phone += "phone" in expected
    assert with_email >= 20 and with_phone >= 15  # the fixtures really exercise both kinds
    # Responses without personal data (counts) register none.
    counts = [i for i, pair in enumerate(pairs) if list(pair["response"]) == ["count"]]
    assert counts and all(by_id[f"app_json:resp-{i}"]["pii"]["types"] == [] for i in counts)
