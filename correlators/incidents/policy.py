"""IncidentPolicy: the playbook settings that decide how alerts become incidents and where they are sent.

The playbook loader builds one per playbook (`IncidentPolicy.from_playbook(mapping)` reads the YAML shape);
`assign()` falls back to `IncidentPolicy()` for a playbook it has no policy for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from breachline.errors import PlaybookError

SEVERITIES = ("low", "medium", "high", "critical")
RepeatPolicy = Literal["reopen", "new_linked"]
_REPEAT_POLICIES: tuple[RepeatPolicy, ...] = ("reopen", "new_linked")


@dataclass(frozen=True)
class IncidentPolicy:
    """How one playbook's alerts are grouped into incidents and delivered.

    severity: overrides the alerts' own severity (None: take the highest alert severity).
    suppress_for: an alert whose first event is within this long of the incident's last one joins it.
    repeat_after_close: a repeat within suppress_for after the ticket was closed (Done) reopens the incident,
        or opens a new incident linked to the closed one.
    alert_budget_per_hour: at most this many new incidents per hour for the playbook; past it new incidents are
        folded into one digest per hour that tells the SOC the playbook is noisy (None: no budget).
    jira_project, jira_issue_type, slack_channel: the playbook's notify targets (None: the configured defaults).
    runbook: a path or URL shown in the ticket and the Slack message.
    """

    severity: str | None = None
    suppress_for: timedelta = timedelta(hours=24)
    repeat_after_close: RepeatPolicy = "reopen"
    alert_budget_per_hour: int | None = 20
    jira_project: str | None = None
    jira_issue_type: str | None = None
    slack_channel: str | None = None
    runbook: str | None = None

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise PlaybookError(f"severity: {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.repeat_after_close not in _REPEAT_POLICIES:
            raise PlaybookError(
                f"dedup.after_close: {self.repeat_after_close!r} is not one of {', '.join(_REPEAT_POLICIES)}"
            )
        if self.suppress_for < timedelta(0):
            raise PlaybookError("dedup.suppress_for: must not be negative")
        if self.alert_budget_per_hour is not None and self.alert_budget_per_hour < 1:
            raise PlaybookError("dedup.budget_per_hour: must be at least 1 (or absent for no budget)")

    @classmethod
    def from_playbook(cls, playbook: Mapping[str, Any]) -> IncidentPolicy:
        """Build from a playbook's YAML mapping (keys as in DESIGN.md; the two new ones live under `dedup`):

        severity, runbook, notify.jira.{project, issue_type}, notify.slack.channel,
        dedup.suppress_for ('24h'), dedup.after_close (reopen | new_linked), dedup.budget_per_hour (int | null).
        """
        from breachline.config import parse_duration
        from breachline.errors import ConfigError

        dedup = _mapping(playbook.get("dedup"), "dedup")
        notify = _mapping(playbook.get("notify"), "notify")
        jira = _mapping(notify.get("jira"), "notify.jira")
        slack = _mapping(notify.get("slack"), "notify.slack")
        kwargs: dict[str, Any] = {}
        if "suppress_for" in dedup:
            try:
                kwargs["suppress_for"] = timedelta(seconds=parse_duration(dedup["suppress_for"], "dedup.suppress_for"))
            except ConfigError as exc:
                raise PlaybookError(str(exc)) from exc
        if "after_close" in dedup:
            kwargs["repeat_after_close"] = dedup["after_close"]
        if "budget_per_hour" in dedup:
            budget = dedup["budget_per_hour"]
            if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool)):
                raise PlaybookError(f"dedup.budget_per_hour: expected an integer or null, got {budget!r}")
            kwargs["alert_budget_per_hour"] = budget
        return cls(
            severity=playbook.get("severity"),
            jira_project=_opt_str(jira.get("project"), "notify.jira.project"),
            jira_issue_type=_opt_str(jira.get("issue_type"), "notify.jira.issue_type"),
            slack_channel=_opt_str(slack.get("channel"), "notify.slack.channel"),
            runbook=_opt_str(playbook.get("runbook"), "runbook"),
            **kwargs,
        )


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PlaybookError(f"{key}: expected a mapping")
    return value


def _opt_str(value: object, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PlaybookError(f"{key}: expected a non-empty string")
    return value

