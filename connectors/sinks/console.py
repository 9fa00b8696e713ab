"""Console sink: prints what would be sent, from the same rendered (redacted) content the real sinks send."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from connectors.sinks.base import Request

_LOCK = threading.Lock()  # one console, several worker threads: keep each action's lines together


class ConsoleSink:
    name = "console"
    real = False

    def __init__(self, target: str, stream: TextIO | None = None) -> None:
        self.target = target
        self.stream = stream

    def close(self) -> None:
        pass

    def execute(self, request: Request) -> dict[str, Any]:
        f = request.fields
        head = f"--- {request.target} {request.action} · {request.incident_id} · outbox #{request.outbox_id}"
        lines = [head]
        if request.action == "create_ticket":
            lines.append(f"project={f['project']} type={f['issue_type']} priority={f['priority']} "
                         f"due={f['duedate']} labels={','.join(f['labels'])}")
            lines.append(f"summary: {f['summary']}")
            lines.append(f["description"])
        elif request.action == "comment":
            lines.append(f"on {f.get('key') or '(ticket)'}:")
            lines.append(f["body"])
        elif request.action == "transition":
            lines.append(f"move {f.get('key') or '(ticket)'} to a '{f['to']}' status")
        elif request.action == "update_ticket":
            lines.append(f"description of {f.get('key') or '(ticket)'} becomes:")
            lines.append(f["description"])
        else:  # Slack: the plain-text version carries the same facts as the blocks
            where = f.get("channel") or "(default channel)"
            if request.action == "thread_reply":
                where += " (thread)"
            elif request.action == "update_root":
                where += " (update of the incident message)"
            lines.append(f"to {where}:")
            lines.append(f["text"])
        stream = self.stream or sys.stdout
        with _LOCK:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        return {"printed": True}
