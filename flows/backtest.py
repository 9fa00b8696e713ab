"""The `backtest` flow: one playbook over the stored history, on demand (what `breachline playbooks backtest`
does, with the result as Prefect artifacts). Nothing is written: alerts are evaluated, not inserted.

Run: prefect deployment run backtest/backtest -p playbook_id=bulk-customer-export-above-baseline -p since=30d
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from breachline.config import load_config, parse_duration
from breachline.errors import PlaybookError
from breachline.pipeline import load_configured_playbooks
from breachline.store import harden, open_store
from flows.digest import STORE_WAIT_SECONDS, md_cell


def _artifact_key(playbook_id: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "backtest-" + "".join(c if c.isalnum() else "-" for c in playbook_id.lower())


# No retries: a backtest only reads (evaluation on a hardened connection); a failure is a bad playbook or a bad
# parameter, and a retry would fail the same way.
@flow(name="backtest")
def backtest_flow(
    playbook_id: str,
    since: str = "30d",
    config_path: str | None = None,
    db: str | None = None,
    chart_dir: str | None = None,
) -> dict[str, Any]:
    """since: how far back from the newest event (e.g. 7d, 30d). chart_dir: where the HTML chart goes (default:
    backtests/ next to the DuckDB file)."""
    from correlators.correlation.analysis import backtest, chart_html

    config = load_config(config_path, db=db)
    window = dt.timedelta(seconds=parse_duration(since, "since"))
    playbooks = load_configured_playbooks(config)
    found = [p for p in playbooks if p.id == playbook_id]
    if not found:
        known = ", ".join(sorted(p.id for p in playbooks)) or "none"
        raise PlaybookError(f'no playbook with id "{playbook_id}"; configured playbooks: {known}')
    pb = found[0]
    if not config.db_path.exists():
        raise PlaybookError(f"{config.db_path}: no store yet; run the pipeline (or `breachline ingest`) first")
    # Read-write like the CLI: evaluation installs its SQL macros on the connection. It waits while the pipeline
    # holds the file; hardened, the compiled SQL can only read the events.
    with open_store(config.db_path, wait_seconds=STORE_WAIT_SECONDS) as con:
        harden(con)
        result = backtest(con, pb, window)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    chart = Path(chart_dir) if chart_dir else config.db_path.parent / "backtests"
    chart.mkdir(parents=True, exist_ok=True)
    chart_path = chart / f"backtest-{pb.id}-{stamp}.html"
    chart_path.write_text(chart_html(result))

    key = _artifact_key(pb.id)
    top = "\n".join(f"- `{md_cell(json.dumps(g))}`: {n}" for g, n in result.top_groups) or "- none"
    exc = "\n".join(f"- {md_cell(ref)}: {n}" for ref, n in result.by_exception.items()) or "- none"
    create_markdown_artifact(
        key=key,
        description=f"backtest of {pb.id} v{pb.version} over {since}",
        markdown=(f"## Backtest: {pb.id} v{pb.version}\n\n"
                  f"{result.decided_after} → {result.decided_until} (`since={since}`)\n\n"
                  f"**{result.alerts}** alerts, **{result.incidents}** incidents after dedup, "
                  f"**{result.suppressed}** suppressed by exceptions\n\n"
                  f"### Top groups\n{top}\n\n### Suppressed by exception\n{exc}\n\n"
                  f"Chart (on the worker): `{chart_path}`\n"),
    )
    create_table_artifact(
        key=f"{key}-per-day",
        description=f"backtest of {pb.id}: alerts and suppressed matches per day",
        table=[{"day": d.isoformat(), "alerts": a, "suppressed": s} for d, a, s in result.per_day],
    )
    get_run_logger().info("%s v%s: %d alerts, %d incidents after dedup, %d suppressed; chart %s", pb.id,
                          pb.version, result.alerts, result.incidents, result.suppressed, chart_path)
    # JSON-safe: datetimes as text, so the return value can be persisted as a result.
    summary: dict[str, Any] = json.loads(json.dumps(result.summary(), default=str))
    return {**summary, "chart": str(chart_path)}
