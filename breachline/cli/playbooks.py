"""`breachline playbooks lint | test | explain | backtest | diff | list`: what the SOC writes and tunes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from breachline.cli.common import add_store_options, config_from_args, print_json, print_table
from breachline.cli.correlate import add_playbook_options, duration, playbooks_from_args
from breachline.config import load_config
from breachline.errors import PlaybookError
from breachline.paths import REPO_ROOT
from breachline.store import harden, open_store
from correlators.playbooks import Playbook, configured_playbook_dirs, load_playbook


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("playbooks", help="lint, test, explain, backtest and diff playbooks")
    psub = p.add_subparsers(dest="playbooks_command", metavar="COMMAND", required=True)

    lp = psub.add_parser("lint", help="schema, JSONLogic, unknown fields, duplicate ids, expiring exceptions")
    _common(lp, store=False)
    lp.set_defaults(func=run_lint)

    tp = psub.add_parser("test", help="run every playbook's embedded tests through the real SQL path")
    _common(tp, store=False)
    tp.add_argument("ids", nargs="*", metavar="ID", help="only these playbooks")
    tp.set_defaults(func=run_test)

    ls = psub.add_parser("list", help="the playbooks in force")
    _common(ls, store=False)
    ls.set_defaults(func=run_list)

    ep = psub.add_parser("explain", help="the compiled SQL, and which events each step matched")
    _common(ep, store=True)
    ep.add_argument("id", metavar="ID")
    src = ep.add_mutually_exclusive_group()
    src.add_argument("--events", metavar="FILE", help="JSON lines of events (the event schema's shape) to explain")
    src.add_argument("--test", metavar="N|NAME", help="explain with the events of one of the playbook's tests")
    ep.add_argument("--since", metavar="DURATION", help="with the store: the last DURATION of events (default 1d)")
    ep.add_argument("--sql", action="store_true", help="print only the compiled SQL")
    ep.set_defaults(func=run_explain)

    bp = psub.add_parser("backtest", help="alerts per day, incidents after dedup, top groups, suppressed")
    _common(bp, store=True)
    bp.add_argument("id", metavar="ID")
    bp.add_argument("--since", metavar="DURATION", default="30d", help="how far back from the newest event (30d)")
    bp.add_argument("--chart", metavar="FILE", help="HTML chart of alerts per day (default backtest-ID.html)")
    bp.set_defaults(func=run_backtest)

    dp = psub.add_parser("diff", help="run two versions of a playbook over the same history")
    _common(dp, store=True, playbooks=False)
    dp.add_argument("old", metavar="OLD", help="the old playbook file")
    dp.add_argument("new", metavar="NEW", help="the new playbook file")
    dp.add_argument("--since", metavar="DURATION", default="30d")
    dp.set_defaults(func=run_diff)


def _common(p: argparse.ArgumentParser, *, store: bool, playbooks: bool = True) -> None:
    if store:
        add_store_options(p)
    else:
        p.add_argument("--config", metavar="FILE", help="breachline.toml (for its playbook directories)")
    if playbooks:
        add_playbook_options(p)
    p.add_argument("--json", action="store_true")


def _find(args: argparse.Namespace, pid: str) -> Playbook:
    config = config_from_args(args)
    found = [p for p in playbooks_from_args(args, config) if p.id == pid]
    if not found:
        raise PlaybookError(f'no playbook with id "{pid}" (see: breachline playbooks list)')
    return found[0]


def run_lint(args: argparse.Namespace) -> int:
    from correlators.correlation import compile_playbook
    from correlators.playbooks.lint import lint

    config = load_config(args.config)
    dirs = configured_playbook_dirs(config.playbook_dirs, config.use_shipped_playbooks, args.playbooks)
    def compile_check(pb: Playbook) -> None:
        compile_playbook(pb)

    loaded, problems = lint(dirs, repo_root=REPO_ROOT, compile_check=compile_check)
    errors = [p for p in problems if p.level == "error"]
    if args.json:
        print_json({"playbooks": len(loaded), "problems": [p.__dict__ for p in problems]})
    else:
        for p in problems:
            print(p)
        print(f"{len(loaded)} playbook(s) ok, {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    return 1 if errors else 0


def run_test(args: argparse.Namespace) -> int:
    from correlators.correlation import run_tests

    config = load_config(args.config)
    playbooks = playbooks_from_args(args, config)
    if args.ids:
        unknown = set(args.ids) - {p.id for p in playbooks}
        if unknown:
            raise PlaybookError(f"unknown playbook id(s): {', '.join(sorted(unknown))}")
        playbooks = [p for p in playbooks if p.id in args.ids]
    outcomes = run_tests(playbooks)
    failed = [o for o in outcomes if not o.passed]
    if args.json:
        print_json([o.__dict__ for o in outcomes])
    else:
        for o in outcomes:
            print(o.describe())
        untested = [p.id for p in playbooks if not p.tests]
        print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed"
              + (f"; no tests: {', '.join(untested)}" if untested else ""))
    return 1 if failed else 0


def run_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rows = [{"id": p.id, "version": p.version, "type": p.correlation.type, "severity": p.severity,
             "tests": len(p.tests), "exceptions": len(p.exceptions), "file": str(p.source), "title": p.title}
            for p in playbooks_from_args(args, config)]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["id", "version", "type", "severity", "tests", "exceptions", "title"])
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from breachline.store import connect
    from correlators.correlation import Bounds, compile_playbook, insert_events
    from correlators.correlation.analysis import explain, history_bounds

    pb = _find(args, args.id)
    if args.sql:
        print(compile_playbook(pb).sql)
        return 0
    if args.events or args.test:
        events = _events_file(Path(args.events)) if args.events else list(_test_of(pb, args.test).events)
        con = connect(":memory:")
        try:
            insert_events(con, events)
            result = explain(con, pb, Bounds())
        finally:
            con.close()
    else:
        config = config_from_args(args)
        with open_store(config.db_path) as con:
            harden(con)
            bounds = history_bounds(con, [pb], duration(args.since or "1d", "--since"), final_only=False)
            result = explain(con, pb, bounds or Bounds())
    if args.json:
        print_json({"sql": result.sql,
                    "conditions": [{"paths": c.paths, "matched": c.count, "events": c.events} for c in result.conditions],
                    "alerts": result.alerts})
        return 0
    print("-- compiled SQL\n" + result.sql + "\n")
    for c in result.conditions:
        print(f"{' / '.join(c.paths)}: {c.count} event(s)")
        for e in c.events:
            actor = {k: v for k, v in (e.get("actor") or {}).items() if v is not None}
            print(f"    {e['time']}  {e['event_id']}  {e.get('action') or '-'}  {json.dumps(actor)}")
    print(f"alerts: {len([a for a in result.alerts if not a['suppressed_by']])}"
          f" (suppressed: {len([a for a in result.alerts if a['suppressed_by']])})")
    for a in result.alerts:
        flag = f"  suppressed by {', '.join(a['suppressed_by'])}" if a["suppressed_by"] else ""
        print(f"    {a['first_seen']} .. {a['last_seen']}  {a['group_values']}  events={a['event_count']}"
              f"  {a['metrics']}{flag}")
    return 0


def _test_of(pb: Playbook, which: str) -> Any:
    for t in pb.tests:
        if which == str(t.index) or which == t.name:
            return t
    raise PlaybookError(f'{pb.id} has no test "{which}" (give its number from 0 or its name)')


def _events_file(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read: {exc}") from exc
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise PlaybookError(f"{path}:{i}: not a JSON object: {exc.msg}") from exc
    return out


def run_backtest(args: argparse.Namespace) -> int:
    from correlators.correlation.analysis import backtest, chart_html

    pb = _find(args, args.id)
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        harden(con)
        result = backtest(con, pb, duration(args.since, "--since"))
    chart = Path(args.chart or f"backtest-{pb.id}.html")
    chart.write_text(chart_html(result))
    if args.json:
        print_json({**result.summary(), "chart": str(chart)})
        return 0
    print(f"{pb.id} v{pb.version}: {result.decided_after} .. {result.decided_until}")
    print(f"alerts {result.alerts}, incidents after dedup {result.incidents}, suppressed {result.suppressed}")
    peak = max([a for _, a, _ in result.per_day] + [1])
    for day, a, s in result.per_day:
        print(f"  {day}  {a:5d} {'#' * round(a / peak * 40)}" + (f"  (+{s} suppressed)" if s else ""))
    if result.top_groups:
        print("top groups:")
        for g, n in result.top_groups:
            print(f"  {n:5d}  {json.dumps(g)}")
    for ref, n in result.by_exception.items():
        print(f"suppressed by {ref}: {n}")
    print(f"chart: {chart}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from correlators.correlation.analysis import diff

    old, new = load_playbook(args.old), load_playbook(args.new)
    if old.id != new.id:
        print(f"note: comparing different ids ({old.id} vs {new.id})", file=sys.stderr)
    config = config_from_args(args)
    with open_store(config.db_path) as con:
        harden(con)
        result = diff(con, old, new, duration(args.since, "--since"))
    if args.json:
        print_json(result.summary())
        return 0
    summary = result.summary()
    print(f"{result.old} -> {result.new}: {result.common} unchanged, {len(result.appear)} appear, "
          f"{len(result.disappear)} disappear")
    for label, rows in (("+", summary["appear"]), ("-", summary["disappear"])):
        for r in rows:
            flag = " (suppressed)" if r["suppressed_by"] else ""
            print(f"{label} {r['first_seen']} .. {r['last_seen']}  {json.dumps(r['group'])}  events={r['count']}{flag}")
    return 0
