"""Magento: the Action Log (CSV export and the three tables as JSON lines) and var/log/*.log become the documented
events (docs/formats/magento_action_log.md, docs/formats/magento_log.md); multi-line entries stay whole across
chunk boundaries; broken records are quarantined with their reason and line."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.sources import framing
from connectors.sources.loader import IngestStats, load_object
from connectors.sources.locations import resolve
from connectors.sources.parsers import magento_log
from connectors.sources.registry import get_parser

DATA = Path(__file__).resolve().parent / "data" / "magento"
UTC = dt.UTC


def load(store: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> IngestStats:
    total = IngestStats("m2", fmt)
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser(fmt), obj, source="m2"))
    return total


def events(store: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = store.execute("SELECT event_id, time, category, action, outcome, actor, src, resource, pii, message,"
                        " CAST(raw AS VARCHAR) AS raw FROM events ORDER BY time, event_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def quarantine(store: duckdb.DuckDBPyConnection) -> list[tuple[int | None, str]]:
    return [(r[0], r[1]) for r in store.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()]


def summary(e: dict[str, Any]) -> tuple[Any, ...]:
    r = e["resource"] or {}
    return (e["action"], e["outcome"], r.get("type"), r.get("id"), r.get("record_count"))


# --- Action Log: CSV export -----------------------------------------------------------------------------------


def test_action_log_csv_export_golden(store: duckdb.DuckDBPyConnection) -> None:
    path = DATA / "action_log_export.csv"
    stats = load(store, path, "magento_action_log")
    # Two identical export rows (same second, same everything) are two actions, not a duplicate.
    assert (stats.records, stats.added, stats.duplicates, stats.quarantined) == (9, 9, 0, 0)
    ev = events(store)
    assert [summary(e) for e in ev] == [
        ("login", "failure", "admin_user", None, None),
        ("login", "success", "admin_user", None, None),
        ("view", "success", "customer", "1001", 1),
        ("export", "success", "customer", None, 1500),
        ("export", "success", "customer", None, 1500),
        ("mass_update", "success", "sales_order", None, 3),
        ("role_change", "success", "admin_user", "12", 1),
        ("role_change", "success", "admin_role", None, None),
        ("delete", "failure", "sales_order", "100000240", 1),
    ]
    first = ev[0]
    assert first["time"] == dt.datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)
    assert first["category"] == "admin"
    assert (first["actor"]["user"], first["src"]["ip"]) == ("mallory", "203.0.113.9")
    assert ev[2]["resource"]["owner_id"] == "1001"  # a customer record viewed: whose data it is
    # raw is the CSV row as an object; a quoted Details field that spans two lines is kept whole.
    role = json.loads(ev[7]["raw"])
    assert role["Full Action Name"] == "adminhtml_user_role_saverole"
    assert role["Details"] == 'Role "Support": added Magento_Customer::manage,\nMagento_Sales::actions_view'
    # The export has no ids: the same file read again (it is re-read whole) gives the same ids.
    store.execute("DELETE FROM ingest_files")
    again = load(store, path, "magento_action_log")
    assert (again.added, again.duplicates) == (0, 9)


def test_action_log_csv_broken_rows(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rows = (DATA / "action_log_export.csv").read_text().splitlines(keepends=True)
    text = "".join([
        "\ufeff", rows[0],              # 1 header, with the BOM Excel adds
        rows[1],                        # 2
        '"Nov 30, 2026, 9:00:06 AM","Customers","View"\n',  # 3 too few fields
        rows[2],                        # 4
        '"sometime","Customers","View","203.0.113.9","mallory","Success","customer_index_edit","1"\n',  # 5
        '"","Customers","View","203.0.113.9","mallory","Success","customer_index_edit","1"\n',  # 6
        rows[3].replace("9:02:41 AM", "9:02:41\u202fAM"),  # 7 ICU 72+ narrow no-break space before AM
    ])
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    stats = load(store, path, "magento_action_log")
    assert (stats.records, stats.added, stats.quarantined) == (6, 3, 3)  # the header is not a record
    q = quarantine(store)
    assert q[0] == (3, "unreadable CSV row (missing columns: expected number of columns: 8 found: 3)")
    assert q[1:3] == [(5, 'unparseable "Time"'), (6, 'missing "Time"')]
    assert [e["time"] for e in events(store)][-1] == dt.datetime(2026, 11, 30, 9, 2, 41, tzinfo=UTC)


# --- Action Log: table rows as JSON lines ----------------------------------------------------------------------


def test_magento_logging_event_rows_golden(store: duckdb.DuckDBPyConnection) -> None:
    stats = load(store, DATA / "magento_logging_event.jsonl", "magento_action_log")
    assert (stats.records, stats.added, stats.quarantined) == (10, 10, 0)
    ev = events(store)
    assert [e["event_id"] for e in ev] == [f"magento_action_log:event:{i}" for i in range(5001, 5011)]
    assert [summary(e) for e in ev] == [
        ("login", "failure", "admin_user", None, None),
        ("login", "success", "admin_user", None, None),
        ("export", "success", "customer", None, 4),          # info = the exported ids
        ("export", "success", "sales_order", None, 1500),    # info = a count
        ("role_change", "success", "admin_user", "12", 1),
        ("role_change", "success", "admin_role", "3", 1),
        ("user_create", "success", "admin_user", None, None),
        ("permission_grant", "success", "integration", "4", 1),
        ("delete", "success", "sales_order", None, 2),
        ("view", "success", "customer", "1001", 1),
    ]
    # ip2long (unsigned and signed) and dotted forms; x_forwarded_ip, when set, is the client.
    assert [e["src"]["ip"] for e in ev[:3]] == ["203.0.113.9", "198.51.100.23", "203.0.113.9"]
    assert ev[0]["time"] == dt.datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC)
    assert (ev[0]["actor"]["user"], ev[0]["actor"]["user_id"]) == ("mallory", "7")
    assert "The account sign-in was incorrect" in ev[0]["message"]


def test_login_as_customer_and_admin_sessions(store: duckdb.DuckDBPyConnection) -> None:
    load(store, DATA / "magento_login_as_customer_log.jsonl", "magento_action_log")
    load(store, DATA / "admin_user_session.jsonl", "magento_action_log")
    ev = {e["event_id"].removeprefix("magento_action_log:"): e for e in events(store)}
    lac = ev["login_as_customer:31"]
    assert (lac["action"], lac["category"], lac["time"]) == ("login_as_customer", "admin",
                                                             dt.datetime(2026, 11, 30, 9, 10, tzinfo=UTC))
    assert (lac["actor"]["user"], lac["actor"]["user_id"]) == ("mallory", "7")
    assert lac["resource"] == {"type": "customer", "id": "1001", "owner_id": "1001", "record_count": 1}
    assert "email" in lac["pii"]["types"]  # the customer's email is in the message

    sessions = {k: v for k, v in ev.items() if k.startswith("admin_session:")}
    assert {k: (v["action"], v["outcome"], v["src"]["ip"]) for k, v in sessions.items()} == {
        "admin_session:210:1:2026-11-30 09:12:30": ("admin_session", "logged_in", "203.0.113.9"),
        "admin_session:209:2:2026-11-30 09:00:17": ("admin_session", "logged_out_by_login", "198.51.100.23"),
        "admin_session:208:3:2026-11-29 18:30:00": ("admin_session", "logged_out_manually", "2001:db8::7"),
        "admin_session:207:0:2026-11-29 12:00:00": ("admin_session", "logged_out", "203.0.113.40"),
    }
    s = sessions["admin_session:209:2:2026-11-30 09:00:17"]
    assert s["time"] == dt.datetime(2026, 11, 30, 9, 0, 17, tzinfo=UTC)  # updated_at: when it reached this status
    assert (s["actor"]["user_id"], s["actor"]["session_id"], s["resource"]["id"]) == ("7", "209", "209")


def test_action_log_json_lines_broken(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    good = (DATA / "magento_logging_event.jsonl").read_text().splitlines()[0]
    lines = [
        good,                                                                              # 1
        '{"log_id": 9, "event_code": "customer"',                                          # 2
        '"just a string"',                                                                 # 3
        '{"foo": 1}',                                                                      # 4
        '{"log_id": 9, "event_code": "customer", "action": "view"}',                       # 5
        '{"log_id": 9, "event_code": "customer", "action": "view", "time": "soon"}',       # 6
        '{"id": 5, "user_id": 1, "status": 7, "created_at": "2026-11-30 08:00:00", "updated_at": "2026-11-30 09:00:00"}',
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    stats = load(store, path, "magento_action_log")
    assert (stats.records, stats.added, stats.quarantined) == (7, 1, 6)
    assert quarantine(store) == [
        (2, "invalid JSON"),
        (3, "not a JSON object (string)"),
        (4, "not a Magento action log record: expected an Action Logs CSV row or a magento_logging_event, "
            "magento_login_as_customer_log or admin_user_session row"),
        (5, 'missing "time"'),
        (6, 'unparseable "time"'),
        (7, 'admin_user_session "status" must be 0, 1, 2 or 3'),
    ]


# --- var/log/*.log ---------------------------------------------------------------------------------------------


def entry_starts(text: str) -> list[int]:
    """Line numbers where a Monolog entry starts, read independently of the parser (`[20..-..-..`)."""
    return [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("[20") and line[5:6] == "-"]


def test_system_log_golden(store: duckdb.DuckDBPyConnection) -> None:
    path = DATA / "system.log"
    stats = load(store, path, "magento_log")
    assert (stats.records, stats.added, stats.quarantined) == (8, 8, 0)
    ev = events(store)
    assert [(e["time"], e["outcome"], json.loads(e["raw"])["level"]) for e in ev] == [
        (dt.datetime(2017, 11, 15, 10, 4, 29, tzinfo=UTC), "success", "INFO"),  # no zone in 2.2 logs: UTC
        (dt.datetime(2018, 1, 11, 9, 29, 22, tzinfo=UTC), "failure", "CRITICAL"),
        (dt.datetime(2018, 1, 11, 9, 29, 22, tzinfo=UTC), "failure", "CRITICAL"),  # logged twice: two events
        (dt.datetime(2019, 6, 3, 21, 14, 7, tzinfo=UTC), "failure", "CRITICAL"),
        (dt.datetime(2023, 3, 15, 16, 50, 14, 913747, tzinfo=UTC), "failure", "CRITICAL"),
        (dt.datetime(2023, 3, 15, 16, 52, 40, 100200, tzinfo=UTC), "failure", "ERROR"),
        (dt.datetime(2023, 3, 15, 16, 52, 41, tzinfo=UTC), "success", "DEBUG"),
        (dt.datetime(2024, 2, 1, 7, 0, 0, 1, tzinfo=UTC), "success", "WARNING"),
    ]
    assert {(e["category"], e["action"]) for e in ev} == {("app", "log")}
    pdo = ev[4]
    raw = json.loads(pdo["raw"])
    assert (raw["channel"], raw["exception"]) == ("main", "PDOException")
    assert pdo["message"].startswith("[2023-03-15T16:50:14.913747+00:00] main.CRITICAL: PDOException: SQLSTATE")
    assert pdo["message"].count("\n") == 5 and pdo["message"].endswith("#3 {main} [] []")
    assert json.loads(ev[3]["raw"])["channel"] == "report"
    assert json.loads(ev[1]["raw"])["exception"] == "Exception"
    # A PAN written to the log is found and masked.
    card = ev[5]
    assert "pan" in card["pii"]["types"]
    assert "4111 1111 1111 1111" not in card["message"] and "4111 1111 1111 1111" not in card["raw"]


def frame_log(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(get_parser("magento_log").frame(f))


@pytest.mark.parametrize("chunk", [7, 64, 300])
def test_entries_stay_whole_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    path = DATA / "system.log"
    text = path.read_text()
    monkeypatch.setattr(framing, "CHUNK_BYTES", chunk)
    batches = frame_log(path)
    assert len(batches) > 1
    got = [r for b in batches for r in b.records.to_pylist()]
    assert [r["rec_no"] for r in got] == entry_starts(text)
    raw = path.read_bytes()
    assert all(raw[r["byte_offset"]:].startswith(r["text"].split("\n", 1)[0].encode()) for r in got)
    # Joined back, the entries are the file (blank lines are not part of any entry).
    assert "\n".join(r["text"] for r in got) == "\n".join(line for line in text.splitlines() if line.strip())
    assert batches[-1].end_offset == len(raw) and batches[-1].next_rec_no == len(text.splitlines()) + 1
    # Each batch ends where the next one starts, so a resumed read neither skips nor repeats a line.
    assert all(a.end_offset == b.records["byte_offset"][0].as_py() for a, b in itertools.pairwise(batches)
               if b.records.num_rows)


def test_loader_accounting_with_entries_carried_between_batches(
    store: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framing, "CHUNK_BYTES", 1024)
    assert len(frame_log(DATA / "system.log")) >= 2
    stats = load(store, DATA / "system.log", "magento_log")
    assert (stats.records, stats.added, stats.quarantined) == (8, 8, 0)
    assert store.execute("SELECT max(length(message) - length(replace(message, chr(10), ''))) FROM events"
                         ).fetchone()[0] == 5  # type: ignore[index]  # the stack trace is still one entry


def test_text_before_the_first_entry_and_bad_headers(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    log = "\n".join([
        "#4 /var/www/shop/pub/index.php(30): Magento\\Framework\\App\\Bootstrap->run()",  # 1: tail of an entry
        "#5 {main} [] []",                                                                 # 2
        "[2023-03-15T16:50:14.913747+00:00] main.INFO: fine [] []",                        # 3
        "[2023-13-45 25:61:00] main.INFO: impossible date [] []",                          # 4
        "  continuation of the bad one",                                                   # 5
        "[2023-03-15T16:50:15.000000+00:00] main.INFO: fine again [] []",                  # 6
    ]) + "\n"
    path = tmp_path / "system.log"
    path.write_text(log)
    stats = load(store, path, "magento_log")
    assert (stats.records, stats.added, stats.quarantined) == (4, 2, 2)
    assert quarantine(store) == [
        (1, 'text before the first log entry (no "[time] channel.LEVEL:" header): the tail of an entry from an '
            "earlier file or chunk, or not a Monolog log"),
        (4, 'unparseable entry time "[2023-13-45 25:61:00]"'),
    ]
    text = store.execute("SELECT raw_text FROM quarantine WHERE line = 4").fetchone()[0]  # type: ignore[index]
    assert text.endswith("continuation of the bad one")


def test_grown_log_is_resumed_and_gzip_is_read(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    entries = (DATA / "system.log").read_text().splitlines(keepends=True)
    path = tmp_path / "system.log"
    path.write_text("".join(entries[:4]))
    assert load(store, path, "magento_log").added == 4
    with path.open("a") as f:
        f.write("".join(entries[4:]))
    grown = load(store, path, "magento_log")
    assert (grown.records, grown.added, grown.duplicates, grown.quarantined) == (4, 4, 0, 0)
    gz = tmp_path / "old" / "system.log.1.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress("".join(entries).encode()))
    rotated = load(store, gz, "magento_log")
    assert (rotated.records, rotated.added, rotated.duplicates) == (8, 0, 8)


def test_runaway_entry_is_cut_and_nothing_is_lost(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = ["[2023-03-15T16:50:14.913747+00:00] main.CRITICAL: boom"] + [f"#{i} frame" for i in range(200)]
    lines.append("[2023-03-15T16:50:15.000000+00:00] main.INFO: after [] []")
    path = tmp_path / "system.log"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(framing, "CHUNK_BYTES", 256)
    with path.open("rb") as f:
        batches = list(magento_log.frame_entries(f, max_entry_bytes=1024))
    got = [r for b in batches for r in b.records.to_pylist()]
    # The over-long entry is cut; what follows the cut is a record without a header (quarantined by the SQL,
    # see test_text_before_the_first_entry_and_bad_headers); every line is in exactly one record.
    assert 3 <= len(got) < 10
    assert got[0]["text"].startswith("[2023-03-15T16:50:14") and got[-1]["text"] == lines[-1]
    assert not any(r["text"].startswith("[") for r in got[1:-1])
    assert "\n".join(r["text"] for r in got) == "\n".join(lines)
    assert [r["rec_no"] for r in got] == sorted({r["rec_no"] for r in got})
