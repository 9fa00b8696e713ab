"""modsecurity: ModSecurity JSON audit records of both shapes (mod_security 2.9 and libmodsecurity 3) become events
with the documented fields (docs/formats/modsecurity.md); the attack class follows the OWASP CRS rule id ranges and
the CRS tags; broken records are quarantined with their reason.

The v3 records are built from OWASP CRS regression cases (real attack requests with the rule each must trigger);
the v2 records follow mod_security 2.9's JSON writer (messages are the error-log strings)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb

from connectors.sources.loader import IngestStats, load_object
from connectors.sources.locations import resolve
from connectors.sources.registry import get_parser

DATA = Path(__file__).resolve().parent / "data" / "waf"
UTC = dt.UTC

# The attack class of each CRS rule family (the id's first three digits, the rule file's number).
CRS_ATTACK = {
    913: "scanner", 920: "protocol", 921: "protocol", 930: "path_traversal", 931: "path_traversal",
    932: "rce", 933: "rce", 934: "other", 941: "xss", 942: "sqli", 944: "rce",
}


def crs_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "crs_regression_selected.jsonl").read_text().splitlines()]


def v3_message(rule_id: str, file: str, msg: str, data: str, tags: list[str]) -> dict[str, Any]:
    return {"message": msg, "details": {
        "match": f"Matched \"Operator `Rx' with parameter ...\" against variable `ARGS' (Value: `{data}' )",
        "reference": "o0,4v10,4", "ruleId": rule_id, "file": file, "lineNumber": "120", "data": data,
        "severity": "2", "ver": "OWASP_CRS/4.0.0", "rev": "", "tags": tags, "maturity": "0", "accuracy": "0"}}


BLOCKING_949 = v3_message(
    "949110", "/etc/nginx/owasp-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf",
    "Inbound Anomaly Score Exceeded (Total Score: 5)", "", ["anomaly-evaluation", "OWASP_CRS"],
)


def v3_record(case: dict[str, Any], n: int, *, engine: str = "Enabled", status: int = 403,
              messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A libmodsecurity 3 (nginx connector) audit record for one CRS regression request."""
    family_file = case["file"].split("/")[0]
    if messages is None:
        messages = [
            v3_message(str(case["rule_id"]), f"/etc/nginx/owasp-crs/rules/{family_file}.conf",
                       case["desc"] or f"CRS rule {case['rule_id']}", f"Matched Data: found within {case['uri']}",
                       ["application-multi", "paranoia-level/1", "OWASP_CRS"]),
            BLOCKING_949,
        ]
    return {"transaction": {
        "client_ip": f"203.0.113.{n}", "time_stamp": f"Wed Nov 29 10:{n:02d}:05 2023",
        "server_id": "5f6e1ad8d4d6b1c1f9a0e7f2b3c4d5e6f7a8b9c0", "client_port": 40000 + n,
        "host_ip": "10.0.0.5", "host_port": 443, "unique_id": f"17012522{n:02d}45.{n:06d}",
        "request": {"method": case["method"] or "GET", "http_version": 1.1, "uri": case["uri"],
                    "body": case["data"] or "", "headers": case["headers"]},
        "response": {"body": "", "http_code": status,
                     "headers": {"Server": "nginx", "Content-Length": "153", "Content-Type": "text/html"}},
        "producer": {"modsecurity": "ModSecurity v3.0.12 (Linux)", "connector": "ModSecurity-nginx v1.0.3",
                     "secrules_engine": engine, "components": ["OWASP_CRS/4.0.0"]},
        "messages": messages,
    }}


def v2_message(verdict: str, rule_id: str, file: str, msg: str, data: str | None, tags: list[str]) -> str:
    parts = [verdict, f'[file "/usr/share/modsecurity-crs/rules/{file}"]', '[line "65"]', f'[id "{rule_id}"]',
             f'[msg "{msg}"]']
    if data is not None:
        parts.append(f'[data "{data}"]')
    parts += ['[severity "CRITICAL"]', '[ver "OWASP_CRS/3.3.2"]'] + [f'[tag "{t}"]' for t in tags]
    return " ".join(parts)


