"""cloudflare_firewall: Logpush firewall_events records become events with the documented fields
(docs/formats/cloudflare_firewall.md); every Datetime encoding Logpush writes is read; broken records are quarantined
with their reason."""

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

DATA = Path(__file__).resolve().parent / "data" / "waf"
PANTHER = DATA / "cloudflare_panther_firewall.jsonl"
UTC = dt.UTC


def load(store: duckdb.DuckDBPyConnection, path: Path) -> IngestStats:
    total = IngestStats("cf", "cloudflare_firewall")
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser("cloudflare_firewall"), obj, source="cf"))
    return total


def events(store: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Stored events by RayID (the part of event_id before the first colon, after the format prefix)."""
    cur = store.execute(
        "SELECT event_id, time, category, action, outcome, tenant, src, http, waf, message, raw FROM events"
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {r["event_id"].split(":")[1]: r for r in rows}


def quarantine(store: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in store.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()]


def panther_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in PANTHER.read_text().splitlines()]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_panther_firewall_events_golden(store: duckdb.DuckDBPyConnection) -> None:
    stats = load(store, PANTHER)
    # The first two Panther tests are one request (same RayID, RuleID, MatchIndex and second) logged with a
    # different Action: one event, the second record counts as its duplicate.
    assert (stats.records, stats.added, stats.duplicates, stats.quarantined) == (6, 5, 1, 0)
    ev = events(store)
    assert set(ev) == {"7090a9da88e333d8", "708174c00f61faa8", "8e5c2da581234abc", "9f6d3eb692345cde",
                       "1a7e4fc703456def"}

    ddos = ev["7090a9da88e333d8"]
    assert ddos["event_id"] == "cloudflare_firewall:7090a9da88e333d8:ed651449c4a54f4b99c6e3bf863134d5:0@1652164617"
    assert ddos["time"] == dt.datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC)
    assert (ddos["category"], ddos["action"], ddos["outcome"], ddos["tenant"]) == ("waf", "skip", "allowed", None)
    assert ddos["src"] == {"ip": "127.0.0.1", "country": "IN", "asn": "55836",
                           "user_agent": "Fuzz Faster U Fool v1.3.1-dev"}
    assert ddos["http"] == {"method": "GET", "host": "example.com", "path": "/main.php", "query": None,
                            "status": 403, "request_bytes": None, "response_bytes": None}
    assert ddos["waf"] == {"rule_id": "ed651449c4a54f4b99c6e3bf863134d5", "rule_group": "l7ddos", "action": "skip",
                           "attack": "rate_limit", "labels": []}
    assert ddos["message"] == (
        "Cloudflare skip by l7ddos rule ed651449c4a54f4b99c6e3bf863134d5: GET example.com/main.php"
    )
    assert json.loads(ddos["raw"])["Metadata"] == {"dos-source": "dosd-edge"}

    managed = ev["708174c00f61faa8"]
    assert (managed["action"], managed["outcome"]) == ("block", "blocked")
    assert managed["waf"]["rule_group"] == "firewallmanaged"
    assert managed["waf"]["attack"] == "other"  # a managed rule without Description says nothing about the attack
    assert managed["src"]["user_agent"].startswith("Mozilla/5.0 (Windows NT 6.4; WOW64)")

    upload = ev["8e5c2da581234abc"]
    assert upload["time"] == dt.datetime(2025, 12, 16, 10, 30, tzinfo=UTC)
    assert upload["src"] == {"ip": "1.2.3.4", "country": "US", "asn": "13335",
                             "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"}
    assert upload["http"]["method"] == "POST" and upload["http"]["path"] == "/api/upload"
    assert upload["waf"]["rule_id"] == "33aa8a8a948b48b28d40450c5fb92fba"

    search = ev["9f6d3eb692345cde"]
    assert search["http"] == {"method": "GET", "host": "example.org", "path": "/search", "query": "q=malicious",
                              "status": 403, "request_bytes": None, "response_bytes": None}
    assert search["src"]["country"] == "CN"
    assert search["src"]["user_agent"] == "python-requests/2.28.0"

    root = ev["1a7e4fc703456def"]
    assert root["time"] == dt.datetime(2025, 12, 16, 12, 0, tzinfo=UTC)
    assert root["http"]["path"] == "/"


def test_http_requests_records_are_not_firewall_events(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # Panther's Cloudflare.HttpRequest samples (the http_requests dataset) in a firewall_events stream.
    mixed = (DATA / "cloudflare_panther_http_requests.jsonl").read_text() + PANTHER.read_text().splitlines()[2]
    (tmp_path / "mixed.jsonl").write_text(mixed + "\n")
    stats = load(store, tmp_path / "mixed.jsonl")
    assert (stats.records, stats.added, stats.quarantined) == (3, 1, 2)
    assert quarantine(store) == [(1, 'missing "Datetime"'), (2, 'missing "Datetime"')]


# Logpush timestamp_format rfc3339 / unix / unixnano, the same as strings, and what SIEMs re-emit.
DATETIME_ENCODINGS: list[tuple[str, object, dt.datetime]] = [
    ("rfc3339", "2022-05-10T06:36:57Z", dt.datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC)),
    ("rfc3339 with offset and fraction", "2022-05-10T08:36:57.25+02:00",
     dt.datetime(2022, 5, 10, 6, 36, 57, 250000, tzinfo=UTC)),
    ("rfc3339 nanoseconds", "2022-05-10T06:36:57.123456789Z", dt.datetime(2022, 5, 10, 6, 36, 57, 123456, tzinfo=UTC)),
    ("unix seconds", 1652164617, dt.datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC)),
    ("unix seconds as a string", "1652164617", dt.datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC)),
    ("unixnano", 1652164617123456789, dt.datetime(2022, 5, 10, 6, 36, 57, 123456, tzinfo=UTC)),
    ("unixnano as a string", "1652164617987654321", dt.datetime(2022, 5, 10, 6, 36, 57, 987654, tzinfo=UTC)),
    ("unix milliseconds", 1652164617250, dt.datetime(2022, 5, 10, 6, 36, 57, 250000, tzinfo=UTC)),
    ("no zone (Panther): UTC", "2022-05-10 06:36:57", dt.datetime(2022, 5, 10, 6, 36, 57, tzinfo=UTC)),
]


def test_datetime_encodings(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base = panther_records()[2]
    recs = [base | {"RayID": f"ray{n:02d}", "Datetime": value} for n, (_, value, _) in enumerate(DATETIME_ENCODINGS)]
    stats = load(store, write_jsonl(tmp_path / "fw.jsonl", recs))
    assert (stats.added, stats.quarantined) == (len(recs), 0)
    ev = events(store)
    for n, (encoding, _, expected) in enumerate(DATETIME_ENCODINGS):
        assert ev[f"ray{n:02d}"]["time"] == expected, encoding
        # Whole seconds in the id: one event logged by jobs with different timestamp_format is one event.
        assert ev[f"ray{n:02d}"]["event_id"].endswith(f"@{int(expected.timestamp())}"), encoding


def test_one_event_whatever_the_timestamp_format(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rec = panther_records()[2]
    variants = [rec | {"Datetime": "2022-05-10T06:36:57Z"}, rec | {"Datetime": 1652164617},
                rec | {"Datetime": 1652164617000000000}]
    stats = load(store, write_jsonl(tmp_path / "fw.jsonl", variants))
    assert (stats.added, stats.duplicates) == (1, 2)


def test_rules_of_one_ray_are_separate_events(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base = panther_records()[2]
    logged = base | {"Action": "log", "Source": "firewallcustom", "RuleID": "f1c9d1b2a3e4", "MatchIndex": 1,
                     "Description": "log checkout traffic from hosting ASNs"}
    stats = load(store, write_jsonl(tmp_path / "fw.jsonl", [logged, base]))
    assert stats.added == 2
    ids = sorted(r[0] for r in store.execute("SELECT event_id FROM events").fetchall())
    assert ids == [
        "cloudflare_firewall:708174c00f61faa8:e35c9a670b864a3ba0203ffb1bc977d1:0@1652164617",
        "cloudflare_firewall:708174c00f61faa8:f1c9d1b2a3e4:1@1652164617",
    ]


ACTION_CASES: list[tuple[dict[str, object], str, str | None, str | None]] = [
    ({"Action": "managedchallenge", "Source": "bic"}, "managed_challenge", "blocked", "bot"),
    ({"Action": "jschallenge", "Source": "securitylevel"}, "js_challenge", "blocked", "scanner"),
    ({"Action": "challengesolved", "Source": "firewallcustom", "Description": "Challenge Tor"},
     "challenge_solved", "allowed", "other"),
    ({"Action": "managedchallengeinteractivesolved", "Source": "botfight"},
     "managed_challenge_interactive_solved", "allowed", "bot"),
    ({"Action": "connectionclose", "Source": "ratelimit"}, "connection_close", "blocked", "rate_limit"),
    ({"Action": "block", "Source": "firewallManaged", "Description": "SQLi - Comment"}, "block", "blocked", "sqli"),
    ({"Action": "log", "Source": "firewallmanaged", "Description": "XSS - JavaScript Events"},
     "log", "allowed", "xss"),
    ({"Action": "block", "Source": "firewallmanaged", "Description": "Log4j Headers"}, "block", "blocked", "rce"),
    ({"Action": "block", "Source": "firewallmanaged",
      "Description": "930120: OS File Access Attempt"}, "block", "blocked", "path_traversal"),
    ({"Action": "block", "Source": "waf", "RuleID": "942100", "Description": ""}, "block", "blocked", "sqli"),
    ({"Action": "log", "Source": "firewallmanaged",
      "Description": "Anomaly:Header:User-Agent - Missing"}, "log", "allowed", "protocol"),
    ({"Action": "managed_challenge", "Source": "rateLimit"}, "managed_challenge", "blocked", "rate_limit"),
    ({"Action": "allow", "Source": "ip"}, "allow", "allowed", "other"),
    ({"Action": "block", "Source": "apishieldschemavalidation"}, "block", "blocked", "protocol"),
    ({"Action": "unknown", "Source": "unknown", "RuleID": ""}, "unknown", None, None),
]


def test_action_outcome_attack(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base = panther_records()[2]
    recs = [base | {"RayID": f"ray{n:02d}"} | fields for n, (fields, _, _, _) in enumerate(ACTION_CASES)]
    load(store, write_jsonl(tmp_path / "fw.jsonl", recs))
    ev = events(store)
    for n, (fields, action, outcome, attack) in enumerate(ACTION_CASES):
        e = ev[f"ray{n:02d}"]
        assert (e["action"], e["outcome"], e["waf"]["action"], e["waf"]["attack"]) == (action, outcome, action, attack), fields


def test_optional_fields_and_pii_in_query(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rec = panther_records()[3] | {
        "ClientRequestQuery": "?email=jane.doe@example.com&card=4111111111111111",
        "ClientRefererQuery": "?ref=newsletter",
        "EdgeResponseStatus": 0, "OriginResponseStatus": 200, "EdgeResponseBytes": 48211,
        "ClientIPClass": "tor", "LeakedCredentialCheckResult": "password_leaked",
    }
    load(store, write_jsonl(tmp_path / "fw.jsonl", [rec]))
    (ev,) = events(store).values()
    # The leading "?" is dropped like other sources' query strings; the query is scanned for PII.
    assert ev["http"]["query"].startswith("email=jane.doe@example.com&card=")
    assert ev["http"]["status"] == 200 and ev["http"]["response_bytes"] == 48211
    assert ev["waf"]["labels"] == ["ip_class:tor", "leaked_credentials:password_leaked"]
    pii = store.execute("SELECT pii FROM events").fetchone()[0]  # type: ignore[index]
    assert set(pii["types"]) >= {"email", "pan"}
    assert "4111111111111111" not in ev["raw"]


def test_broken_records_are_quarantined_with_reason(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    good = panther_records()[2]
    lines = [
        good,
        '{"RayID": "abc", "Datetime": ',                      # truncated JSON
        "[1, 2, 3]",                                           # not an object
        '"firewall"',                                          # a JSON string
        {k: v for k, v in good.items() if k != "Datetime"},    # missing time
        good | {"Datetime": "last tuesday"},                   # unparseable time
        good | {"Datetime": 0},                                # the epoch is no event time
        good | {"Datetime": {"seconds": 1}},                   # wrong type
    ]
    stats = load(store, write_jsonl(tmp_path / "fw.jsonl", lines))
    assert (stats.records, stats.added, stats.quarantined) == (8, 1, 7)
    assert quarantine(store) == [
        (2, "invalid JSON"),
        (3, "not a JSON object (array)"),
        (4, "not a JSON object (string)"),
        (5, 'missing "Datetime"'),
        (6, 'unparseable "Datetime": last tuesday'),
        (7, 'unparseable "Datetime": 0'),
        (8, 'unparseable "Datetime": {"seconds":1}'),
    ]


def test_gzipped_logpush_file(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "20251216T103000Z_20251216T103100Z_a1b2.log.gz"
    path.write_bytes(gzip.compress(PANTHER.read_bytes()))
    stats = load(store, path)
    assert (stats.records, stats.added, stats.duplicates) == (6, 5, 1)
    again = load(store, path)
    assert again.added == 0
