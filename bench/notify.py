"""Delivery throughput against the Jira and Slack emulators, with and without faults, and the outbox's overhead.

    uv run python bench/notify.py [--alerts 2000] [--incidents 200] [--workers 8] [--json]

The emulators run as separate processes (python -m tests.emulators.jira / .slack), as a real service would.
Three measurements:
  clean    alerts -> incidents (assign), then deliver the outbox: actions/s (calls that reached the emulators)
  faults   the same with 20 % faults of every kind (timeouts 0.5 s, Retry-After 0-1 s, settle 1 s)
  overhead one worker, no faults: mean time per action calling the emulators directly with pre-rendered requests,
           through the outbox with a sink that answers at once (the outbox's own cost: select, render, redact,
           mark in flight, record), and through the outbox with the real sinks
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from breachline.store import connect  # noqa: E402
from connectors.outbox import deliver  # noqa: E402
from connectors.outbox.deliver import heads  # noqa: E402
from connectors.outbox.prepare import parse_payload, prepare  # noqa: E402
from connectors.outbox.views import load_incidents  # noqa: E402
from connectors.sinks import build_sinks  # noqa: E402
from correlators.incidents import IncidentPolicy, assign  # noqa: E402
from tests.emulators.common import Control  # noqa: E402
from tests.emulators.helpers import JIRA_ENV, T0, add_alerts, settings_for  # noqa: E402

FAULT_KINDS = ["429", "500", "502", "503", "slow", "drop", "drop_after"]
POLICY = {"bench": IncidentPolicy(alert_budget_per_hour=None)}


def start_emulator(module: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0"], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def load(db: str, alerts: int, incidents: int) -> Any:
    con = connect(db)
    add_alerts(con, [{"alert_id": f"b{n:06d}", "playbook": "bench", "user": f"user{n % incidents:04d}",
                      "at": T0 + timedelta(seconds=n)} for n in range(alerts)])
    assign(con, POLICY, T0)
    return con


def run_delivery(jira: str, slack: str, alerts: int, incidents: int, workers: int, faults: bool) -> dict[str, Any]:
    for url in (jira, slack):
        Control(url).reset()
        Control(url).faults(**({"rate": 0.2, "kinds": FAULT_KINDS, "retry_after": [0, 1], "slow_seconds": 0.8}
                               if faults else {}))
    extra: dict[str, Any] = {"settle": "1s", "max_attempts": 20} if faults else {}
    settings = settings_for(jira, slack, workers=workers, linger="30s", **extra)
    if faults:
        assert settings.jira is not None and settings.slack is not None
        settings = dataclasses.replace(settings, jira=dataclasses.replace(settings.jira, timeout_seconds=0.5),
                                       slack=dataclasses.replace(settings.slack, timeout_seconds=0.5))
    with tempfile.TemporaryDirectory() as tmp:
        con = load(str(Path(tmp) / "bench.duckdb"), alerts, incidents)
        sinks = build_sinks(settings, JIRA_ENV)
        t = time.perf_counter()
        summary = deliver(con, sinks)
        elapsed = time.perf_counter() - t
        sinks.close()
        con.close()
    return {"faults": faults, "workers": workers, "sent": summary.sent, "merged": summary.merged,
            "retried": summary.retried, "dead": summary.dead, "pending": summary.pending,
            "seconds": round(elapsed, 2), "actions_per_s": round(summary.sent / elapsed, 1)}


class NullSink:
    """Answers at once, as a sink whose service had no latency: what is left is the outbox's own work."""

    real = True

    def __init__(self, target: str) -> None:
        self.target = target
        self.name = "jira" if target == "jira" else "slack"

    def execute(self, request: Any) -> dict[str, Any]:
        n = request.outbox_id
        if request.action == "create_ticket":
            return {"key": f"NULL-{n}", "url": f"https://null/browse/NULL-{n}"}
        if request.action == "post_root":
            return {"channel": "C0NULL", "ts": f"{1700000000 + n}.000001", "permalink": f"https://null/p{n}"}
        return {}

    def close(self) -> None:
        pass


def overhead(jira: str, slack: str, incidents: int) -> dict[str, Any]:
    """Per action, one worker, no faults: the emulators called directly with pre-rendered requests; the outbox
    with a sink that answers at once (its own cost: select, render, redact, mark in flight, record); the outbox
    with the real sinks."""
    settings = settings_for(jira, slack, workers=1)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("direct", "outbox_null_sink", "outbox"):
            for url in (jira, slack):
                Control(url).reset()
                Control(url).faults()
            con = load(str(Path(tmp) / f"{mode}.duckdb"), incidents, incidents)  # one alert per incident
            sinks = build_sinks(settings, JIRA_ENV)
            if mode == "outbox_null_sink":
                sinks.sinks = {"jira": NullSink("jira"), "slack": NullSink("slack")}
            if mode == "direct":
                # Render every first row (post_root / create_ticket) up front, then time only the calls.
                requests = []
                rows = heads(con, T0)
                incs = load_incidents(con, sorted({h.incident_id for h in rows}))
                for h in rows:
                    h = dataclasses.replace(h, payload=parse_payload(h.payload))
                    d = prepare(con, h, incs[h.incident_id], sinks, set(), T0)
                    if d.request is not None and d.sink is not None:
                        requests.append((d.sink, d.request))
                t = time.perf_counter()
                for sink, req in requests:
                    sink.execute(req)
                elapsed, n = time.perf_counter() - t, len(requests)
            else:
                t = time.perf_counter()
                s = deliver(con, sinks)
                elapsed, n = time.perf_counter() - t, s.sent
            sinks.close()
            con.close()
            results[mode] = {"actions": n, "ms_per_action": round(elapsed / max(n, 1) * 1000, 2)}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--incidents", type=int, default=200)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    procs = [start_emulator("tests.emulators.jira"), start_emulator("tests.emulators.slack")]
    jira, slack = procs[0][1], procs[1][1]
    try:
        out = {
            "clean": run_delivery(jira, slack, args.alerts, args.incidents, args.workers, faults=False),
            "faults": run_delivery(jira, slack, args.alerts, args.incidents, args.workers, faults=True),
            "overhead": overhead(jira, slack, args.incidents),
        }
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait()
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name in ("clean", "faults"):
        r = out[name]
        print(f"{name:7s} {r['sent']} actions in {r['seconds']}s = {r['actions_per_s']} actions/s "
              f"({r['workers']} workers; merged {r['merged']}, retried {r['retried']}, dead {r['dead']}, "
              f"pending {r['pending']})")
    o = out["overhead"]
    print(f"one worker: direct calls {o['direct']['ms_per_action']} ms/action; outbox with an instant sink "
          f"{o['outbox_null_sink']['ms_per_action']} ms/action (its own cost); outbox with the emulators "
          f"{o['outbox']['ms_per_action']} ms/action")


if __name__ == "__main__":
    main()
