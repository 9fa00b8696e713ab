"""Readers for what `breachline generate` writes (no tests here: helpers for tests/test_generate*.py).

Deliberately independent of the generator's code: each reader parses a file the way a consumer of that vendor
format would (JSON, CSV, Monolog entry headers), so the tests check the files, not the generator's intentions.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UTC = dt.UTC
MONOLOG_HEADER = re.compile(r"^\[(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{6}\+00:00)?)\] (\w+)\.([A-Z]+): ")
CSV_HEADER = ["Time", "Action Group", "Action", "IP Address", "Username", "Result", "Full Action Name", "Details"]


@dataclass
class Record:
    fmt: str
    file: Path
    time: dt.datetime
    data: Any  # dict for JSON / CSV rows, str for log entries
    text: str  # what an entity search looks at: the record text and the file name

    def get(self, path: str, default: Any = None) -> Any:
        cur = self.data
        for part in path.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
        return cur


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def json_lines(path: Path) -> Iterator[dict[str, Any]]:
    text = read_text(path)
    assert text.endswith("\n"), f"{path.name}: last line not terminated"
    for n, line in enumerate(text.split("\n")[:-1], 1):
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{path.name}:{n}: not an object"
        yield obj


def monolog_entries(path: Path) -> Iterator[str]:
    text = read_text(path)
    entry: list[str] = []
    for line in text.split("\n")[:-1]:
        if MONOLOG_HEADER.match(line):
            if entry:
                yield "\n".join(entry)
            entry = [line]
        else:
            assert entry, f"{path.name}: a continuation line before the first entry: {line[:80]}"
            entry.append(line)
    if entry:
        yield "\n".join(entry)


def _utc(text: str, fmt: str) -> dt.datetime:
    return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)


def _iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def records(out: Path) -> dict[str, list[Record]]:
    """Every record of every format folder, with its event time (UTC)."""
    res: dict[str, list[Record]] = {}

    def add(fmt: str, path: Path, t: dt.datetime, data: Any, text: str) -> None:
        res.setdefault(fmt, []).append(Record(fmt, path, t, data, f"{path.name} {text}"))

    for path in sorted((out / "aws_waf").iterdir()):
        for r in json_lines(path):
            add("aws_waf", path, dt.datetime.fromtimestamp(r["timestamp"] / 1000, UTC), r, json.dumps(r))
    for path in sorted((out / "cloudflare_firewall").iterdir()):
        encoding = path.name.split(".")[-3]
        for r in json_lines(path):
            d = r["Datetime"]
            if encoding == "rfc3339":
                assert isinstance(d, str), path.name
                t = _iso(d)
            elif encoding == "unix":
                assert isinstance(d, int) and d < 10**11, path.name
                t = dt.datetime.fromtimestamp(d, UTC)
            else:
                assert isinstance(d, int) and d > 10**17, path.name
                t = dt.datetime.fromtimestamp(d / 1e9, UTC)
            add("cloudflare_firewall", path, t, r, json.dumps(r))
    for path in sorted((out / "modsecurity").iterdir()):
        for r in json_lines(path):
            tx = r["transaction"]
            if "audit_data" in r:  # v2
                t = dt.datetime.strptime(tx["time"], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
            else:
                t = _utc(re.sub(r"\s+", " ", tx["time_stamp"]), "%a %b %d %H:%M:%S %Y")
            add("modsecurity", path, t, r, json.dumps(r))
    for path in sorted((out / "magento_action_log").iterdir()):
        if path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(read_text(path))))
            assert rows[0] == CSV_HEADER, path.name
            for row in rows[1:]:
                rec = dict(zip(CSV_HEADER, row, strict=True))
                add("magento_action_log", path, _utc(rec["Time"], "%b %d, %Y %I:%M:%S %p"), rec, json.dumps(rec))
        else:
            for r in json_lines(path):
                when = r.get("time") or r.get("created_at")
                text = json.dumps(r)
                if isinstance(r.get("ip"), int):  # magento_logging_event stores ip2long()
                    text += " " + ".".join(str(r["ip"] >> s & 255) for s in (24, 16, 8, 0))
                add("magento_action_log", path, _utc(when, "%Y-%m-%d %H:%M:%S"), r, text)
    for path in sorted((out / "magento_log").iterdir()):
        for entry in monolog_entries(path):
            m = MONOLOG_HEADER.match(entry)
            assert m, entry[:80]
            stamp = m.group(1)
            t = _iso(stamp) if "T" in stamp else _utc(stamp, "%Y-%m-%d %H:%M:%S")
            add("magento_log", path, t, entry, entry)
    for path in sorted((out / "shopify_events").iterdir()):
        for r in json_lines(path):
            add("shopify_events", path, _iso(r["created_at"]), r, json.dumps(r))
    for path in sorted((out / "app_json").iterdir()):
        for r in json_lines(path):
            ts = r["ts"]
            t = dt.datetime.fromtimestamp(ts / 1000, UTC) if isinstance(ts, int) else _iso(ts)
            add("app_json", path, t, r, json.dumps(r))
    return res


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def has_pan(text: str) -> bool:
    """A Luhn-valid 13-19 digit run, as a PAN scanner would find it."""
    return any(luhn_ok(m) for m in re.findall(r"(?<!\d)\d{13,19}(?!\d)", text))
