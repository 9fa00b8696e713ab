"""What a sink is given (a rendered, redacted Request) and how it fails (SinkFailure with a kind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

FailureKind = Literal["transient", "permanent", "config"]


@dataclass(frozen=True)
class Request:
    """One outbox row, rendered. `fields` hold what is sent (already redacted); `meta` stays local."""

    outbox_id: int
    incident_id: str
    target: str                 # jira | slack
    action: str
    fields: dict[str, Any]
    check_first: bool = False   # an earlier attempt may have reached the service: look before sending again
    first_attempt_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class SinkFailure(Exception):
    """A delivery attempt failed.

    kind: transient (retry with backoff), permanent (this row can never succeed: dead letter) or config (a setting
        is wrong: the rows stay pending, the message names the setting).
    ambiguous: the request may have been processed (timeout, connection lost after sending).
    retry_after: seconds the service asked us to wait.
    scope: for config failures, what is broken: the whole target (None) or one destination (project, channel).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        ambiguous: bool = False,
        retry_after: float | None = None,
        scope: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.scope = scope


class Sink(Protocol):
    name: str      # jira | slack | webhook | console
    target: str    # the outbox queue it serves: jira | slack
    real: bool     # False when nothing leaves the machine (console): no keys, no ts, no cross links

    def execute(self, request: Request) -> dict[str, Any]:
        """Perform the action; return what to record (e.g. {"key": ...}); raise SinkFailure."""
        ...

    def close(self) -> None: ...


def parse_retry_after(value: object) -> float | None:
    """Retry-After in seconds (HTTP dates are rare from these APIs; treat them as absent)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(0.0, float(str(value).strip()))
    except ValueError:
        return None
