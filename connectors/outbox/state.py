"""The state of one delivery run and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.sinks import SinkSet


@dataclass
class DeliverySummary:
    sent: int = 0        # actions performed (including ones found already done by an earlier attempt)
    merged: int = 0      # rows with nothing left to say (carried by another action)
    retried: int = 0     # failed attempts scheduled again
    newly_dead: int = 0  # rows dead-lettered in this run
    dead: int = 0        # rows in the dead-letter state now (see `breachline outbox list`)
    pending: int = 0     # rows still pending now
    closed: int = 0      # incidents closed because their ticket went Done
    errors: list[str] = field(default_factory=list)  # one line per setting to fix

    @property
    def ok(self) -> bool:
        return self.dead == 0 and not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "retried": self.retried, "dead": self.dead, "pending": self.pending,
                "merged": self.merged, "newly_dead": self.newly_dead, "closed": self.closed,
                "errors": list(self.errors)}

    def raise_for_problems(self) -> None:
        """For the Prefect flow: fail the run visibly while rows are dead-lettered or a setting is wrong."""
        from breachline.errors import DeliveryError

        if self.ok:
            return
        parts = list(self.errors)
        if self.dead:
            parts.append(f"{self.dead} outbox row(s) dead-lettered: see `breachline outbox list`, then "
                         "`breachline outbox retry ID|--all`")
        raise DeliveryError("; ".join(parts))


@dataclass
class RunState:
    sinks: SinkSet
    max_attempts: int
    summary: DeliverySummary
    disabled: dict[tuple[str, str | None], str] = field(default_factory=dict)  # (target, dest|None) -> message
    streaks: dict[tuple[str, str | None], int] = field(default_factory=dict)
    unresolved: dict[tuple[str, str | None], str] = field(default_factory=dict)  # config errors since a success
    skipped: set[tuple[str, str]] = field(default_factory=set)  # queues held back by a config problem

    def blocked(self, target: str, dest: str | None) -> bool:
        return (target, None) in self.disabled or (dest is not None and (target, dest) in self.disabled)
