"""Delivery settings: the [jira], [slack] and [delivery] tables of breachline.toml.

Secrets are never stored here: `token_env` / `webhook_url_env` name the environment variables that hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

from breachline.config import did_you_mean, parse_duration
from breachline.errors import ConfigError

DEFAULT_PRIORITIES = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}


@dataclass(frozen=True)
class JiraSettings:
    url: str
    deployment: Literal["cloud", "datacenter"] | None = None   # None: ask the server (serverInfo)
    user: str | None = None          # Cloud: the account e-mail (basic auth with an API token); DC: None = PAT
    token_env: str = "BREACHLINE_JIRA_TOKEN"
    project: str | None = None       # default project when a playbook names none
    issue_type: str = "Task"
    priorities: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    timeout_seconds: float = 10.0
    # The outbox retries with backoff; the client's own retries sleep up to a minute, so they are off by default.
    client_retries: int = 0


@dataclass(frozen=True)
class SlackSettings:
    token_env: str = "BREACHLINE_SLACK_TOKEN"
    channel: str | None = None       # default channel (an ID such as C0123456789, or #name)
    webhook_url_env: str | None = None  # set: use an incoming webhook instead of the Web API (no threads)
    base_url: str = "https://slack.com/api/"
    timeout_seconds: float = 10.0
    client_retries: int = 2          # per retry handler: rate limit, server error, connection


@dataclass(frozen=True)
class DeliverySettings:
    jira: JiraSettings | None = None
    slack: SlackSettings | None = None
    deadline: timedelta = timedelta(hours=72)          # ticket due date = first seen + deadline
    comment_interval: timedelta = timedelta(hours=1)   # at most one Jira comment per incident per interval
    max_attempts: int = 8                              # then the row is dead-lettered
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    linger_seconds: float = 30.0     # a notify run waits this long at most for rows in backoff, then returns
    workers: int = 8                 # concurrent calls (rows of one incident and target stay in order)
    config_error_threshold: int = 3  # consecutive config errors before a destination is given up for the run
    # After an attempt whose outcome is unknown (timeout, lost connection, process killed mid-call) wait this long
    # before looking for its effect: a request the client gave up on may still be queued at the service.
    settle_seconds: float = 20.0
    runbook_base_url: str | None = None  # turns a playbook's runbook path into a link

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DeliverySettings:
        """Build from {"jira": {...}, "slack": {...}, "delivery": {...}}; errors name the offending key."""
        _known(data, {"jira", "slack", "delivery"}, "breachline.toml")
        jira = _jira(_table(data, "jira"))
        slack = _slack(_table(data, "slack"))
        d = _table(data, "delivery")
        where = "[delivery]"
        _known(d, {"notification_deadline", "comment_interval", "max_attempts", "backoff", "max_backoff", "linger",
                   "workers", "config_error_threshold", "runbook_base_url", "settle"}, where)
        out = cls(jira=jira, slack=slack)
        changes: dict[str, Any] = {}
        if "notification_deadline" in d:
            changes["deadline"] = timedelta(seconds=parse_duration(d["notification_deadline"],
                                                                   f"{where} notification_deadline"))
        if "comment_interval" in d:
            changes["comment_interval"] = timedelta(seconds=parse_duration(d["comment_interval"],
                                                                           f"{where} comment_interval"))
        if "backoff" in d:
            changes["backoff_base_seconds"] = parse_duration(d["backoff"], f"{where} backoff")
        if "max_backoff" in d:
            changes["backoff_max_seconds"] = parse_duration(d["max_backoff"], f"{where} max_backoff")
        if "settle" in d:
            changes["settle_seconds"] = parse_duration(d["settle"], f"{where} settle")
        if "linger" in d:
            changes["linger_seconds"] = parse_duration(d["linger"], f"{where} linger")
        for key in ("max_attempts", "workers", "config_error_threshold"):
            if key in d:
                changes[key] = _int(d[key], f"{where} {key}", minimum=1)
        if "runbook_base_url" in d:
            changes["runbook_base_url"] = _str(d["runbook_base_url"], f"{where} runbook_base_url")
        return replace(out, **changes)

    @classmethod
    def from_config(cls, config: Any) -> DeliverySettings:
        """From a breachline.config.Config (its raw jira / slack / delivery tables)."""
        return cls.from_mapping({"jira": config.jira, "slack": config.slack, "delivery": config.delivery})


def _jira(t: Mapping[str, Any]) -> JiraSettings | None:
    if not t:
        return None
    where = "[jira]"
    _known(t, {"url", "deployment", "user", "token_env", "project", "issue_type", "priorities", "timeout",
               "client_retries"}, where)
    if "url" not in t:
        raise ConfigError(f"{where} url: missing; set it to your Jira base URL, e.g. https://yourco.atlassian.net")
    url = _str(t["url"], f"{where} url")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} url: {url!r} must start with https://")
    deployment = t.get("deployment")
    if deployment is not None and deployment not in ("cloud", "datacenter"):
        raise ConfigError(f"{where} deployment: {deployment!r} must be cloud or datacenter")
    priorities = dict(DEFAULT_PRIORITIES)
    raw = t.get("priorities", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} priorities: expected a table such as {{ critical = \"Highest\" }}")
    for sev, name in raw.items():
        if sev not in DEFAULT_PRIORITIES:
            raise ConfigError(f"{where} priorities: unknown severity {sev!r}; use {', '.join(DEFAULT_PRIORITIES)}")
        priorities[sev] = _str(name, f"{where} priorities.{sev}")
    return JiraSettings(
        url=url.rstrip("/"),
        deployment=deployment,
        user=_opt_str(t.get("user"), f"{where} user"),
        token_env=_str(t.get("token_env", "BREACHLINE_JIRA_TOKEN"), f"{where} token_env"),
        project=_opt_str(t.get("project"), f"{where} project"),
        issue_type=_str(t.get("issue_type", "Task"), f"{where} issue_type"),
        priorities=priorities,
        timeout_seconds=parse_duration(t.get("timeout", 10), f"{where} timeout"),
        client_retries=_int(t.get("client_retries", 0), f"{where} client_retries", minimum=0),
    )


def _slack(t: Mapping[str, Any]) -> SlackSettings | None:
    if not t:
        return None
    where = "[slack]"
    _known(t, {"token_env", "channel", "webhook_url_env", "base_url", "timeout", "client_retries"}, where)
    base_url = _str(t.get("base_url", "https://slack.com/api/"), f"{where} base_url")
    if not base_url.endswith("/"):
        base_url += "/"  # slack_sdk joins method names onto it; without the slash urljoin drops /api
    return SlackSettings(
        token_env=_str(t.get("token_env", "BREACHLINE_SLACK_TOKEN"), f"{where} token_env"),
        channel=_opt_str(t.get("channel"), f"{where} channel"),
        webhook_url_env=_opt_str(t.get("webhook_url_env"), f"{where} webhook_url_env"),
        base_url=base_url,
        timeout_seconds=parse_duration(t.get("timeout", 10), f"{where} timeout"),
        client_retries=_int(t.get("client_retries", 2), f"{where} client_retries", minimum=0),
    )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{key}]: expected a table")
    return value


def _known(t: Mapping[str, Any], keys: set[str], where: str) -> None:
    for key in t:
        if key not in keys:
            raise ConfigError(f"{where} {key}: unknown setting{did_you_mean(key, keys)}")


def _str(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _opt_str(value: object, key: str) -> str | None:
    return None if value is None else _str(value, key)


def _int(value: object, key: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    return value


