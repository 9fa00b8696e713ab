"""AWS WAF v2 web ACL logs for the eu-store ALB, as Kinesis Data Firehose delivers them to S3 (gzipped JSON lines).

Record shape and key order follow the AWS documentation samples (shared/external/waf/aws_waf). The web ACL runs
four AWS managed rule groups; the SQLi group's SQLi_QUERYARGUMENTS rule is overridden to COUNT on the search
page (false positives on names like O'Brien), which is the gap the waf-attack-then-data-response scenario uses.
A COUNT match shows in `ruleGroupList[].nonTerminatingMatchingRules` with the top-level `action` ALLOW, and
in `labels` (`awswaf:managed:aws:sql-database:SQLi_QueryArguments`) exactly as a BLOCK would.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema, by_time
from breachline.generate.formats.http_pools import (
    ACCEPT_HTML,
    BOT_LFI,
    BOT_PATHS,
    BOT_SQLI,
    BOT_UAS,
    BOT_XSS,
    BROWSER_UA_WEIGHTS,
    BROWSER_UAS,
    CRAWLER_UAS,
    LANG_BY_COUNTRY,
    SEARCH_FP,
    SEARCH_PATH,
    STOREFRONT_ROUTES,
    qs,
    sample_routes,
    sqli_tokens,
)
from breachline.generate.model import EU_HOST
from breachline.generate.vec import (
    StringPool,
    cat,
    const,
    day_times,
    frame,
    jstr,
    nulls,
    pick,
    random_strings,
    template,
    where,
)

WEB_ACL = "arn:aws:wafv2:eu-central-1:111122223333:regional/webacl/eu-store/3c1e9a52-7b4d-4f0e-9d61-2a8f5b0c7e14"
SOURCE_ID = "111122223333-app/eu-store-alb/6f0d2b9c8a4e1d37"

IP_REP = "AWS#AWSManagedRulesAmazonIpReputationList"
COMMON = "AWS#AWSManagedRulesCommonRuleSet"
SQLI = "AWS#AWSManagedRulesSQLiRuleSet"
GROUPS = (IP_REP, COMMON, SQLI)  # evaluation order (web ACL priority)
ACL_RULE = {g: g.replace("AWS#", "AWS-") for g in GROUPS}  # the web ACL's rule name for each group

LABEL_SQLI = "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
LABEL_XSS = "awswaf:managed:aws:core-rule-set:CrossSiteScripting_QueryArguments"
LABEL_NO_UA = "awswaf:managed:aws:core-rule-set:NoUserAgent_Header"
LABEL_IP_REP = "awswaf:managed:aws:amazon-ip-list:AWSManagedIPReputationList"
LABEL_LFI = "awswaf:managed:aws:core-rule-set:GenericLFI_QueryArguments"
LABEL_SIZE = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _group(gid: str, terminating: dict[str, Any] | None = None, non_terminating: list[Any] | None = None) -> dict[str, Any]:
    return {"ruleGroupId": gid, "terminatingRule": terminating, "nonTerminatingMatchingRules": non_terminating or [],
            "excludedRules": None}


def _verdict(
    term_id: str, term_type: str, action: str, details: list[Any], groups: list[dict[str, Any]], labels: list[str]
) -> tuple[str, str, str]:
    """(term, groups, labels) JSON fragments, spliced into the record template."""
    term = (
        f'"terminatingRuleId":{_dumps(term_id)},"terminatingRuleType":{_dumps(term_type)},"action":{_dumps(action)},'
        f'"terminatingRuleMatchDetails":{_dumps(details)}'
    )
    grp = f'"ruleGroupList":{_dumps(groups)},"rateBasedRuleList":[],"nonTerminatingMatchingRules":[]'
    lab = f',"labels":{_dumps([{"name": x} for x in labels])}' if labels else ""
    return term, grp, lab


def verdict_allow() -> tuple[str, str, str]:
    return _verdict("Default_Action", "REGULAR", "ALLOW", [], [_group(g) for g in GROUPS], [])


def _sqli_detail(payload: str) -> dict[str, Any]:
    return {"conditionType": "SQL_INJECTION", "sensitivityLevel": "LOW", "location": "ALL_QUERY_ARGS",
            "matchedData": sqli_tokens(payload)}


def verdict_sqli_block(payload: str) -> tuple[str, str, str]:
    groups = [_group(g) for g in GROUPS[:2]]
    groups.append(_group(SQLI, {"ruleId": "SQLi_QUERYARGUMENTS", "action": "BLOCK", "ruleMatchDetails": None}))
    return _verdict(ACL_RULE[SQLI], "MANAGED_RULE_GROUP", "BLOCK", [_sqli_detail(payload)], groups, [LABEL_SQLI])


def verdict_sqli_count(payload: str) -> tuple[str, str, str]:
    """SQLi rule matched in COUNT mode (search page override): the request is allowed."""
    groups = [_group(g) for g in GROUPS[:2]]
    groups.append(_group(SQLI, None, [{"ruleId": "SQLi_QUERYARGUMENTS", "action": "COUNT", "overriddenAction": "BLOCK",
                                       "ruleMatchDetails": [_sqli_detail(payload)]}]))
    return _verdict("Default_Action", "REGULAR", "ALLOW", [], groups, [LABEL_SQLI])


def verdict_xss_block(payload: str) -> tuple[str, str, str]:
    detail = {"conditionType": "XSS", "location": "ALL_QUERY_ARGS", "matchedData": [payload[:1], payload[1:8]]}
    groups = [_group(IP_REP), _group(COMMON, {"ruleId": "CrossSiteScripting_QUERYARGUMENTS", "action": "BLOCK",
                                               "ruleMatchDetails": None})]
    return _verdict(ACL_RULE[COMMON], "MANAGED_RULE_GROUP", "BLOCK", [detail], groups, [LABEL_XSS])


def verdict_no_ua_block() -> tuple[str, str, str]:
    groups = [_group(IP_REP), _group(COMMON, {"ruleId": "NoUserAgent_HEADER", "action": "BLOCK", "ruleMatchDetails": None})]
    return _verdict(ACL_RULE[COMMON], "MANAGED_RULE_GROUP", "BLOCK", [], groups, [LABEL_NO_UA])


def verdict_ip_rep_block() -> tuple[str, str, str]:
    groups = [_group(IP_REP, {"ruleId": "AWSManagedIPReputationList", "action": "BLOCK", "ruleMatchDetails": None})]
    return _verdict(ACL_RULE[IP_REP], "MANAGED_RULE_GROUP", "BLOCK", [], groups, [LABEL_IP_REP])


def verdict_lfi_block() -> tuple[str, str, str]:
    groups = [_group(IP_REP), _group(COMMON, {"ruleId": "GenericLFI_QUERYARGUMENTS", "action": "BLOCK",
                                               "ruleMatchDetails": None})]
    return _verdict(ACL_RULE[COMMON], "MANAGED_RULE_GROUP", "BLOCK", [], groups, [LABEL_LFI])


def verdict_size_count() -> tuple[str, str, str]:
    groups = [_group(IP_REP), _group(COMMON, None, [{"ruleId": "SizeRestrictions_BODY", "action": "COUNT",
                                                      "overriddenAction": "BLOCK", "ruleMatchDetails": []}]),
              _group(SQLI)]
    return _verdict("Default_Action", "REGULAR", "ALLOW", [], groups, [LABEL_SIZE])


SCHEMA: Schema = {
    "ts": pl.Int64,
    "ip": pl.String,
    "country": pl.String,
    "method": pl.String,
    "uri": pl.String,
    "args": pl.String,
    "http_version": pl.String,
    "ua": pl.String,  # null: no User-Agent header
    "accept_language": pl.String,
    "referer": pl.String,  # null: none
    "cookie": pl.String,  # null: none
    "request_id": pl.String,
    "term": pl.String,
    "groups": pl.String,
    "labels": pl.String,
}

_LINE = (
    '{"timestamp":«ms»,"formatVersion":1,"webaclId":' + json.dumps(WEB_ACL) + ",«term»,"
    '"httpSourceName":"ALB","httpSourceId":' + json.dumps(SOURCE_ID) + ",«groups»,"
    '"httpRequest":{"clientIp":«ip»,"country":«country»,"headers":['
    '{"name":"Host","value":' + json.dumps(EU_HOST) + "}"
    "«ua»"
    ',{"name":"Accept","value":«accept»}'
    ',{"name":"Accept-Language","value":«lang»}'
    ',{"name":"Accept-Encoding","value":"gzip, deflate, br"}'
    "«referer»«cookie»"
    '],"uri":«uri»,"args":«args»,"httpVersion":«ver»,"httpMethod":«method»,"requestId":«rid»}«labels»}'
)


def _q(col: str) -> pl.Expr:
    """Quote a column known to need no escaping (addresses, enums, ids, language tags)."""
    return pl.concat_str([pl.lit('"'), pl.col(col), pl.lit('"')])


def _header(name: str, col: str) -> pl.Expr:
    """An optional header entry: concat_str is null when the column is, and that becomes "" (no entry).
    Values come from pools of user agents, catalog URLs and alphanumeric cookies: quoting suffices (every
    record is parsed back as JSON in the tests)."""
    return pl.concat_str([pl.lit(f',{{"name":"{name}","value":"'), pl.col(col), pl.lit('"}')]).fill_null("")


def render_lines(df: pl.DataFrame) -> pl.Series:
    parts = {
        "ms": (pl.col("ts") // 1000).cast(pl.String),
        "term": pl.col("term"),
        "groups": pl.col("groups"),
        "labels": pl.col("labels"),
        "ip": _q("ip"),
        "country": _q("country"),
        "ua": _header("User-Agent", "ua"),
        "accept": pl.when(pl.col("method") == "GET").then(pl.lit(json.dumps(ACCEPT_HTML))).otherwise(
            pl.lit('"application/json, text/javascript, */*; q=0.01"')),
        "lang": _q("accept_language"),
        "referer": _header("Referer", "referer"),
        "cookie": _header("Cookie", "cookie"),
        "uri": jstr("uri"),
        "args": jstr("args"),
        "ver": _q("http_version"),
        "method": _q("method"),
        "rid": _q("request_id"),
    }
    return df.select(template(_LINE, parts)).to_series()


def request_id(rng: np.random.Generator) -> str:
    """ALB trace id, as AWS WAF logs it for ALB sources."""
    return f"1-{rng.bytes(4).hex()}-{rng.bytes(12).hex()}"


def scenario_row(rng: np.random.Generator, ts: int, ip: str, country: str, *, method: str, uri: str, args: str,
                 ua: str, verdict: tuple[str, str, str]) -> dict[str, Any]:
    term, groups, labels = verdict
    return {"ts": ts, "ip": ip, "country": country, "method": method, "uri": uri, "args": args,
            "http_version": "HTTP/1.1", "ua": ua, "accept_language": "en-US,en;q=0.9", "referer": None,
            "cookie": None, "request_id": request_id(rng), "term": term, "groups": groups, "labels": labels}


class AwsWafWriter(FormatWriter):
    name: ClassVar[str] = "aws_waf"
    share: ClassVar[float] = 0.36
    schemas: ClassVar[dict[str, Schema]] = {"waf": SCHEMA}
    gzip: ClassVar[bool] = True

    def __init__(self) -> None:
        self._allow = verdict_allow()
        # (args, verdict) pools per bot family; verdict fragments are rendered once, then gathered per row
        self._bot_pools: dict[str, list[tuple[str, tuple[str, str, str], bool]]] = {
            "sqli": [(qs(p, v), verdict_sqli_block(v), True) for v in BOT_SQLI for p in ("id", "product", "cat")],
            "xss_lfi": [(qs("q", v), verdict_xss_block(v), True) for v in BOT_XSS]
            + [(qs("file", v), verdict_lfi_block(), True) for v in BOT_LFI],
            "reputation_noua": [("", verdict_ip_rep_block(), True)] * 3 + [("", verdict_no_ua_block(), False)],
        }
        self._search_pool = [(qs("q", v), verdict_sqli_count(v), True) for v in SEARCH_FP]
        # a browser sends the same session cookie with every request: a pool of sessions is realistic and cheap
        self._sessions = StringPool(60_000, 26)

    def path(self, stream: str, date: dt.date) -> str:
        return f"waf-{date.isoformat()}.jsonl.gz"

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        rng, n = ctx.rng, ctx.n
        # browsers/crawlers (allowed) | blocked bots x3 families | benign SQLi COUNT on search | large-POST COUNT
        kinds = rng.choice(6, size=n, p=[0.955, 0.018, 0.008, 0.008, 0.004, 0.007])
        counts = [int((kinds == k).sum()) for k in range(6)]
        parts = [
            self._browsers(ctx, counts[0]),
            self._pooled(ctx, counts[1], self._bot_pools["sqli"], bots=True),
            self._pooled(ctx, counts[2], self._bot_pools["xss_lfi"], bots=True),
            self._pooled(ctx, counts[3], self._bot_pools["reputation_noua"], bots=True),
            self._pooled(ctx, counts[4], self._search_pool, bots=False),
            self._size_count(ctx, counts[5]),
        ]
        df = pl.concat(parts, how="vertical")
        # classes were built in blocks: spread them over the day's times at random
        ts = day_times(rng, ctx.start_us, df.height)[rng.permutation(df.height)]
        return {"waf": df.with_columns(ts=pl.Series(values=ts, dtype=pl.Int64))}

    def _request_ids(self, rng: np.random.Generator, n: int) -> pl.Series:
        return cat("1-", random_strings(rng, n, 8), "-", random_strings(rng, n, 24))

    def _browsers(self, ctx: DayContext, n: int) -> pl.DataFrame:
        rng, store = ctx.rng, ctx.store
        who = rng.integers(0, len(store.customer_nets), n)
        method, path, args = sample_routes(rng, n, STOREFRONT_ROUTES, store.catalog)
        ua = where(rng.random(n) < 0.04, pick(rng, CRAWLER_UAS, n), pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS))
        country = store.customer_nets.countries.gather(who)
        page = cat(f"https://{EU_HOST}/", store.catalog.gather(rng.integers(0, len(store.catalog), n)))
        cookie = cat("PHPSESSID=", self._sessions.draw(rng, n))
        term, groups, labels = self._allow
        return frame(SCHEMA, n, {
            "ts": np.zeros(n, dtype=np.int64), "ip": store.customer_nets.ips.gather(who), "country": country,
            "method": method, "uri": path, "args": args, "http_version": pick(rng, ("HTTP/2.0", "HTTP/1.1"), n, (0.8, 0.2)),
            "ua": ua, "accept_language": _lang(country), "referer": where(rng.random(n) < 0.45, page, nulls(n)),
            "cookie": cookie, "request_id": self._request_ids(rng, n), "term": term, "groups": groups, "labels": labels,
        })

    def _pooled(self, ctx: DayContext, n: int, pool: list[tuple[str, tuple[str, str, str], bool]], *, bots: bool) -> pl.DataFrame:
        """Requests whose args and verdict come from a payload pool (bots: blocked; search: SQLi COUNT)."""
        rng, store = ctx.rng, ctx.store
        ips = store.bots if bots else store.search_fp
        who = rng.integers(0, len(ips), n)
        i = rng.integers(0, len(pool), n)

        def take(values: list[Any]) -> pl.Series:
            return pl.Series(values=values, dtype=pl.String).gather(i)

        has_ua = pl.Series(values=[p[2] for p in pool], dtype=pl.Boolean).gather(i).to_numpy()
        country = ips.countries.gather(who)
        if bots:
            ua = where(has_ua, pick(rng, BOT_UAS, n), nulls(n))
            method = pick(rng, ("GET", "POST"), n, (0.85, 0.15))
            uri: pl.Series | str = pick(rng, BOT_PATHS, n)
            lang: pl.Series | str = "en-US,en;q=0.5"
        else:
            ua, method, uri, lang = pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS), const("GET", n), SEARCH_PATH, _lang(country)
        return frame(SCHEMA, n, {
            "ts": np.zeros(n, dtype=np.int64), "ip": ips.ips.gather(who), "country": country, "method": method,
            "uri": uri, "args": take([p[0] for p in pool]), "http_version": "HTTP/1.1" if bots else "HTTP/2.0",
            "ua": ua, "accept_language": lang, "referer": None if bots else f"https://{EU_HOST}/",
            "request_id": self._request_ids(rng, n), "term": take([p[1][0] for p in pool]),
            "groups": take([p[1][1] for p in pool]), "labels": take([p[1][2] for p in pool]),
        })

    def _size_count(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """Checkout and address POSTs over the body-size limit: counted, allowed (benign look-alike)."""
        rng, store = ctx.rng, ctx.store
        who = rng.integers(0, len(store.customer_nets), n)
        term, groups, labels = verdict_size_count()
        country = store.customer_nets.countries.gather(who)
        return frame(SCHEMA, n, {
            "ts": np.zeros(n, dtype=np.int64), "ip": store.customer_nets.ips.gather(who), "country": country,
            "method": "POST", "args": "", "http_version": "HTTP/2.0", "accept_language": _lang(country),
            "uri": pick(rng, ("/rest/eu_store/V1/carts/mine/payment-information", "/customer/address/formPost/"), n),
            "ua": pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS), "referer": f"https://{EU_HOST}/checkout/",
            "request_id": self._request_ids(rng, n), "term": term, "groups": groups, "labels": labels,
        })

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        return by_time(df, render_lines(df))


def _lang(country: pl.Series) -> pl.Series:
    return country.replace_strict(LANG_BY_COUNTRY, default="en-US,en;q=0.9", return_dtype=pl.String)
