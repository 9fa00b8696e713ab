"""The one door to breachline.pii: every data-derived string that leaves the machine passes through here.

breachline.pii runs its patterns in DuckDB, where one call costs tens to hundreds of milliseconds whatever its
size, and a batch of a thousand strings costs little more. So delivery redacts in batches: it renders once
collecting the strings to redact (`collecting()`), redacts them in one call (`prime`), then renders for real from
the cache; or renders optimistically from the cache (`optimistic()`) and redoes the batch after a `prime` if any
string was missing. Redaction is a pure function of the text, so caching its result is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache

from breachline.errors import DeliveryError

_CACHE_LIMIT = 200_000
_cache: dict[str, str] = {}
_lock = threading.Lock()
_local = threading.local()


@cache
def _single() -> Callable[[str], str]:
    # Imported lazily: a missing redactor must stop delivery, never let unredacted text through.
    try:
        from breachline.pii import redact
    except ImportError as exc:
        raise DeliveryError("breachline.pii is not available: refusing to send unredacted text") from exc
    return redact


@cache
def _batch() -> Callable[[Sequence[str]], list[str]]:
    try:
        from breachline.pii import redact_texts
    except ImportError:
        single = _single()
        return lambda texts: [single(t) for t in texts]
    return lambda texts: [t if r is None else r for t, r in zip(texts, redact_texts(list(texts)), strict=True)]


def redact(text: object) -> str:
    """Mask PANs (first 6 / last 4), SSNs, e-mails, phones, IBANs and tokens in `text` (str() of it)."""
    s = text if isinstance(text, str) else str(text)
    collector: list[str] | None = getattr(_local, "collector", None)
    if collector is not None:
        collector.append(s)
        return s  # a dry run: its output is discarded, never sent
    with _lock:
        hit = _cache.get(s)
    if hit is not None:
        return hit
    misses: list[str] | None = getattr(_local, "misses", None)
    if misses is not None:
        misses.append(s)
        return s  # an optimistic run: the caller discards its output because of this miss
    out = _single()(s)
    _remember({s: out})
    return out


def prime(texts: Iterable[str]) -> None:
    """Redact many strings in one call and keep the results for the next `redact` calls."""
    with _lock:
        todo = sorted({t for t in texts if t not in _cache})
    if todo:
        _remember(dict(zip(todo, _batch()(todo), strict=True)))


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Within the block (this thread), `redact` records its input and returns it unchanged."""
    previous = getattr(_local, "collector", None)
    _local.collector = []
    try:
        yield _local.collector
    finally:
        _local.collector = previous


@contextmanager
def optimistic() -> Iterator[list[str]]:
    """Within the block, `redact` answers from the cache; a miss is recorded and answered unredacted, so the
    caller must discard everything rendered in the block if the list is not empty (then `prime` and redo)."""
    previous = getattr(_local, "misses", None)
    _local.misses = []
    try:
        yield _local.misses
    finally:
        _local.misses = previous


def _remember(results: dict[str, str]) -> None:
    with _lock:
        if len(_cache) + len(results) > _CACHE_LIMIT:
            _cache.clear()
        _cache.update(results)
