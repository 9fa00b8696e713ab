"""The one door to breachline.pii: every data-derived string that leaves the machine passes through here."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from breachline.errors import DeliveryError


@cache
def _redactor() -> Callable[[str], str]:
    # Imported lazily: breachline.pii is owned elsewhere, and a missing redactor must stop delivery, not leak.
    try:
        from breachline.pii import redact
    except ImportError as exc:
        raise DeliveryError("breachline.pii is not available: refusing to send unredacted text") from exc
    return redact


def redact(text: object) -> str:
    """Mask PANs (first 6 / last 4), SSNs, e-mails, phones, IBANs and tokens in `text` (str() of it)."""
    return _redactor()(text if isinstance(text, str) else str(text))