def v2_record(txid: str, time: str, request_line: str, headers: dict[str, str], messages: list[str], *,
              intercepted: bool, status: int, engine: str = "ENABLED", **extra: Any) -> dict[str, Any]:
    """An Apache mod_security 2.9 `SecAuditLogFormat JSON` record."""
    rec: dict[str, Any] = {
        "transaction": {"time": time, "transaction_id": txid, "remote_address": "198.51.100.7",
                        "remote_port": 47461, "local_address": "172.21.50.216", "local_port": 443},
        "request": {"request_line": request_line, "headers": headers},
        "response": {"protocol": "HTTP/1.1", "status": status,
                     "headers": {"Content-Length": "199", "Connection": "close"},
                     "body": "<html><h1>Forbidden</h1></html>\n"},
        "audit_data": {
            "messages": messages,
            "action": {"intercepted": intercepted, "phase": 2, "message": "Operator GE matched 5 at TX:anomaly_score."},
            "stopwatch": {"p1": 661, "p2": 2717, "p3": 0, "p4": 0, "p5": 352, "sr": 153, "sw": 0, "l": 0, "gc": 0},
            "producer": ["ModSecurity for Apache/2.9.3 (http://www.modsecurity.org/)", "OWASP_CRS/3.3.2"],
            "server": "Apache", "engine_mode": engine,
        },
    }
    if not intercepted:
        del rec["audit_data"]["action"]
    for key, value in extra.items():
        rec[key] |= value
    return rec


SQLI_V2 = v2_message(
    "Warning. detected SQLi using libinjection with fingerprint '1&sos'", "942100",
    "REQUEST-942-APPLICATION-ATTACK-SQLI.conf", "SQL Injection Attack Detected via libinjection",
    "Matched Data: 1&sos found within ARGS:id: 3 or 'a'='a'",
    ["application-multi", "language-multi", "platform-multi", "attack-sqli", "paranoia-level/1"],
)
BLOCK_V2 = v2_message(
    "Access denied with code 403 (phase 2). Operator GE matched 5 at TX:anomaly_score.", "949110",
    "REQUEST-949-BLOCKING-EVALUATION.conf", "Inbound Anomaly Score Exceeded (Total Score: 5)", None,
    ["application-multi", "attack-generic"],
)
CORRELATION_V2 = v2_message(
    "Warning. Operator GE matched 5 at TX:inbound_anomaly_score.", "980130", "RESPONSE-980-CORRELATION.conf",
    "Inbound Anomaly Score Exceeded (Total Inbound Score: 5 - SQLI=5,XSS=0,RFI=0,LFI=0,RCE=0,PHPI=0,HTTP=0,SESS=0)",
    None, ["event-correlation"],
)


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def load(store: duckdb.DuckDBPyConnection, path: Path) -> IngestStats:
    total = IngestStats("ms", "modsecurity")
    for obj in resolve(str(path)):
        total.add(load_object(store, get_parser("modsecurity"), obj, source="ms"))
    return total


