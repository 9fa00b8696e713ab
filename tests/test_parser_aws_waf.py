"""aws_waf: the six complete log records of the AWS WAF developer guide each become one event with the fields
docs/formats/aws_waf.md promises."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb

from connectors.sources.loader import load_object
from connectors.sources.locations import resolve
from connectors.sources.registry import get_parser

EXAMPLES = Path(__file__).resolve().parent / "data" / "waf" / "aws_waf_doc_examples.jsonl"
UTC = dt.UTC
API_GW_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/94.0.4606.54 Safari/537.36")
API_GW_HOST = "b34myvfw0b.gamma.execute-api.us-east-1.amazonaws.com"


def load_examples(store: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    (obj,) = resolve(str(EXAMPLES))
    stats = load_object(store, get_parser("aws_waf"), obj, source="aws")
    assert (stats.records, stats.added, stats.duplicates, stats.quarantined) == (6, 6, 0, 0)
    cur = store.execute("SELECT * EXCLUDE (ingested_at) FROM events")
    names = [d[0] for d in cur.description]
    by_id = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    # In file order: the event ids are requestId@timestamp, or the record's md5 when requestId is "null".
    order = []
    for line in EXAMPLES.read_text().splitlines():
        rec = json.loads(line)
        rid = rec["httpRequest"]["requestId"]
        key = f"{rid}@{rec['timestamp']}" if rid != "null" else hashlib.md5(line.encode()).hexdigest()
        order.append(by_id[f"aws_waf:{key}"])
    return order


def test_doc_examples_golden(store: duckdb.DuckDBPyConnection) -> None:
    sqli, count, group, alb, captcha_counted, captcha = load_examples(store)

    assert sqli["time"] == dt.datetime(2019, 12, 13, 23, 40, 12, 771000, tzinfo=UTC)
    assert (sqli["source"], sqli["source_format"], sqli["category"]) == ("aws", "aws_waf", "waf")
    assert (sqli["action"], sqli["outcome"], sqli["tenant"]) == ("block", "blocked", "STMTest")
    assert sqli["src"] == {"ip": "1.1.1.1", "country": "AU", "asn": None, "user_agent": "curl/7.61.1"}
    assert sqli["http"] == {"method": "GET", "host": "localhost:1989", "path": "/myUri", "query": None,
                            "status": None, "request_bytes": None, "response_bytes": None}
    assert sqli["waf"] == {"rule_id": "STMTest_SQLi_XSS", "rule_group": None, "action": "block", "attack": "sqli",
                           "labels": ["value"]}
    assert sqli["message"] == "AWS WAF BLOCK by STMTest_SQLi_XSS: GET /myUri"
    assert json.loads(sqli["raw"])["terminatingRuleMatchDetails"][0]["matchedData"] == ["10", "AND", "1"]

    # Default action ALLOW, a rule in COUNT mode matched: detect-only traffic, classed by its match details.
    assert count["time"] == dt.datetime(2020, 6, 17, 1, 26, 32, 516000, tzinfo=UTC)
    assert (count["action"], count["outcome"], count["tenant"]) == ("allow", "allowed", "hello-world")
    assert count["src"] == {"ip": "3.3.3.3", "country": "US", "asn": None, "user_agent": "curl/7.61.1"}
    assert count["waf"] == {"rule_id": "TestRule", "rule_group": None, "action": "allow", "attack": "sqli",
                            "labels": ["value"]}

    # Blocked by a rule group: the rule inside the group decides, the group is the rule_group.
    assert (group["action"], group["outcome"]) == ("block", "blocked")
    assert group["waf"] == {
        "rule_id": "RuleA-XSS",
        "rule_group": "arn:aws:wafv2:us-east-1:123456789012:global/rulegroup/hello-world/c05lb698-1f11-4m41-aef4-99a506d53f4b",
        "action": "block", "attack": "xss", "labels": ["value"],
    }

    # requestId "null", no headers, empty URI: a hashed id and NULLs, not empty strings.
    assert alb["time"] == dt.datetime(2019, 12, 13, 23, 40, 12, 771000, tzinfo=UTC)
    assert alb["tenant"] == "test"
    assert alb["src"] == {"ip": "1.1.1.1", "country": "AU", "asn": None, "user_agent": None}
    assert alb["http"] == {"method": "POST", "host": None, "path": None, "query": None, "status": None,
                           "request_bytes": None, "response_bytes": None}
    assert alb["waf"]["attack"] == "sqli"

    # A CAPTCHA rule that only ran (the client had a valid token) and one that answered 405: both bot traffic.
    assert captcha_counted["time"] == dt.datetime(2021, 9, 23, 18, 7, 9, 309000, tzinfo=UTC)
    assert (captcha_counted["action"], captcha_counted["outcome"]) == ("allow", "allowed")
    assert captcha_counted["src"] == {"ip": "72.21.198.65", "country": "US", "asn": None, "user_agent": API_GW_UA}
    assert captcha_counted["http"]["host"] == API_GW_HOST
    assert captcha_counted["http"]["path"] == "/pen-test/pets"
    assert captcha_counted["waf"] == {"rule_id": "captcha-rule", "rule_group": None, "action": "allow",
                                      "attack": "bot", "labels": []}

    assert captcha["time"] == dt.datetime(2021, 9, 23, 18, 6, 56, 512000, tzinfo=UTC)
    assert (captcha["action"], captcha["outcome"], captcha["tenant"]) == ("captcha", "blocked", "captcha-web-acl")
    assert captcha["http"] == {"method": "GET", "host": API_GW_HOST, "path": "/pen-test/pets", "query": None,
                               "status": 405, "request_bytes": None, "response_bytes": None}
    assert captcha["waf"] == {"rule_id": "captcha-rule", "rule_group": None, "action": "captcha", "attack": "bot",
                              "labels": []}
    assert captcha["message"] == "AWS WAF CAPTCHA by captcha-rule: GET /pen-test/pets"


def test_reading_again_adds_nothing(store: duckdb.DuckDBPyConnection) -> None:
    load_examples(store)
    (obj,) = resolve(str(EXAMPLES))
    again = load_object(store, get_parser("aws_waf"), obj, source="aws")
    assert (again.files_skipped, again.added) == (1, 0)


# Rule names in the evidence: (fields replaced in the first doc example, expected waf.attack).
RULE_NAME_CASES: list[tuple[dict[str, Any], str | None]] = [
    # A custom rule whose name merely contains the letters: no match details, no attack class.
    ({"terminatingRuleId": "ProtectEcommerceCheckout"}, "other"),
    ({"terminatingRuleId": "CorporateNetworkOnly"}, "other"),
    ({"terminatingRuleId": "AllowResourceSource"}, "other"),
    # AWS managed rule names (as the terminating rule, or in a rule group that only counts).
    ({"terminatingRuleId": "Log4JRCE_HEADER"}, "rce"),
    ({"terminatingRuleId": "JavaDeserializationRCE_BODY"}, "rce"),
    ({"terminatingRuleId": "ReactJSRCE_BODY"}, "rce"),
    ({"terminatingRuleId": "Default_Action", "action": "ALLOW", "ruleGroupList": [{
        "ruleGroupId": "AWS#AWSManagedRulesCommonRuleSet", "terminatingRule": None,
        "nonTerminatingMatchingRules": [{"ruleId": "CrossSiteScripting_BODY", "action": "COUNT"}]}]}, "xss"),
    ({"terminatingRuleId": "LoginRateLimit", "terminatingRuleType": "RATE_BASED"}, "rate_limit"),
    ({"terminatingRuleId": "Default_Action", "action": "ALLOW"}, None),
]


def test_attack_class_from_rule_names(store: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base = json.loads(EXAMPLES.read_text().splitlines()[0]) | {"terminatingRuleMatchDetails": [], "labels": []}
    lines = []
    for n, (changes, _) in enumerate(RULE_NAME_CASES):
        rec = base | changes
        rec["httpRequest"] = base["httpRequest"] | {"requestId": f"case{n}"}
        lines.append(json.dumps(rec) + "\n")
    (tmp_path / "waf.jsonl").write_text("".join(lines))
    (obj,) = resolve(str(tmp_path / "waf.jsonl"))
    assert load_object(store, get_parser("aws_waf"), obj, source="aws").added == len(RULE_NAME_CASES)
    got = dict(store.execute("SELECT split_part(event_id, '@', 1), waf.attack FROM events").fetchall())
    for n, (changes, attack) in enumerate(RULE_NAME_CASES):
        assert got[f"aws_waf:case{n}"] == attack, changes
