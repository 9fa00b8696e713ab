"""Exception types. Every message is one line a person understands: what happened and what to do."""


class BreachlineError(Exception):
    """Base class for all errors breachline reports to the user."""


class ConfigError(BreachlineError):
    """breachline.toml is missing, malformed, or a key has a wrong value (the message names the key)."""


class StoreError(BreachlineError):
    """The DuckDB store cannot be opened or migrated."""


class StoreBusyError(StoreError):
    """Another process holds the DuckDB file for writing."""


class SourceError(BreachlineError):
    """A source location cannot be listed or read."""


class PlaybookError(BreachlineError):
    """A playbook is refused: the message names the file, the JSON path and what was expected."""


class DeliveryError(BreachlineError):
    """Alerts could not be delivered: a sink setting is wrong, or outbox rows are dead-lettered."""
