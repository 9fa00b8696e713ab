"""Blind spots (silent sources), retention, and the record of pipeline runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from breachline.config import SourceConfig, parse_config
from breachline.pipeline import finish_run, ingest_step, start_run
from breachline.retention import apply_retention
from breachline.store import open_store
from correlators.blindspots import PLAYBOOK_ID, find_silent_sources, raise_silence_alerts
from tests.test_ingest_loader import line, waf_record

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def watermark(con: duckdb.DuckDBPyConnection, source: str, last_data: dt.datetime | None,
              first_run: dt.datetime) -> None:
    con.execute("INSERT INTO source_watermarks (source, last_data_at, last_run_at, first_run_at)"
                " VALUES (?, ?, ?, ?)", [source, last_data, first_run, first_run])


def test_a_source_silent_past_its_limit_raises_one_alert(store: duckdb.DuckDBPyConnection) -> None:
    sources = [SourceConfig("waf", "aws_waf", "/x", max_silence_seconds=1800),
               SourceConfig("app", "app_json", "/y", max_silence_seconds=1800),
               SourceConfig("never", "app_json", "/z", max_silence_seconds=3600),
               SourceConfig("unwatched", "app_json", "/w")]
    watermark(store, "waf", NOW - dt.timedelta(minutes=31), NOW - dt.timedelta(days=3))
    watermark(store, "app", NOW - dt.timedelta(minutes=29), NOW - dt.timedelta(days=3))
    watermark(store, "never", None, NOW - dt.timedelta(minutes=61))
    watermark(store, "unwatched", None, NOW - dt.timedelta(days=30))

    silent = find_silent_sources(store, sources, NOW)
    assert sorted(s.source for s in silent) == ["never", "waf"]
    assert raise_silence_alerts(store, silent, NOW) == 2
    # The next run, still silent, finds the same alerts: no new alert, so no second incident.
    later = NOW + dt.timedelta(seconds=30)
    assert raise_silence_alerts(store, find_silent_sources(store, sources, later), later) == 0
    rows = store.execute("SELECT playbook_id, severity, group_values, title FROM alerts ORDER BY title").fetchall()
    assert [json.loads(r[2]) for r in rows] == [{"source": "never"}, {"source": "waf"}]
    assert all(r[0] == PLAYBOOK_ID and r[1] == "high" for r in rows)
    assert "No events from source waf for 31m (max_silence 30m)" in rows[1][3]


def test_ingest_step_detects_silence_of_a_source_with_no_new_files(tmp_path: Path) -> None:
    logs = tmp_path / "waf"
    logs.mkdir()
    (logs / "a.jsonl").write_bytes(b"".join(line(waf_record(i)) for i in range(3)))
    config = parse_config({"database": {"path": str(tmp_path / "s.duckdb")},
                           "sources": [{"name": "waf", "format": "aws_waf", "location": str(logs),
                                        "max_silence": "30m"}]}, None)
    first = ingest_step(config)
    assert first.stats[0].added == 3 and first.silent == []
    with open_store(config.db_path) as con:  # pretend the data arrived an hour ago
        con.execute("UPDATE source_watermarks SET last_data_at = now() - INTERVAL 1 HOUR")
    second = ingest_step(config)
    assert second.stats[0].records == 0
    assert [s.source for s in second.silent] == ["waf"]
    with open_store(config.db_path) as con:
        assert con.execute("SELECT count(*) FROM alerts WHERE playbook_id = 'source-silent'").fetchone() == (1,)


def test_retention_deletes_old_events_and_quarantine_only(store: duckdb.DuckDBPyConnection) -> None:
    for i, age in enumerate([1, 29, 31, 90]):
        store.execute("INSERT INTO events (event_id, time, ingested_at, source, source_format, category)"
                      " VALUES (?, ?, ?, 's', 'app_json', 'app')", [f"e{i}", NOW - dt.timedelta(days=age), NOW])
        store.execute("INSERT INTO quarantine VALUES ('s', 'app_json', 'f', 1, 0, 'bad', 'x', ?)",
                      [NOW - dt.timedelta(days=age)])
    store.execute("INSERT INTO alerts (alert_id, playbook_id, playbook_version, severity, group_values, dedup_key,"
                  " first_seen, last_seen, event_count, event_ids, title, created_at) VALUES ('a', 'p', 1, 'high',"
                  " '{}', 'k', ?, ?, 1, ['e3'], 't', ?)", [NOW - dt.timedelta(days=90)] * 3)
    deleted = apply_retention(store, {"events": 30, "quarantine": 7}, NOW)
    assert deleted == {"events": 2, "quarantine": 3}
    assert {r[0] for r in store.execute("SELECT event_id FROM events").fetchall()} == {"e0", "e1"}
    assert store.execute("SELECT count(*) FROM alerts").fetchone() == (1,)


@pytest.mark.parametrize(("previous_minutes_ago", "expect_gap"), [(4, False), (11, True)])
def test_a_gap_in_the_schedule_is_recorded(tmp_path: Path, previous_minutes_ago: int, expect_gap: bool) -> None:
    config = parse_config({"database": {"path": str(tmp_path / "s.duckdb")}}, None)
    assert start_run(config, "r1", dt.timedelta(minutes=5)) is None
    with open_store(config.db_path) as con:
        con.execute("UPDATE pipeline_runs SET started_at = now() - to_minutes(?::BIGINT)", [previous_minutes_ago])
    finish_run(config, "r1", "completed", {"ingest": []})
    gap = start_run(config, "r2", dt.timedelta(minutes=5))
    assert (gap is not None) == expect_gap
    if gap is not None:
        assert 11 * 60 <= gap < 12 * 60
    with open_store(config.db_path) as con:
        rows = con.execute("SELECT run_id, status FROM pipeline_runs ORDER BY run_id").fetchall()
    assert rows == [("r1", "completed"), ("r2", "running")]
