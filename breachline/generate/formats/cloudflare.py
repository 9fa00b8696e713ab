"""Cloudflare Logpush `firewall_events` for the b2b-store's three zones, one Logpush job (and file) per zone.

Field names and enums: shared/external/waf/cloudflare_fields. Each job has its own `timestamp_format`, so all
three Datetime encodings occur every day: b2b.example.com writes RFC 3339, api.b2b.example.com unix seconds,
media.example.com unix nanoseconds. Firewall events exist only for requests a security rule matched, so the
traffic here is bots (blocked, challenged), rate limiting, the custom "skip" rule for partners, and managed
rules in log mode.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import numpy as np
import polars as pl

from breachline.generate.formats.base import DayContext, FormatWriter, Rendered, Schema, by_time, split
from breachline.generate.formats.http_pools import (
    BOT_LFI,
    BOT_PATHS,
    BOT_SQLI,
    BOT_UAS,
    BOT_XSS,
    BROWSER_UA_WEIGHTS,
    BROWSER_UAS,
    CRAWLER_UAS,
    qs,
)
from breachline.generate.model import API_CLIENTS, B2B_API_HOST, B2B_HOST, MEDIA_HOST
from breachline.generate.vec import (
    DType,
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

# zone stream -> (host, Datetime encoding)
ZONES: dict[str, tuple[str, str]] = {
    "b2b": (B2B_HOST, "rfc3339"),
    "api": (B2B_API_HOST, "unix"),
    "media": (MEDIA_HOST, "unixnano"),
}
ZONE_SHARE = {"b2b": 0.55, "api": 0.30, "media": 0.15}

COLO = {"DE": "FRA", "FR": "CDG", "GB": "LHR", "NL": "AMS", "IT": "MXP", "ES": "MAD", "PL": "WAW", "SE": "ARN",
        "AT": "VIE", "CH": "ZRH", "US": "IAD", "CA": "YYZ", "BE": "BRU", "DK": "CPH", "RU": "ARN", "VN": "SIN",
        "SG": "SIN", "CN": "HKG", "UA": "WAW", "LV": "RIX"}
ASN = {"DE": (3320, "DTAG Internet service provider operations"), "FR": (3215, "Orange S.A."),
       "GB": (2856, "British Telecommunications PLC"), "NL": (1136, "KPN B.V."), "IT": (3269, "Telecom Italia S.p.A."),
       "ES": (3352, "TELEFONICA DE ESPANA S.A.U."), "PL": (5617, "Orange Polska Spolka Akcyjna"),
       "SE": (3301, "Telia Company AB"), "AT": (8447, "A1 Telekom Austria AG"), "CH": (3303, "Swisscom (Schweiz) AG"),
       "US": (7922, "COMCAST-7922"), "CA": (577, "BACOM"), "BE": (5432, "Proximus NV"), "DK": (3292, "TDC Holding A/S")}
HOSTING_ASN = {"RU": (9009, "M247 Europe SRL"), "DE": (24940, "Hetzner Online GmbH"), "VN": (135905, "VNPT"),
               "US": (14061, "DIGITALOCEAN-ASN"), "SG": (14061, "DIGITALOCEAN-ASN"), "NL": (60781, "LeaseWeb Netherlands B.V."),
               "CN": (4134, "CHINANET-BACKBONE"), "UA": (9009, "M247 Europe SRL"), "LV": (9009, "M247 Europe SRL")}


class Rule:
    """One security rule outcome: which product (Source), which rule, what the client got."""

    def __init__(self, action: str, source: str, rule_id: str, description: str, edge: int, origin: int,
                 clients: str, payloads: tuple[str, ...] = (), param: str = "id") -> None:
        self.action, self.source, self.rule_id, self.description = action, source, rule_id, description
        self.edge, self.origin, self.clients = edge, origin, clients
        self.queries = tuple("?" + qs(param, p) for p in payloads) or ("",)


RULES: tuple[tuple[Rule, float], ...] = (
    (Rule("block", "firewallmanaged", "5c5e1d4f3b7a4c2e9f8d6b1a0c3e5f71", "SQLi - UNION in MSSQL and SQLite", 403, 0,
          "bots", BOT_SQLI), 0.14),
    (Rule("block", "firewallmanaged", "8e9f1c2d3b4a5e6f7a8b9c0d1e2f3a4b", "XSS - HTML Injection", 403, 0, "bots",
          BOT_XSS, "q"), 0.07),
    (Rule("block", "firewallmanaged", "a1b2c3d4e5f60718293a4b5c6d7e8f90", "Directory Traversal - Linux Files", 403, 0,
          "bots", BOT_LFI, "file"), 0.06),
    (Rule("managedchallenge", "bic", "", "", 403, 0, "bots"), 0.10),
    (Rule("managedchallenge", "securitylevel", "", "", 403, 0, "bots"), 0.08),
    (Rule("jschallenge", "botfight", "", "", 403, 0, "bots"), 0.05),
    (Rule("block", "ratelimit", "3f1b2c8d9e0a4b5c6d7e8f9a0b1c2d3e", "b2b API rate limit (100 req/10s)", 429, 0,
          "bots"), 0.06),
    (Rule("block", "country", "", "", 403, 0, "bots"), 0.04),
    (Rule("skip", "firewallcustom", "0d6e2b1c7a9f4e3d8c5b2a1f0e9d8c7b", "Skip WAF for ERP and partner integrations",
          200, 200, "partners"), 0.22),
    (Rule("log", "firewallmanaged", "6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e", "Anomaly:Header:Content-Type - Missing", 200,
          200, "customers"), 0.10),
    (Rule("managedchallengenoninteractivesolved", "bic", "", "", 200, 200, "customers"), 0.08),
)

SCHEMA: Schema = {
    "ts": pl.Int64,
    "action": pl.String,
    "asn": pl.Int64,
    "asn_desc": pl.String,
    "country": pl.String,  # lower case, as Cloudflare writes it
    "ip": pl.String,
    "ip_class": pl.String,
    "referer_host": pl.String,
    "method": pl.String,
    "path": pl.String,
    "query": pl.String,
    "ua": pl.String,
    "description": pl.String,
    "colo": pl.String,
    "edge_status": pl.Int64,
    "origin_status": pl.Int64,
    "ray_id": pl.String,
    "rule_id": pl.String,
    "source": pl.String,
}

_LINE = (
    '{"Action":«action»,"ClientASN":«asn»,"ClientASNDescription":«asn_desc»,"ClientCountry":«country»,'
    '"ClientIP":«ip»,"ClientIPClass":«ip_class»,"ClientRefererHost":«ref_host»,"ClientRefererPath":«ref_path»,'
    '"ClientRefererQuery":"","ClientRefererScheme":«ref_scheme»,"ClientRequestHost":«host»,'
    '"ClientRequestMethod":«method»,"ClientRequestPath":«path»,"ClientRequestProtocol":"HTTP/2",'
    '"ClientRequestQuery":«query»,"ClientRequestScheme":"https","ClientRequestUserAgent":«ua»,'
    '"Datetime":«datetime»,"Description":«description»,"EdgeColoCode":«colo»,"EdgeResponseStatus":«edge»,'
    '"Kind":"firewall","MatchIndex":0,"Metadata":{},"OriginResponseStatus":«origin»,"OriginatorRayID":"00",'
    '"RayID":«ray»,"Ref":"","RuleID":«rule_id»,"Source":«source»}'
)


def render_lines(df: pl.DataFrame, encoding: str, host: str) -> pl.Series:
    if encoding == "rfc3339":
        datetime = pl.concat_str([pl.lit('"'), pl.from_epoch("ts", time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  pl.lit('"')])
    elif encoding == "unix":
        datetime = (pl.col("ts") // 1_000_000).cast(pl.String)
    else:  # unixnano: Cloudflare's nanoseconds; the last three digits are what the µs clock cannot know
        datetime = pl.concat_str([pl.col("ts").cast(pl.String), (pl.col("ts") * 7 % 1000).cast(pl.String).str.zfill(3)])
    parts = {
        "action": jstr("action"), "asn": pl.col("asn").cast(pl.String), "asn_desc": jstr("asn_desc"),
        "country": jstr("country"), "ip": jstr("ip"), "ip_class": jstr("ip_class"),
        "ref_host": jstr(pl.col("referer_host").fill_null("")),
        "ref_path": pl.when(pl.col("referer_host").is_null()).then(pl.lit('""')).otherwise(pl.lit('"/"')),
        "ref_scheme": pl.when(pl.col("referer_host").is_null()).then(pl.lit('""')).otherwise(pl.lit('"https"')),
        "host": pl.lit(f'"{host}"'), "method": jstr("method"), "path": jstr("path"), "query": jstr("query"),
        "ua": jstr("ua"), "datetime": datetime, "description": jstr("description"), "colo": jstr("colo"),
        "edge": pl.col("edge_status").cast(pl.String), "origin": pl.col("origin_status").cast(pl.String),
        "ray": jstr("ray_id"), "rule_id": jstr("rule_id"), "source": jstr("source"),
    }
    return df.select(template(_LINE, parts)).to_series()


def ray_id(rng: np.random.Generator) -> str:
    return rng.bytes(8).hex()


def scenario_row(rng: np.random.Generator, ts: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(SCHEMA)
    row.update(ts=ts, ray_id=ray_id(rng), asn=0, asn_desc="", ip_class="noRecord", colo="FRA", referer_host=None,
               query="", description="", rule_id="")
    row.update(fields)
    return row


class CloudflareWriter(FormatWriter):
    name: ClassVar[str] = "cloudflare_firewall"
    share: ClassVar[float] = 0.10
    schemas: ClassVar[dict[str, Schema]] = {zone: SCHEMA for zone in ZONES}
    gzip: ClassVar[bool] = True

    def path(self, stream: str, date: dt.date) -> str:
        host, encoding = ZONES[stream]
        return f"firewall_events-{host}-{date.isoformat()}.{encoding}.jsonl.gz"

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        host, encoding = ZONES[stream]
        return by_time(df, render_lines(df, encoding, host))

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        return {zone: self._zone(ctx, n) for zone, n in split(ctx.n, ZONE_SHARE).items()}

    def _zone(self, ctx: DayContext, n: int) -> pl.DataFrame:
        """n firewall events: a rule per row, then the client population that rule sees (bots, customers,
        partner integrations), all by vectorised selection."""
        rng, store = ctx.rng, ctx.store
        rules = [r for r, _ in RULES]
        weights = np.array([w for _, w in RULES])
        ri = rng.choice(len(rules), size=n, p=weights / weights.sum())

        def per_rule(values: list[Any], dtype: DType = pl.String) -> pl.Series:
            return pl.Series(values=values, dtype=dtype).gather(ri)

        klass = np.array([{"bots": 0, "customers": 1, "partners": 2}[r.clients] for r in rules])[ri]
        bot, cust = klass == 0, klass == 1
        counts = np.array([len(r.queries) for r in rules])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        qi = offsets[ri] + (rng.random(n) * counts[ri]).astype(np.int64)
        queries = pl.Series(values=[q for r in rules for q in r.queries], dtype=pl.String).gather(qi)
        bi = rng.integers(0, len(store.bots), n)
        ci = rng.integers(0, len(store.customer_nets), n)
        pi = rng.integers(0, len(API_CLIENTS), n)
        ip = where(bot, store.bots.ips.gather(bi), where(cust, store.customer_nets.ips.gather(ci),
                                                         pl.Series(values=[c.ip for c in API_CLIENTS]).gather(pi)))
        country = where(bot, store.bots.countries.gather(bi),
                        where(cust, store.customer_nets.countries.gather(ci), const("DE", n)))
        ua = where(bot, where(rng.random(n) < 0.15, pick(rng, CRAWLER_UAS, n), pick(rng, BOT_UAS, n)),
                   where(cust, pick(rng, BROWSER_UAS, n, BROWSER_UA_WEIGHTS),
                         pl.Series(values=[c.user_agent for c in API_CLIENTS]).gather(pi)))
        path = where(bot, pick(rng, BOT_PATHS, n),
                     where(cust, pick(rng, ("/", "/checkout/", "/customer/account/", "/quickorder/",
                                            "/requisition_list/"), n),
                           pick(rng, ("/rest/V1/orders", "/rest/V1/products", "/rest/V1/stockItems/lowStock",
                                      "/rest/V1/invoices"), n)))
        method = where(bot, pick(rng, ("GET", "POST"), n, (0.85, 0.15)), pick(rng, ("GET", "POST"), n, (0.75, 0.25)))
        hosting = country.replace_strict({k: v[0] for k, v in HOSTING_ASN.items()}, default=0, return_dtype=pl.Int64)
        isp = country.replace_strict({k: v[0] for k, v in ASN.items()}, default=0, return_dtype=pl.Int64)
        asn = where(bot, hosting, where(cust, isp, const(16509, n, pl.Int64)))
        asn_desc = where(bot, country.replace_strict({k: v[1] for k, v in HOSTING_ASN.items()}, default="",
                                                     return_dtype=pl.String),
                         where(cust, country.replace_strict({k: v[1] for k, v in ASN.items()}, default="",
                                                            return_dtype=pl.String), const("AMAZON-02", n)))
        ip_class = where(bot, pick(rng, ("badHost", "unknown", "tor", "scan"), n, (0.3, 0.45, 0.1, 0.15)),
                         where(cust, const("noRecord", n), const("allowlist", n)))
        ts = day_times(rng, ctx.start_us, n)[rng.permutation(n)]
        return frame(SCHEMA, n, {
            "ts": ts, "action": per_rule([r.action for r in rules]), "asn": asn, "asn_desc": asn_desc,
            "country": country.str.to_lowercase(), "ip": ip, "ip_class": ip_class,
            "referer_host": where(rng.random(n) < 0.3, pick(rng, (B2B_HOST, "www.google.com"), n), nulls(n)),
            "method": method, "path": path, "query": queries, "ua": ua,
            "description": per_rule([r.description for r in rules]),
            "colo": country.replace_strict(COLO, default="FRA", return_dtype=pl.String),
            "edge_status": per_rule([r.edge for r in rules], pl.Int64),
            "origin_status": per_rule([r.origin for r in rules], pl.Int64), "ray_id": random_strings(rng, n, 16),
            "rule_id": per_rule([r.rule_id for r in rules]), "source": per_rule([r.source for r in rules]),
        })
