"""`breachline generate`: files per format that parse as their vendor format, determinism, ground truth whose
scenarios are really in the data, and benign look-alikes that stay benign."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from breachline.cli import main
from breachline.generate import FORMAT_NAMES, generate_store
from breachline.generate.model import (
    ALLOWED_SCRIPT_HOSTS,
    APPROVED_WEBHOOK_HOSTS,
    ERP_USER,
    OFFSITE_SCRIPT_HOSTS,
    SUPPORT_HOURS_UTC,
    SUPPORT_STAFF,
    UNTRUSTED_WEBHOOK_HOSTS,
)
from tests.test_generate_support import Record, has_pan, json_lines, read_text, records

PLAYBOOKS = {
    "admin-escalation-then-bulk-export", "api-client-customer-scraping", "pan-in-application-log",
    "pii-to-untrusted-webhook", "cross-customer-data-exposure", "dsr-wrong-subject", "waf-attack-then-data-response",
    "admin-credential-stuffing-success", "login-as-customer-abuse", "payment-token-offsite-script",
}
SQLI_LABEL = "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "generate.md"
DAYS, EVENTS_PER_DAY, SEED = 7, 2_500, 5


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("gen")
    summary = generate_store(out, days=DAYS, seed=SEED, events_per_day=EVENTS_PER_DAY)
    return out, summary


@pytest.fixture(scope="module")
def recs(run: tuple[Path, object]) -> dict[str, list[Record]]:
    return records(run[0])


@pytest.fixture(scope="module")
def truth(run: tuple[Path, object]) -> list[dict[str, str]]:
    return [json.loads(line) for line in (run[0] / "ground_truth.jsonl").read_text().splitlines()]


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _in(rec: Record, g: dict[str, str]) -> bool:
    return _t(g["start"]) <= rec.time <= _t(g["end"])


def _outside_all(rec: Record, truths: list[dict[str, str]], playbook: str) -> bool:
    return not any(g["playbook"] == playbook and _in(rec, g) for g in truths)


# ------------------------------------------------------------------------------------------------- files
def test_every_format_folder_present_and_non_empty(run: tuple[Path, object]) -> None:
    out = run[0]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(FORMAT_NAMES)
    for name in FORMAT_NAMES:
        files = list((out / name).iterdir())
        assert files, name
        assert all(f.stat().st_size > 0 for f in files), name


def test_one_file_per_stream_per_day(run: tuple[Path, object]) -> None:
    out = run[0]
    days = [f"2026-11-{d:02d}" for d in range(1, DAYS + 1)]
    for name in FORMAT_NAMES:
        per_day = Counter(re.search(r"\d{4}-\d{2}-\d{2}", f.name).group(0) for f in (out / name).iterdir())  # type: ignore[union-attr]
        assert sorted(per_day) == days, name
        assert len(set(per_day.values())) == 1, f"{name}: a different number of files on some day: {per_day}"
    tables = {f.name.split("-2026")[0] for f in (out / "magento_action_log").iterdir()}
    assert tables == {"magento_logging_event", "login_as_customer_log", "admin_user_session", "action_log_export"}


def test_gzip_where_firehose_and_logpush_gzip(run: tuple[Path, object]) -> None:
    out = run[0]
    for name in ("aws_waf", "cloudflare_firewall"):
        for f in (out / name).iterdir():
            assert f.name.endswith(".gz") and f.read_bytes()[:2] == b"\x1f\x8b", f.name


def test_summary_counts_match_the_files(run: tuple[Path, object], recs: dict[str, list[Record]]) -> None:
    summary = run[1]
    assert {k: len(v) for k, v in recs.items()} == summary.events  # type: ignore[attr-defined]
    assert summary.total_events > DAYS * EVENTS_PER_DAY  # type: ignore[attr-defined]


def test_records_are_time_ordered_within_each_file_and_inside_their_day(recs: dict[str, list[Record]]) -> None:
    for fmt, rs in recs.items():
        by_file: dict[Path, list[Record]] = defaultdict(list)
        for r in rs:
            by_file[r.file].append(r)
        for f, frs in by_file.items():
            times = [r.time for r in frs]
            assert times == sorted(times), f"{fmt} {f.name}"
            day = re.search(r"\d{4}-\d{2}-\d{2}", f.name).group(0)  # type: ignore[union-attr]
            assert {t.date().isoformat() for t in times} == {day}, f"{fmt} {f.name}"


def test_mix_is_waf_and_app_heavy_with_few_admin_events(run: tuple[Path, object]) -> None:
    ev = run[1].events  # type: ignore[attr-defined]
    total = sum(ev.values())
    assert (ev["aws_waf"] + ev["app_json"] + ev["cloudflare_firewall"]) / total > 0.75
    assert ev["magento_action_log"] / total < 0.05


def test_aws_waf_records_have_the_documented_shape(recs: dict[str, list[Record]]) -> None:
    keys = {"timestamp", "formatVersion", "webaclId", "terminatingRuleId", "terminatingRuleType", "action",
            "terminatingRuleMatchDetails", "httpSourceName", "httpSourceId", "ruleGroupList", "rateBasedRuleList",
            "nonTerminatingMatchingRules", "httpRequest"}
    actions = Counter()
    sizes = []
    for r in recs["aws_waf"]:
        assert keys <= set(r.data), set(keys) - set(r.data)
        req = r.data["httpRequest"]
        assert {"clientIp", "country", "headers", "uri", "args", "httpMethod", "requestId"} <= set(req)
        assert all(set(h) == {"name", "value"} for h in req["headers"])
        assert r.data["action"] in {"ALLOW", "BLOCK"}
        actions[r.data["action"]] += 1
        sizes.append(len(r.text))
    assert actions["BLOCK"] > 0 and actions["ALLOW"] > actions["BLOCK"]
    assert 1_000 < sum(sizes) / len(sizes) < 2_200  # realistic record size, headers included


def test_cloudflare_uses_all_three_datetime_encodings(recs: dict[str, list[Record]]) -> None:
    kinds = {type(r.data["Datetime"]).__name__ + ("ns" if isinstance(r.data["Datetime"], int)
                                                  and r.data["Datetime"] > 10**17 else "")
             for r in recs["cloudflare_firewall"]}
    assert kinds == {"str", "int", "intns"}
    for r in recs["cloudflare_firewall"]:
        assert r.data["Kind"] == "firewall" and r.data["RayID"] and r.data["ClientIP"]


def test_modsecurity_v2_and_v3_in_separate_files(recs: dict[str, list[Record]]) -> None:
    shapes: dict[str, set[str]] = defaultdict(set)
    for r in recs["modsecurity"]:
        if "audit_data" in r.data:
            shapes[r.file.name].add("v2")
            assert {"transaction", "request", "response", "audit_data"} == set(r.data)
            assert r.data["request"]["request_line"].split(" ")[0] in {"GET", "POST"}
            assert r.data["audit_data"]["messages"]
        else:
            shapes[r.file.name].add("v3")
            assert set(r.data) == {"transaction"}
            tx = r.data["transaction"]
            assert {"messages", "request", "response", "client_ip", "time_stamp", "unique_id"} <= set(tx)
            assert all({"message", "details"} == set(m) and m["details"]["ruleId"] for m in tx["messages"])
    assert all(len(s) == 1 for s in shapes.values())
    assert {next(iter(s)) for s in shapes.values()} == {"v2", "v3"}


def test_magento_tables_have_their_columns(recs: dict[str, list[Record]]) -> None:
    columns = {
        "magento_logging_event": {"log_id", "ip", "x_forwarded_ip", "event_code", "time", "action", "info", "status",
                                  "user", "user_id", "fullaction", "error_message"},
        "login_as_customer_log": {"log_id", "time", "user_id", "user_name", "customer_id", "customer_email"},
        "admin_user_session": {"id", "session_id", "user_id", "status", "created_at", "updated_at", "ip"},
    }
    seen = set()
    ids: dict[str, list[int]] = defaultdict(list)
    for r in recs["magento_action_log"]:
        table = r.file.name.split("-2026")[0]
        if table == "action_log_export":
            continue
        seen.add(table)
        assert set(r.data) == columns[table], table
        ids[table].append(r.data.get("log_id", r.data.get("id")))
        assert len(r.data.get("customer_email") or "") <= 40
    assert seen == set(columns)
    for table, values in ids.items():  # auto-increment ids: unique and growing across days
        assert values == sorted(values) and len(set(values)) == len(values), table


def test_magento_logs_use_both_monolog_formats_and_have_stack_traces(recs: dict[str, list[Record]]) -> None:
    stamps = {r.file.name.split("-20")[0]: r.data[1:11 + 16] for r in recs["magento_log"]}
    assert any("T" in s for s in stamps.values()) and any(" " in s[10:11] for s in stamps.values())
    traces = [r.data for r in recs["magento_log"] if "\nStack trace:\n#0 " in r.data]
    assert traces and all(t.rstrip().endswith("[] []") for t in traces)
    for r in recs["magento_log"]:
        assert re.search(r" (\[\]|\{.*\}) (\[\]|\{.*\})$", r.data.split("\n")[-1]), r.data[-120:]


def test_shopify_events_have_the_rest_shape(recs: dict[str, list[Record]]) -> None:
    keys = {"id", "subject_id", "created_at", "subject_type", "verb", "arguments", "body", "message", "author",
            "description", "path"}
    last = 0
    for r in recs["shopify_events"]:
        assert set(r.data) == keys
        assert isinstance(r.data["arguments"], list)
        assert r.data["id"] > last
        last = r.data["id"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", r.data["created_at"])


def test_app_json_follows_its_spec(recs: dict[str, list[Record]]) -> None:
    top = {"ts", "id", "kind", "action", "outcome", "tenant", "actor", "src", "http", "resource", "dst", "message", "body"}
    members = {"actor": {"user", "user_id", "role", "session_id", "customer_id", "api_client", "app"},
               "src": {"ip", "country", "asn", "user_agent"},
               "http": {"method", "host", "path", "query", "status", "request_bytes", "response_bytes"},
               "resource": {"type", "id", "owner_id", "record_count"}, "dst": {"url"}}
    kinds, ids = Counter(), set()
    for r in recs["app_json"]:
        d = r.data
        assert set(d) <= top and "ts" in d and "kind" in d
        assert None not in d.values()
        for k, allowed in members.items():
            if k in d:
                assert d[k] and set(d[k]) <= allowed and None not in d[k].values(), (k, d[k])
        kinds[d["kind"]] += 1
        assert d["id"] not in ids, d["id"]
        ids.add(d["id"])
    assert set(kinds) == {"storefront", "api", "checkout", "dsr", "webhook", "script"}
    assert kinds["storefront"] > kinds["api"] > kinds["webhook"]


# ------------------------------------------------------------------------------------------ determinism
def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_store(a, days=2, seed=42, events_per_day=1_000, start=dt.date(2027, 3, 30))
    generate_store(b, days=2, seed=42, events_per_day=1_000, start=dt.date(2027, 3, 30))
    generate_store(c, days=2, seed=43, events_per_day=1_000, start=dt.date(2027, 3, 30))

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    ta, tb, tc = tree(a), tree(b), tree(c)
    assert ta == tb
    assert ta.keys() == tc.keys() and any(ta[k] != tc[k] for k in ta)
    assert "aws_waf/waf-2027-03-30.jsonl.gz" in ta and "aws_waf/waf-2027-03-31.jsonl.gz" in ta


def test_a_shorter_rerun_leaves_no_stale_day_files(tmp_path: Path) -> None:
    generate_store(tmp_path, days=2, seed=1, events_per_day=800)
    generate_store(tmp_path, days=1, seed=1, events_per_day=800)
    assert not [p for p in tmp_path.rglob("*2026-11-02*")]


# ------------------------------------------------------------------------------------------ ground truth
def test_ground_truth_is_well_formed(truth: list[dict[str, str]]) -> None:
    period = (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1 + DAYS, tzinfo=dt.UTC))
    for g in truth:
        assert set(g) == {"scenario", "playbook", "entity", "start", "end"}
        assert g["playbook"] in PLAYBOOKS and g["scenario"] and g["entity"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", g["start"])
        assert period[0] <= _t(g["start"]) <= _t(g["end"]) < period[1]
    per = Counter(g["playbook"] for g in truth)
    assert set(per) == PLAYBOOKS  # every scenario injected
    assert sum(per.values()) >= 2 * len(PLAYBOOKS)  # "a few times per week"
    assert len({g["scenario"] for g in truth}) == len(PLAYBOOKS)  # one name per playbook


def test_every_entity_appears_in_the_data_within_its_window(recs: dict[str, list[Record]],
                                                             truth: list[dict[str, str]]) -> None:
    all_recs = [r for rs in recs.values() for r in rs]
    for g in truth:
        hits = [r for r in all_recs if _in(r, g) and g["entity"] in r.text]
        assert hits, g


def _scenario_events(recs: dict[str, list[Record]], g: dict[str, str], fmt: str) -> list[Record]:
    return [r for r in recs[fmt] if _in(r, g)]


def test_injected_scenarios_have_the_evidence_their_playbook_needs(recs: dict[str, list[Record]],
                                                                    truth: list[dict[str, str]]) -> None:
    for g in truth:
        pb, ent = g["playbook"], g["entity"]
        app = [r for r in _scenario_events(recs, g, "app_json")]
        admin = [r for r in _scenario_events(recs, g, "magento_action_log")]
        if pb == "admin-escalation-then-bulk-export":
            mine = [r for r in admin if (r.get("user") or r.get("Username")) == ent]
            details = [(r.get("fullaction") or r.get("Full Action Name"), r.get("info") or r.get("Details") or "")
                       for r in mine]
            i_role = next(i for i, (fa, info) in enumerate(details)
                          if fa in ("adminhtml_user_role_saverole", "adminhtml_user_save") and "Administrators" in info)
            counts = [int(m.group(1)) for fa, info in details[i_role:]
                      if "export" in fa and (m := re.search(r"(\d+) records", info)) and info.startswith("customer")]
            assert counts and max(counts) >= 1_000, g
        elif pb == "api-client-customer-scraping":
            mine = [r for r in app if r.get("actor.api_client") == ent and r.get("resource.type") == "customer"]
            assert len({r.get("resource.owner_id") for r in mine}) >= 100, g
        elif pb == "pan-in-application-log":
            logs = [r for r in _scenario_events(recs, g, "magento_log") if r.file.name.startswith(ent)]
            tenant_app = [r for r in app if r.get("tenant") == ent]
            assert any(has_pan(r.data) for r in logs) or any(has_pan(r.get("message", "")) for r in tenant_app), g
        elif pb == "pii-to-untrusted-webhook":
            mine = [r for r in app if r.get("kind") == "webhook" and r.get("dst.url", "").split("/")[2] == ent]
            assert mine and all(r.get("dst.url").startswith("http://") or ent not in APPROVED_WEBHOOK_HOSTS
                                for r in mine), g
            assert all("@" in r.get("body", "") for r in mine), g
        elif pb == "cross-customer-data-exposure":
            mine = [r for r in app if r.get("actor.customer_id") == ent and r.get("resource.owner_id")]
            assert any(r.get("resource.owner_id") != ent for r in mine), g
        elif pb == "dsr-wrong-subject":
            mine = [r for r in app if r.get("kind") == "dsr" and r.get("actor.customer_id") == ent]
            assert mine and all(r.get("resource.owner_id") != ent for r in mine), g
        elif pb == "waf-attack-then-data-response":
            waf = [r for r in _scenario_events(recs, g, "aws_waf") if r.get("httpRequest.clientIp") == ent]
            sqli = [r for r in waf if r.data["action"] == "ALLOW" and {"name": SQLI_LABEL} in r.data.get("labels", [])]
            big = [r for r in app if r.get("src.ip") == ent and r.get("http.response_bytes", 0) >= 1_000_000]
            assert sqli and big and min(r.time for r in sqli) < min(r.time for r in big), g
            assert (min(r.time for r in big) - min(r.time for r in sqli)) < dt.timedelta(minutes=15), g
        elif pb == "admin-credential-stuffing-success":
            mine = [r for r in admin if ent in r.text and (r.get("action") or r.get("Action", "")).lower() == "login"]
            fails = [r for r in mine if (r.get("status") or r.get("Result")).lower() == "failure"]
            ok = [r for r in mine if (r.get("status") or r.get("Result")).lower() == "success"]
            assert len(fails) >= 30 and len({r.get("user") or r.get("Username") for r in fails}) >= 10, g
            assert ok and max(r.time for r in fails) <= min(r.time for r in ok), g
        elif pb == "login-as-customer-abuse":
            lac = [r for r in admin if r.file.name.startswith("login_as_customer_log") and r.get("user_name") == ent]
            lo, hi = SUPPORT_HOURS_UTC
            assert lac and all(ent not in SUPPORT_STAFF or not lo <= r.time.hour < hi for r in lac), g
        elif pb == "payment-token-offsite-script":
            mine = [r for r in app if r.get("kind") == "script" and r.get("dst.url", "").split("/")[2] == ent]
            assert mine and ent not in ALLOWED_SCRIPT_HOSTS and all(has_pan(r.get("body", "")) for r in mine), g


# ---------------------------------------------------------------------------------- benign look-alikes
def test_erp_exports_every_night_without_escalation(recs: dict[str, list[Record]]) -> None:
    erp = [r for r in recs["magento_action_log"] if (r.get("user") or r.get("Username")) == ERP_USER]
    exports = [r for r in erp if "records" in (r.get("info") or r.get("Details") or "")
               and (r.get("info") or r.get("Details")).startswith("customer:")]
    days = {(r.file.name.endswith(".csv"), r.time.date()) for r in exports}
    assert len(days) == 2 * DAYS  # both instances, every night
    assert all(r.time.hour == 2 for r in exports)
    assert all(int(re.search(r"(\d+) records", r.get("info") or r.get("Details")).group(1)) >= 1_000 for r in exports)  # type: ignore[union-attr]
    assert not [r for r in erp if (r.get("event_code") or r.get("Action Group")) in ("admin_accounts", "Admin Permissions")]


def test_benign_login_as_customer_is_support_in_support_hours(recs: dict[str, list[Record]],
                                                              truth: list[dict[str, str]]) -> None:
    lac = [r for r in recs["magento_action_log"] if r.file.name.startswith("login_as_customer_log")]
    benign = [r for r in lac if _outside_all(r, truth, "login-as-customer-abuse")]
    lo, hi = SUPPORT_HOURS_UTC
    assert benign and all(r.get("user_name") in SUPPORT_STAFF and lo <= r.time.hour < hi for r in benign)


def test_benign_webhooks_go_to_approved_hosts_over_https(recs: dict[str, list[Record]],
                                                         truth: list[dict[str, str]]) -> None:
    hooks = [r for r in recs["app_json"] if r.get("kind") == "webhook"]
    benign = [r for r in hooks if _outside_all(r, truth, "pii-to-untrusted-webhook")]
    assert benign and any("@" in r.get("body", "") for r in benign)  # PII, but to trusted hosts
    for r in benign:
        assert r.get("dst.url").startswith("https://") and r.get("dst.url").split("/")[2] in APPROVED_WEBHOOK_HOSTS


def test_benign_scripts_stay_on_allowed_hosts_without_pans(recs: dict[str, list[Record]],
                                                           truth: list[dict[str, str]]) -> None:
    scripts = [r for r in recs["app_json"] if r.get("kind") == "script"]
    benign = [r for r in scripts if _outside_all(r, truth, "payment-token-offsite-script")]
    assert benign
    for r in benign:
        assert r.get("dst.url").split("/")[2] in ALLOWED_SCRIPT_HOSTS and not has_pan(r.get("body", ""))


def test_customers_see_only_their_own_data_outside_scenarios(recs: dict[str, list[Record]],
                                                             truth: list[dict[str, str]]) -> None:
    views = [r for r in recs["app_json"] if r.get("kind") in ("storefront", "dsr") and r.get("resource.owner_id")]
    leaks = [r for r in views if r.get("resource.owner_id") != r.get("actor.customer_id")
             and _outside_all(r, truth, "cross-customer-data-exposure") and _outside_all(r, truth, "dsr-wrong-subject")]
    assert views and not leaks


def test_blocked_bots_and_search_false_positives_have_no_follow_up(recs: dict[str, list[Record]],
                                                                   truth: list[dict[str, str]]) -> None:
    sqli_ips = {r.get("httpRequest.clientIp") for r in recs["aws_waf"]
                if {"name": SQLI_LABEL} in r.data.get("labels", []) and _outside_all(r, truth, "waf-attack-then-data-response")}
    blocked = {r.get("httpRequest.clientIp") for r in recs["aws_waf"] if r.data["action"] == "BLOCK"}
    assert sqli_ips and blocked
    app_ips = {r.get("src.ip") for r in recs["app_json"]}
    assert not (sqli_ips | blocked) & app_ips


def test_api_clients_read_few_customers_outside_scraping(recs: dict[str, list[Record]],
                                                         truth: list[dict[str, str]]) -> None:
    per_client_day: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    for r in recs["app_json"]:
        if (r.get("kind") == "api" and r.get("resource.type") == "customer" and r.get("resource.owner_id")
                and _outside_all(r, truth, "api-client-customer-scraping")):
            per_client_day[(r.get("actor.api_client"), r.time.date())].add(r.get("resource.owner_id"))
    assert per_client_day and max(len(v) for v in per_client_day.values()) <= 10


def test_failed_admin_logins_are_thin_outside_stuffing(recs: dict[str, list[Record]],
                                                       truth: list[dict[str, str]]) -> None:
    fails: dict[str, list[Record]] = defaultdict(list)
    for r in recs["magento_action_log"]:
        status = r.get("status") or r.get("Result")
        if isinstance(status, str) and status.lower() == "failure" and _outside_all(r, truth, "admin-credential-stuffing-success"):
            fails[r.get("IP Address") or r.text.rsplit(" ", 1)[-1]].append(r)
    assert fails
    for ip, rs in fails.items():
        per_day = Counter(r.time.date() for r in rs)
        assert max(per_day.values()) <= 6, ip


def test_no_full_pan_in_logs_outside_the_pan_scenarios(recs: dict[str, list[Record]],
                                                       truth: list[dict[str, str]]) -> None:
    masked = [r for r in recs["magento_log"] if "411111******1111" in r.data or "XXXX-XXXX-XXXX-" in r.data]
    assert masked  # the look-alike exists
    for fmt in ("magento_log", "app_json"):
        for r in recs[fmt]:
            text = r.data if isinstance(r.data, str) else r.get("message", "")
            if has_pan(text):
                assert not _outside_all(r, truth, "pan-in-application-log"), text[:200]


# --------------------------------------------------------------------------------------------- CLI, docs
def test_cli_writes_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["generate", "--out", str(tmp_path), "--days", "1", "--seed", "9", "--events-per-day", "600",
               "--start", "2026-12-24", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["start"] == "2026-12-24" and set(summary["events"]) == set(FORMAT_NAMES)
    assert summary["total_events"] == sum(summary["events"].values())
    assert {json.loads(x)["playbook"] for x in (tmp_path / "ground_truth.jsonl").read_text().splitlines()} == PLAYBOOKS
    first = next(iter(json_lines(next((tmp_path / "aws_waf").iterdir()))))
    assert first["timestamp"] >= 1_798_070_400_000


@pytest.mark.parametrize("argv, message", [
    (["--days", "0", "--seed", "1"], "--days must be at least 1"),
    (["--days", "1", "--seed", "-3"], "--seed must be a non-negative integer"),
    (["--days", "1", "--seed", "1", "--events-per-day", "5"], "--events-per-day must be at least 100"),
])
def test_cli_refuses_bad_arguments_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    assert main(["generate", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_docs_name_the_folders_allow_lists_and_support_staff() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for name in (*FORMAT_NAMES, *APPROVED_WEBHOOK_HOSTS, *ALLOWED_SCRIPT_HOSTS, *UNTRUSTED_WEBHOOK_HOSTS,
                 *OFFSITE_SCRIPT_HOSTS, *SUPPORT_STAFF, *PLAYBOOKS, "ground_truth.jsonl", ERP_USER):
        assert name in doc, name


def test_text_reader_sees_gzip_and_plain(run: tuple[Path, object]) -> None:
    out = run[0]
    assert read_text(next((out / "aws_waf").iterdir())).startswith('{"timestamp":')
    assert read_text(next((out / "app_json").iterdir())).startswith('{"ts":')


@pytest.mark.parametrize("days", [1, 3, 7])
def test_scenario_plans_stay_in_the_period_for_many_seeds(days: int) -> None:
    from breachline.generate.model import build_store
    from breachline.generate.scenarios import plan_scenarios

    store = build_store(0)
    start_us = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
    end_us = start_us + days * 86_400 * 1_000_000
    for seed in range(25):
        plan = plan_scenarios(store, seed, start_us, days)
        assert {g.playbook for g in plan.truths} == PLAYBOOKS
        for (fmt, stream), rows in plan.rows.items():
            assert all(start_us <= r["ts"] < end_us for r in rows), (seed, fmt, stream)
        per_playbook: dict[str, list[str]] = defaultdict(list)
        for g in plan.truths:
            per_playbook[g.playbook].append(g.entity)
            if g.playbook == "login-as-customer-abuse" and g.entity in SUPPORT_STAFF:
                lo, hi = SUPPORT_HOURS_UTC
                assert not any(lo <= h < hi for h in (g.start.hour, g.end.hour)), (seed, g)
        for pb, entities in per_playbook.items():
            if pb != "pan-in-application-log":
                assert len(entities) == len(set(entities)), (seed, pb, entities)
