"""The durable outbox: every outward action is a row written with the change that causes it; notify delivers."""

from connectors.outbox.admin import OutboxRow, counts, list_rows, retry
from connectors.outbox.deliver import DeliverySummary, backoff, deliver
from connectors.outbox.notify import NotifySummary, notify
from connectors.outbox.queue import NewRow, enqueue
from connectors.outbox.status import sync_ticket_status

__all__ = [
    "DeliverySummary",
    "NewRow",
    "NotifySummary",
    "OutboxRow",
    "backoff",
    "counts",
    "deliver",
    "enqueue",
    "list_rows",
    "notify",
    "retry",
    "sync_ticket_status",
]