def events(store: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    cur = store.execute("SELECT event_id, time, category, action, outcome, src, http, waf, message, pii, raw FROM events")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {r["event_id"].removeprefix("modsecurity:"): r for r in rows}


def quarantine(store: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return [(r[0], r[1]) for r in store.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()]


def test_v3_records_of_crs_regression_attacks(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    cases = crs_cases()
    assert len(cases) == 11
    stats = load(store, write_jsonl(tmp_path / "audit.json", [v3_record(c, n) for n, c in enumerate(cases)]))
    assert (stats.records, stats.added, stats.quarantined) == (11, 11, 0)
    ev = events(store)
    for n, case in enumerate(cases):
        e = ev[f"17012522{n:02d}45.{n:06d}"]
        family = case["file"].split("/")[0]
        path, _, query = case["uri"].partition("?")
        assert e["time"] == dt.datetime(2023, 11, 29, 10, n, 5, tzinfo=UTC)
        assert (e["category"], e["action"], e["outcome"]) == ("waf", "block", "blocked")
        assert e["src"] == {"ip": f"203.0.113.{n}", "country": None, "asn": None,
                            "user_agent": case["headers"]["User-Agent"]}
        assert e["http"] == {"method": case["method"] or "GET", "host": case["headers"]["Host"], "path": path,
                             "query": query or None, "status": 403, "request_bytes": None, "response_bytes": 153}
        assert e["waf"]["rule_id"] == str(case["rule_id"]), family
        assert e["waf"]["rule_group"] == family
        assert e["waf"]["attack"] == CRS_ATTACK[case["rule_id"] // 1000], family
        assert e["waf"]["labels"] == ["OWASP_CRS", "anomaly-evaluation", "application-multi", "paranoia-level/1"]
        assert e["message"].startswith(f"ModSecurity block by {case['rule_id']} (")


def test_v2_records(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    records = [
        v2_record("Yj2WRzj5DcQDZ5V47KL4JQAAAAE", "25/Mar/2022:11:15:35 +0100",
                  "GET /?id=3%20or%20%27a%27=%27a%27 HTTP/2.0",
                  {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Host": "shop.example.com", "Dnt": "1"},
                  [SQLI_V2, BLOCK_V2, CORRELATION_V2], intercepted=True, status=403),
        # DetectionOnly: the rule matched, nothing was intercepted; 2.9.7+ writes microseconds.
        v2_record("ZWcDo8Cq5v4AAHk8mWQAAAAM", "29/Nov/2023:10:04:05.107228 +0000",
                  "POST /customer/account/loginPost/ HTTP/1.1",
                  {"host": "shop.example.com", "user-agent": "curl/8.4.0", "content-length": "41"},
                  [SQLI_V2, CORRELATION_V2], intercepted=False, status=302, engine="DETECTION_ONLY"),
        # Logged for its status (SecAuditLogRelevantStatus) without any rule match.
        v2_record("ZWcDo8Cq5v4AAHk8mWQAAAAN", "2023-11-29 10:04:06", "GET /checkout/cart/ HTTP/1.1",
                  {"Host": "shop.example.com"}, [], intercepted=False, status=500),
    ]
    stats = load(store, write_jsonl(tmp_path / "modsec_audit.log", records))
    assert (stats.added, stats.quarantined) == (3, 0)
    ev = events(store)

    blocked = ev["Yj2WRzj5DcQDZ5V47KL4JQAAAAE"]
    assert blocked["time"] == dt.datetime(2022, 3, 25, 10, 15, 35, tzinfo=UTC)
    assert (blocked["action"], blocked["outcome"]) == ("block", "blocked")
    assert blocked["src"] == {"ip": "198.51.100.7", "country": None, "asn": None,
                              "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert blocked["http"] == {"method": "GET", "host": "shop.example.com", "path": "/",
                               "query": "id=3%20or%20%27a%27=%27a%27", "status": 403, "request_bytes": None,
                               "response_bytes": 199}
    assert blocked["waf"] == {
        "rule_id": "942100", "rule_group": "REQUEST-942-APPLICATION-ATTACK-SQLI", "action": "block", "attack": "sqli",
        "labels": ["application-multi", "attack-generic", "attack-sqli", "event-correlation", "language-multi",
                   "paranoia-level/1", "platform-multi"],
    }
    assert blocked["message"] == (
        "ModSecurity block by 942100 (SQL Injection Attack Detected via libinjection): GET shop.example.com/"
    )

    detected = ev["ZWcDo8Cq5v4AAHk8mWQAAAAM"]
    assert detected["time"] == dt.datetime(2023, 11, 29, 10, 4, 5, 107228, tzinfo=UTC)
    assert (detected["action"], detected["outcome"], detected["waf"]["action"]) == ("log", "allowed", "log")
    assert detected["waf"]["attack"] == "sqli"
    assert detected["http"]["method"] == "POST" and detected["http"]["path"] == "/customer/account/loginPost/"
    assert detected["http"]["request_bytes"] == 41
    assert detected["src"]["user_agent"] == "curl/8.4.0"

    quiet = ev["ZWcDo8Cq5v4AAHk8mWQAAAAN"]
    assert quiet["time"] == dt.datetime(2023, 11, 29, 10, 4, 6, tzinfo=UTC)
    assert (quiet["action"], quiet["outcome"], quiet["http"]["status"]) == ("allow", "allowed", 500)
    assert quiet["waf"] == {"rule_id": None, "rule_group": None, "action": "allow", "attack": None, "labels": []}


TIME_FORMATS: list[tuple[str, str, dt.datetime]] = [
    ("time_stamp", "Wed Nov 29 10:04:05 2023", dt.datetime(2023, 11, 29, 10, 4, 5, tzinfo=UTC)),
    ("time_stamp", "Mon May  9 09:41:59 2022", dt.datetime(2022, 5, 9, 9, 41, 59, tzinfo=UTC)),  # %e padding
    ("time", "29/Nov/2023:10:04:05 +0000", dt.datetime(2023, 11, 29, 10, 4, 5, tzinfo=UTC)),
    ("time", "29/Nov/2023:11:04:05 +0100", dt.datetime(2023, 11, 29, 10, 4, 5, tzinfo=UTC)),
    ("time", "11/May/2026:21:49:35.107228 +0000", dt.datetime(2026, 5, 11, 21, 49, 35, 107228, tzinfo=UTC)),
    ("time", "2023-11-29 10:04:05", dt.datetime(2023, 11, 29, 10, 4, 5, tzinfo=UTC)),
    ("time", "2023-11-29T11:04:05.5+01:00", dt.datetime(2023, 11, 29, 10, 4, 5, 500000, tzinfo=UTC)),
]


def test_time_formats(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    recs = []
    for n, (field, value, _) in enumerate(TIME_FORMATS):
        if field == "time_stamp":
            rec = v3_record(crs_cases()[0], n)
            rec["transaction"]["time_stamp"] = value
            rec["transaction"]["unique_id"] = f"t{n}"
        else:
            rec = v2_record(f"t{n}", value, "GET / HTTP/1.1", {"Host": "h"}, [SQLI_V2], intercepted=False, status=200)
        recs.append(rec)
    stats = load(store, write_jsonl(tmp_path / "a.json", recs))
    assert (stats.added, stats.quarantined) == (len(recs), 0)
    ev = events(store)
    for n, (field, value, expected) in enumerate(TIME_FORMATS):
        assert ev[f"t{n}"]["time"] == expected, (field, value)


def test_v3_blocked_or_logged(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """libmodsecurity logs no 'intercepted' flag; the outcome follows engine mode, status and blocking rules."""
    cases = {c["rule_id"]: c for c in crs_cases()}
    sqli, proto = cases[942100], cases[920270]
    warning_only = [v3_record(proto, 0)["transaction"]["messages"][0]]
    records = [
        v3_record(sqli, 1, engine="DetectionOnly", status=200),   # detected, let through
        v3_record(sqli, 2, status=406),                            # anomaly blocking with a custom deny status
        v3_record(proto, 3, status=404, messages=warning_only),    # a warning on a page that does not exist
        v3_record(proto, 4, status=403, messages=warning_only),    # a rule that denies on its own
        v3_record(proto, 5, status=200, messages=[]),              # audited, no rule matched
    ]
    load(store, write_jsonl(tmp_path / "a.json", records))
    got = {k[8:10]: (e["action"], e["outcome"], e["waf"]["attack"]) for k, e in events(store).items()}
    assert got == {
        "01": ("log", "allowed", "sqli"),
        "02": ("block", "blocked", "sqli"),
        "03": ("log", "allowed", "protocol"),
        "04": ("block", "blocked", "protocol"),
        "05": ("allow", "allowed", None),
    }


def test_custom_rules_classified_by_crs_tags(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    case = crs_cases()[0]
    custom = [
        ("100001", ["attack-sqli"], "sqli"),
        ("100002", ["attack-xss", "custom"], "xss"),
        ("100003", ["attack-lfi"], "path_traversal"),
        ("100004", ["attack-injection-php"], "rce"),
        ("100005", ["attack-reputation-scanner"], "scanner"),
        ("100006", ["attack-protocol"], "protocol"),
        ("1", [], "other"),
    ]
    records = [
        v3_record(case, n, messages=[v3_message(rid, "/etc/nginx/modsec/custom-rules.conf", "custom", "x", tags)])
        for n, (rid, tags, _) in enumerate(custom)
    ]
    load(store, write_jsonl(tmp_path / "a.json", records))
    ev = events(store)
    for n, (rid, _, attack) in enumerate(custom):
        e = ev[f"17012522{n:02d}45.{n:06d}"]
        assert (e["waf"]["rule_id"], e["waf"]["rule_group"], e["waf"]["attack"]) == (rid, "custom-rules", attack)


def test_pii_in_bodies_query_and_matched_data(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    case = {c["rule_id"]: c for c in crs_cases()}[942100]
    v3 = v3_record(case, 1)
    v3["transaction"]["request"]["uri"] = "/rest/V1/orders?email=jane.doe@example.com"
    v3["transaction"]["request"]["body"] = "cc_number=4111111111111111&cc_cid=123"
    v3["transaction"]["response"]["body"] = '{"iban":"DE89370400440532013000"}'
    # Request bodies (parts C/I): a string here, an array of chunks in some 2.9 builds; both are scanned.
    v2_str = v2_record("tx-str", "29/Nov/2023:10:04:05 +0000", "POST /checkout HTTP/1.1", {"Host": "h"},
                       [SQLI_V2], intercepted=True, status=403, request={"body": "pan=5555555555554444"})
    v2_arr = v2_record("tx-arr", "29/Nov/2023:10:04:06 +0000", "POST /checkout HTTP/1.1", {"Host": "h"},
                       [SQLI_V2], intercepted=True, status=403, request={"body": ["pan=5555555555554444"]})
    load(store, write_jsonl(tmp_path / "a.json", [v3, v2_str, v2_arr]))
    ev = events(store)
    assert ev["1701252201" "45.000001"]["pii"]["types"] == ["email", "iban", "pan"]
    assert ev["tx-str"]["pii"]["types"] == ["pan"]
    assert ev["tx-arr"]["pii"]["types"] == ["pan"]
    stored = " ".join(e["raw"] for e in ev.values())
    assert "4111111111111111" not in stored and "5555555555554444" not in stored


def test_real_log_quirks(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Repeated header names (two Set-Cookie) and libmodsecurity 3.0.0's "REQUEST_HEADERS:" prefixed names."""
    case = crs_cases()[0]
    rec = json.dumps(v3_record(case, 1)).replace(
        '"Server": "nginx"', '"Set-Cookie": "a=1; path=/", "Set-Cookie": "b=2; path=/", "Server": "nginx"'
    )
    alpha = v3_record(case, 2)
    alpha["transaction"]["request"]["headers"] = {"REQUEST_HEADERS:Host": "xy", "REQUEST_HEADERS:User-Agent": "curl/7.49.1"}
    stats = load(store, write_jsonl(tmp_path / "a.json", [rec, alpha]))
    assert stats.added == 2
    ev = events(store)
    assert ev["1701252201" "45.000001"]["http"]["response_bytes"] == 153
    assert ev["1701252202" "45.000002"]["http"]["host"] == "xy"
    assert ev["1701252202" "45.000002"]["src"]["user_agent"] == "curl/7.49.1"


def test_both_shapes_in_one_file_and_broken_records(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    v3 = v3_record(crs_cases()[0], 1)
    v2 = v2_record("tx1", "29/Nov/2023:10:04:05 +0000", "GET / HTTP/1.1", {"Host": "h"}, [SQLI_V2],
                   intercepted=True, status=403)
    no_time = v3_record(crs_cases()[0], 2)
    del no_time["transaction"]["time_stamp"]
    bad_time = v3_record(crs_cases()[0], 3)
    bad_time["transaction"]["time_stamp"] = "yesterday at noon"
    bad_v2_time = v2_record("tx2", "29/Nov/2023 10:04:05", "GET / HTTP/1.1", {}, [], intercepted=False, status=200)
    lines = [
        v3, v2,
        '{"transaction": {"client_ip": "1.2.3.4", "time_stamp": "Wed Nov 29 10:04:05 2023"',  # cut short
        "[]",
        {"message": "not an audit record"},
        no_time, bad_time, bad_v2_time,
        {"transaction": "Wed Nov 29 10:04:05 2023"},
    ]
    stats = load(store, write_jsonl(tmp_path / "a.json", lines))
    assert (stats.records, stats.added, stats.quarantined) == (9, 2, 7)
    assert set(events(store)) == {"1701252201" "45.000001", "tx1"}
    not_audit = 'not a ModSecurity JSON audit record (no "transaction" with time_stamp/unique_id or time/transaction_id)'
    assert quarantine(store) == [
        (3, "invalid JSON"),
        (4, "not a JSON object (array)"),
        (5, not_audit),
        (6, 'missing "transaction.time_stamp"'),
        (7, 'unparseable "transaction.time_stamp": yesterday at noon'),
        (8, 'unparseable "transaction.time": 29/Nov/2023 10:04:05'),
        (9, not_audit),
    ]
