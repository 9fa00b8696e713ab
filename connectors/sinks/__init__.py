"""Sinks: where outbox rows go. Jira and Slack (Web API or incoming webhook) when configured, else the console.

`build_sinks(settings)` reads secrets from the environment variables the settings name. A target whose secret
is missing is not replaced by the console: its rows stay pending and the problem is reported in one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from connectors.sinks.base import Request, Sink, SinkFailure
from connectors.sinks.console import ConsoleSink
from connectors.sinks.settings import DeliverySettings, JiraSettings, SlackSettings


@dataclass
class SinkSet:
    settings: DeliverySettings
    sinks: dict[str, Sink] = field(default_factory=dict)      # target (jira | slack) -> sink
    problems: dict[str, str] = field(default_factory=dict)    # target -> what to fix (its rows stay pending)

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()


def build_sinks(
    settings: DeliverySettings,
    env: Mapping[str, str] | None = None,
    *,
    console: TextIO | None = None,
) -> SinkSet:
    env = os.environ if env is None else env
    out = SinkSet(settings)
    if settings.jira is None:
        out.sinks["jira"] = ConsoleSink("jira", console)
    else:
        token = env.get(settings.jira.token_env, "")
        if token:
            from connectors.sinks.jira import JiraSink

            out.sinks["jira"] = JiraSink(settings.jira, token)
        else:
            out.problems["jira"] = (f"Jira is configured but ${settings.jira.token_env} is empty: set it to the API "
                                    "token (or change [jira] token_env)")
    if settings.slack is None:
        out.sinks["slack"] = ConsoleSink("slack", console)
    elif settings.slack.webhook_url_env:
        url = env.get(settings.slack.webhook_url_env, "")
        if url:
            from connectors.sinks.slack import WebhookSink

            out.sinks["slack"] = WebhookSink(settings.slack, url)
        else:
            out.problems["slack"] = (f"Slack webhook is configured but ${settings.slack.webhook_url_env} is empty: "
                                     "set it to the webhook URL (or change [slack] webhook_url_env)")
    else:
        token = env.get(settings.slack.token_env, "")
        if token:
            from connectors.sinks.slack import SlackSink

            out.sinks["slack"] = SlackSink(settings.slack, token)
        else:
            out.problems["slack"] = (f"Slack is configured but ${settings.slack.token_env} is empty: set it to the "
                                     "bot token (xoxb-…), or change [slack] token_env")
    return out


__all__ = [
    "ConsoleSink",
    "DeliverySettings",
    "JiraSettings",
    "Request",
    "Sink",
    "SinkFailure",
    "SinkSet",
    "SlackSettings",
    "build_sinks",
]
