"""The loader's promises: nothing lost (records = added + duplicates + quarantined), idempotent re-reads,
grown files resumed, rotated files re-read, broken input quarantined with a reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from connectors.sources.loader import IngestStats, load_object
from connectors.sources.locations import resolve
from connectors.sources.registry import get_parser


def waf_record(i: int, *, ts: int = 1_764_500_000_000, **over: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "timestamp": ts + i,
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shop-prod/abc",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "terminatingRuleMatchDetails": [],
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": f"198.51.100.{i % 250}",
            "country": "DE",
            "headers": [{"name": "Host", "value": "shop.example.com"}, {"name": "User-Agent", "value": "ua"}],
            "uri": f"/catalog/{i}",
            "args": "",
            "httpMethod": "GET",
            "requestId": f"req-{i}",
        },
    }
    rec.update(over)
    return rec


def line(rec: object) -> bytes:
    return json.dumps(rec).encode() + b"\n"


def load(store: duckdb.DuckDBPyConnection, path: Path, fmt: str = "aws_waf") -> IngestStats:
    total = IngestStats("test", fmt)
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser(fmt), obj, source="test"))
    return total


def counts(store: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    events = store.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    quarantined = store.execute("SELECT count(*) FROM quarantine").fetchone()[0]  # type: ignore[index]
    return events, quarantined


def test_mixed_good_and_broken_input_loses_nothing(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    good = b"".join(line(waf_record(i)) for i in range(50))
    dup_lines = line(waf_record(3)) + line(waf_record(4))  # same requestId + timestamp: duplicates
    broken = b"".join([
        b'{"timestamp": 1764500000000, "action": "ALLOW"\n',                    # bad JSON (truncated)
        b"[1, 2, 3]\n",                                                           # not an object
        line({k: v for k, v in waf_record(900).items() if k != "timestamp"}),    # missing time
        line(waf_record(901, timestamp="yesterday")),                            # wrong type for time
        b'{"timestamp": 1764500000000, "action": "\xff\xfe"}\n',                 # invalid UTF-8
        line(waf_record(902, httpRequest={"uri": "x" * 1_100_000, "requestId": "huge"})),  # 1 MB field
    ])
    (d / "a.jsonl").write_bytes(good + dup_lines + broken)
    truncated = gzip.compress(b"".join(line(waf_record(i)) for i in range(100, 400)))
    (d / "b.jsonl.gz").write_bytes(truncated[: len(truncated) // 2])
    (d / "empty.jsonl").write_bytes(b"")
    (d / "blank.jsonl").write_bytes(b"\n\n   \n")

    stats = load(store, d)
    events, quarantined = counts(store)
    assert stats.records == stats.added + stats.duplicates + stats.quarantined
    assert (stats.added, stats.quarantined) == (events, quarantined)
    assert stats.duplicates == 2
    # a.jsonl: 50 good + the 1 MB record; b.jsonl.gz: every complete line before the damage
    partial = store.execute("SELECT count(*) FROM events WHERE event_id LIKE 'aws_waf:req-1__@%' "
                            "OR event_id LIKE 'aws_waf:req-2__@%' OR event_id LIKE 'aws_waf:req-3__@%'").fetchone()[0]  # type: ignore[index]
    assert 0 < partial < 300
    assert events == 51 + partial
    reasons = dict(store.execute("SELECT line, reason FROM quarantine WHERE location LIKE '%a.jsonl'").fetchall())
    assert reasons[53] == "invalid JSON"
    assert reasons[54] == "not a JSON object (array)"
    assert "timestamp" in reasons[55] and "timestamp" in reasons[56]
    assert reasons[57].startswith("invalid UTF-8")
    gz_reason = store.execute("SELECT reason FROM quarantine WHERE location LIKE '%b.jsonl.gz'").fetchall()
    assert len(gz_reason) == 1 and "truncated gzip" in gz_reason[0][0]
    huge = store.execute("SELECT length(http.path) FROM events WHERE event_id LIKE 'aws_waf:huge@%'").fetchone()
    assert huge == (1_100_000,)


def test_rereading_adds_nothing_and_grown_file_resumes(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = tmp_path / "waf.jsonl"
    f.write_bytes(b"".join(line(waf_record(i)) for i in range(10)))
    first = load(store, f)
    assert (first.records, first.added) == (10, 10)
    again = load(store, f)
    assert (again.records, again.added, again.files_skipped) == (0, 0, 1)
    with f.open("ab") as out:
        out.write(b"".join(line(waf_record(i)) for i in range(10, 15)))
    grown = load(store, f)
    assert (grown.records, grown.added, grown.duplicates) == (5, 5, 0)  # only the new bytes were read
    assert counts(store) == (15, 0)
    lines = store.execute("SELECT max(line) FROM quarantine").fetchone()
    assert lines == (None,)


def test_rotated_file_is_reread_and_deduplicated(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = tmp_path / "waf.jsonl"
    f.write_bytes(b"".join(line(waf_record(i)) for i in range(10)))
    load(store, f)
    # Replaced by a new file whose head differs (log rotation): read from the start, old records are duplicates.
    f.write_bytes(b"".join(line(waf_record(i)) for i in [99, *range(10), 100]))
    stats = load(store, f)
    assert (stats.records, stats.added, stats.duplicates) == (12, 2, 10)


def test_same_records_in_two_files_are_stored_once(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    body = b"".join(line(waf_record(i)) for i in range(20))
    (tmp_path / "one.jsonl").write_bytes(body)
    (tmp_path / "two.jsonl.gz").write_bytes(gzip.compress(body))
    stats = load(store, tmp_path)
    assert (stats.records, stats.added, stats.duplicates) == (40, 20, 20)


def test_gzip_file_read_before_is_skipped(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "w.jsonl.gz").write_bytes(gzip.compress(b"".join(line(waf_record(i)) for i in range(20))))
    assert load(store, tmp_path).added == 20
    again = load(store, tmp_path)
    assert (again.records, again.files_skipped) == (0, 1)


def test_source_tenant_fills_records_without_one(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from breachline.config import SourceConfig
    from connectors.sources.ingest import ingest_source

    (tmp_path / "system.log").write_text("[2026-11-01T09:29:22.913747+00:00] main.INFO: cache flushed [] []\n")
    ingest_source(store, SourceConfig("logs", "magento_log", str(tmp_path), tenant="eu-store"))
    assert store.execute("SELECT tenant FROM events").fetchall() == [("eu-store",)]


def test_pan_in_a_record_is_masked_before_it_is_stored(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rec = waf_record(1)
    rec["httpRequest"]["args"] = "card=4111111111111111&email=jane@example.com"  # type: ignore[index]
    (tmp_path / "w.jsonl").write_bytes(line(rec))
    load(store, tmp_path)
    raw, pii = store.execute("SELECT CAST(raw AS VARCHAR), pii FROM events").fetchone()  # type: ignore[misc]
    assert "4111111111111111" not in raw and "411111" in raw and "1111" in raw
    assert "pan" in pii["types"] and "email" in pii["types"]
    assert store.execute("SELECT count(*) FROM events WHERE CAST(raw AS VARCHAR) LIKE '%4111111111111111%'"
                         ).fetchone() == (0,)
    query = store.execute("SELECT http.query FROM events").fetchone()[0]  # type: ignore[index]
    assert "4111111111111111" not in query and "card=411111" in query


def test_missing_location_is_a_clear_error(tmp_path: Path) -> None:
    from breachline.errors import SourceError

    with pytest.raises(SourceError, match="no such file"):
        resolve(str(tmp_path / "nope" / "waf.jsonl"))
