"""`breachline demo`: a store's week with injected attacks, through the whole pipeline, in one command."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breachline.config import Config, find_config, load_config
from breachline.store import open_store

FORMATS = ("aws_waf", "cloudflare_firewall", "modsecurity", "magento_action_log", "magento_log",
           "shopify_events", "app_json")


@dataclass(frozen=True)
class DemoPaths:
    out: Path

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    @property
    def config(self) -> Path:
        return self.out / "breachline.toml"

    @property
    def db(self) -> Path:
        return self.out / "breachline.duckdb"

    @property
    def console(self) -> Path:
        return self.out / "console-sink.log"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string accepts JSON's escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def write_demo_config(paths: DemoPaths, delivery_from: Config | None) -> None:
    """Sources for every generated folder; Jira/Slack/delivery tables copied from the user's own config."""
    lines = ["# Written by `breachline demo`.", "[database]", 'path = "breachline.duckdb"', ""]
    for fmt in FORMATS:
        if fmt == "magento_log":  # Magento logs do not say which store wrote them: one source per store
            for tenant in ("eu-store", "b2b-store"):
                lines += ["[[sources]]", f'name = "magento_log-{tenant}"', f'format = "{fmt}"',
                          f'location = "logs/{fmt}/{tenant}-*.log"', f'tenant = "{tenant}"', ""]
            continue
        lines += ["[[sources]]", f'name = "{fmt}"', f'format = "{fmt}"', f'location = "logs/{fmt}"', ""]
    if delivery_from is not None:
        for table in ("jira", "slack", "delivery"):
            values = getattr(delivery_from, table)
            if values:
                lines.append(f"[{table}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
                lines.append("")
    paths.config.write_text("\n".join(lines))


def prefect_api_reachable(url: str | None) -> bool:
    if not url:
        return False
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@contextmanager
def local_prefect() -> Iterator[str]:
    """The configured Prefect API if it answers; otherwise a temporary local server that Prefect starts itself
    (settings are already loaded from prefect.toml by then, so they are overridden in place, not via env)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    url = get_current_settings().api.url
    if prefect_api_reachable(url):
        yield f"the Prefect server at {url}"
        return
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield "a temporary local Prefect server (run `prefect server start` to keep the run history)"


def run_demo(out: Path, *, days: int, events_per_day: int, seed: int, use_prefect: bool) -> dict[str, Any]:
    from breachline.generate import generate_store

    paths = DemoPaths(out.resolve())
    user_config = load_config() if find_config() else None
    for stale in (paths.db, paths.db.with_suffix(".duckdb.wal"), paths.console):
        stale.unlink(missing_ok=True)
    if paths.logs.exists():
        shutil.rmtree(paths.logs)
    paths.out.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    say(f"1/3 generating {days} days of a store's logs with injected attacks → {paths.logs}")
    summary = generate_store(paths.logs, days=days, seed=seed, events_per_day=events_per_day)
    write_demo_config(paths, user_config)
    say(f"    {summary.total_events:,} raw events in {len(FORMATS)} formats, "
        f"{len(summary.scenarios)} injected incidents")

    if use_prefect:
        from flows.pipeline import pipeline_flow

        with local_prefect() as where:
            say(f"2/3 running the pipeline flow (ingest → correlate → notify) on {where}")
            pipeline_flow(config_path=str(paths.config), console_path=str(paths.console))
    else:
        say("2/3 running the pipeline (ingest → correlate → notify) without Prefect")
        from breachline.pipeline import correlate_step, ingest_step, notify_step

        config = load_config(paths.config)
        ingest_step(config)
        correlate_step(config)
        with paths.console.open("a", encoding="utf-8") as console:
            notify_step(config, console=console)
    say("3/3 summary")
    report = summarise(paths)
    report["seconds"] = round(time.monotonic() - t0, 1)
    report["ground_truth"] = str(paths.logs / "ground_truth.jsonl")
    return report


def summarise(paths: DemoPaths) -> dict[str, Any]:
    with open_store(paths.db, read_only=True, migrate_schema=False) as con:
        sources = con.execute(
            "SELECT source, count(*) FROM events GROUP BY source ORDER BY source").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
        incidents = con.execute(
            "SELECT playbook_id, count(*) FILTER (WHERE kind = 'incident'), sum(alert_count) FROM incidents"
            " GROUP BY playbook_id ORDER BY playbook_id").fetchall()
        sent = con.execute(
            "SELECT target, action, count(*) FROM outbox WHERE status = 'sent' GROUP BY ALL ORDER BY ALL").fetchall()
    return {
        "store": str(paths.db),
        "config": str(paths.config),
        "console_sink": str(paths.console),
        "events": {s: n for s, n in sources},
        "quarantined": quarantined[0] if quarantined else 0,
        "incidents": {p: {"incidents": n, "alerts": int(a or 0)} for p, n, a in incidents},
        "sent": [{"target": t, "action": a, "count": n} for t, a, n in sent],
    }


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
