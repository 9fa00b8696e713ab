"""Run reports: Prefect artifacts (markdown tables) and events users can hang automations on."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "_nothing to report_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows)
    return head + body


def publish_table(key: str, title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A markdown artifact on the current flow run (key: lowercase letters, digits and dashes)."""
    create_markdown_artifact(markdown=f"## {title}\n\n{markdown_table(rows, columns)}", key=key, description=title)


def emit(event: str, resource_id: str, payload: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> None:
    """Labels go on the resource, where automations can match them (e.g. breachline.severity: critical)."""
    plain = json.loads(json.dumps(dict(payload), default=str))  # datetimes and the like as text
    resource = {"prefect.resource.id": resource_id, **{k: str(v) for k, v in (labels or {}).items()}}
    emit_event(event=event, resource=resource, payload=plain)
