"""`playbooks lint`: every problem of every file at once, errors and warnings.

Errors: YAML, schema (types, unknown fields), field paths, JSONLogic (strict operators and arities, then the SQL
compiler), duplicate ids. Warnings: an exception that expires within a week or has expired (it no longer
applies), a runbook file that does not exist, no test that fires or no near-miss test that stays silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from breachline.errors import PlaybookError
from correlators.playbooks.loader import Problem, check_playbook, playbook_files
from correlators.playbooks.model import Playbook

EXPIRY_WARNING = dt.timedelta(days=7)


def lint(
    dirs: Iterable[str | Path],
    *,
    today: dt.date | None = None,
    repo_root: Path | None = None,
    compile_check: Callable[[Playbook], None] | None = None,
) -> tuple[list[Playbook], list[Problem]]:
    """Check every playbook file under `dirs`. `compile_check(pb)` (the correlation compiler) runs on each
    playbook that loaded, so SQL-level refusals show up here too."""
    today = today or dt.datetime.now(dt.UTC).date()
    problems: list[Problem] = []
    loaded: list[Playbook] = []
    ids: dict[str, Playbook] = {}
    for path in playbook_files(dirs):
        pb, errors = check_playbook(path)
        problems.extend(Problem("error", e.file, e.line, e.path, e.problem) for e in errors)
        if pb is None:
            continue
        if pb.id in ids:
            problems.append(Problem("error", str(path), pb.lines.line_of("id"), "id",
                                    f'"{pb.id}" is already defined in {ids[pb.id].where_is("id")}'))
            continue
        ids[pb.id] = pb
        if compile_check is not None:
            try:
                compile_check(pb)
            except PlaybookError as exc:
                problems.append(_from_error(pb, exc))
                continue
        problems.extend(_warnings(pb, today, repo_root))
        loaded.append(pb)
    return loaded, problems


def _from_error(pb: Playbook, exc: PlaybookError) -> Problem:
    path = getattr(exc, "path", "") or ""
    problem = getattr(exc, "problem", None) or str(exc)
    return Problem("error", str(pb.source), pb.lines.line_of(path), path, problem)


def _warnings(pb: Playbook, today: dt.date, repo_root: Path | None) -> list[Problem]:
    out: list[Problem] = []
    src = str(pb.source)
    for i, exc in enumerate(pb.exceptions):
        path = f"exceptions[{i}].expires"
        line = pb.lines.line_of(path)
        if exc.expires <= today:
            out.append(Problem("warning", src, line, path,
                               f"exception {exc.ref} (owner {exc.owner}) expired on {exc.expires}: it no longer "
                               "suppresses anything; remove it or renew it with a reason"))
        elif exc.expires - today <= EXPIRY_WARNING:
            out.append(Problem("warning", src, line, path,
                               f"exception {exc.ref} (owner {exc.owner}) expires on {exc.expires}, "
                               f"in {(exc.expires - today).days} day(s); renew it or let the alerts through"))
    if pb.runbook and repo_root is not None and "://" not in pb.runbook and not (repo_root / pb.runbook).is_file():
        out.append(Problem("warning", src, pb.lines.line_of("runbook"), "runbook",
                           f"{pb.runbook} does not exist (relative to {repo_root})"))
    if not any(t.expect_alerts > 0 for t in pb.tests):
        out.append(Problem("warning", src, pb.lines.line_of("tests"), "tests", "no test expects an alert"))
    if not any(t.expect_alerts == 0 for t in pb.tests):
        out.append(Problem("warning", src, pb.lines.line_of("tests"), "tests",
                           "no near-miss test (expect: {alerts: 0}) shows what must stay silent"))
    return out
